//! Fuzz target `model_ops`: see `fuzz/harness/model_ops.rs` for the properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| chat_fuzz::model_ops::run_bytes(data));
