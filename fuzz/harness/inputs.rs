//! Harness for the `inputs` fuzz target (also replayed by `chat-core`'s corpus test): the core
//! driven by arbitrary `chat_core::Input`s, as an application's own fuzz target would.
//!
//! The inputs (the `arbitrary` feature: sessions, users and rooms from a small name space so they
//! collide) go through `chat_core::testing::sim::Sim`, which follows the driver contract through
//! `Chat::drain` / `Drain::commit` and panics on what only a driver sees (a delivery to a session
//! that is not live, two replies to one request). After every input: the journal's fold equals
//! the live state and holds the fold's invariants. At the end, the fold of the whole log does too.

use arbitrary::{Arbitrary, Unstructured};
use chat_core::testing::{assert_fold_invariants, sim::Sim};
use chat_core::{Config, Input, Snapshot};

/// At most this many inputs per fuzz input.
pub const MAX_INPUTS: usize = 300;

/// Decodes `data` as inputs (an exhausted input ends them) and runs them.
pub fn run_bytes(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let tight = bool::arbitrary(&mut u).unwrap_or(false);
    let mut inputs = Vec::<Input>::arbitrary_take_rest(u).unwrap_or_default();
    inputs.truncate(MAX_INPUTS);
    run(tight, inputs);
}

/// Runs `inputs` (with `tight` limits: small rooms, short messages, strict rates).
pub fn run(tight: bool, inputs: Vec<Input>) {
    let mut config = Config::default();
    if tight {
        config.max_room_members = 3;
        config.max_message_chars = 12;
        config.send_burst = 3;
        config.op_burst = 3;
        config.max_strikes = 4;
    }
    let mut sim = Sim::with_config(config);
    for input in inputs {
        sim.input(input);
        assert!(sim.journal().state() == sim.chat().snapshot(), "the journal's fold differs from the live state");
        assert_fold_invariants(sim.chat().snapshot());
    }
    assert!(&Snapshot::from_log(sim.journal().entries()) == sim.chat().snapshot(), "the fold of the whole log");
}
