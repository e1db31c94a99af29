//! Harness for the `model_ops` fuzz target (also replayed by `chat-core`'s corpus test).
//!
//! An arbitrary trace of `chat_core::testing::strategy::Op`s (the `arbitrary` feature derives
//! it) played by `chat_core::testing::model::run`: the simulator drives the core through the
//! driver step, and the naive reference model is checked after every op (delivery exactly once
//! and in order to members only, gap-free seq, counts equal a recount, journal fold equal to the
//! live state, restore equivalence at the end). The property-test strategies and this target
//! share one model; the fuzzer explores what proptest's weights rarely reach.

use arbitrary::{Arbitrary, Unstructured};
use chat_core::testing::model;
use chat_core::testing::strategy::Op;

/// At most this many ops per input.
pub const MAX_OPS: usize = 200;

/// Decodes `data` as a trace (an exhausted input ends it) and runs it.
pub fn run_bytes(data: &[u8]) {
    let mut ops = Vec::<Op>::arbitrary_take_rest(Unstructured::new(data)).unwrap_or_default();
    ops.truncate(MAX_OPS);
    model::run(&ops);
}
