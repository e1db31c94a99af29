//! Fuzz target `core_ops`: see `fuzz/harness/core_ops.rs` for the properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    chat_fuzz::core_ops::run_bytes(data);
});
