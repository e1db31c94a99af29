//! Presence and membership as deltas, checked against the truth (`chat_core::testing::presence`):
//! a session that applies what it received always knows exactly who is in each of its rooms and
//! who of them is online; a connect or disconnect costs each other session at most one event.

use chat_core::testing::{presence, strategy};
use proptest::prelude::*;

proptest! {
    #[test]
    fn every_session_knows_exactly_who_is_in_its_rooms_and_online(
        ops in proptest::collection::vec(strategy::presence_op(), 1..60),
    ) {
        presence::run(&ops);
    }
}
