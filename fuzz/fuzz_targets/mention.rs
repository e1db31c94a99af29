//! Fuzz target `mention`: see `fuzz/harness/mention.rs` for the properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| chat_fuzz::mention::check(data));
