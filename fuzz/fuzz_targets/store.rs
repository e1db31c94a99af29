//! Fuzz target `store`: see `fuzz/harness/store.rs` for the properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    chat_fuzz::store::run_bytes(data);
});
