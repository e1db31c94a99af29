//! Fuzz target `inputs`: see `fuzz/harness/inputs.rs` for the properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| chat_fuzz::inputs::run_bytes(data));
