//! Fuzz target `decode_client`: see `fuzz/harness/decode_client.rs` for the properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| chat_fuzz::decode_client::check(data));
