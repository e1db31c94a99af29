//! A testing kit for code that embeds the core (the `testing` feature, off by default).
//!
//! What chat-core's own tests and fuzz targets run on, for your tests of an application, a
//! driver or a [`Journal`](crate::Journal) of your own:
//! - [`sim`]: a deterministic virtual-time simulator: many sessions, one clock, any journal, and
//!   a driver that follows the contract of the crate docs through the real driver step
//!   ([`Chat::drain`](crate::Chat::drain), [`Drain::commit`](crate::Drain::commit));
//! - [`model`]: a naive reference model and its check, run after every operation of a trace:
//!   delivery exactly once, in order, to members only; gap-free `seq`; unread and highlight
//!   counts equal to a recount; the journal's fold equal to the live state;
//! - [`strategy`]: proptest strategies for operation traces, to compose with your own;
//! - [`presence`]: a client's view of membership and presence built from the deltas it received,
//!   and a check that it always equals the truth;
//! - [`driver`]: the driver conformance check ([`driver_conformance`]): a driver of your own
//!   against the five rules of the driver contract, restore on commit failure included;
//! - [`journal`]: the journal conformance suite ([`journal_conformance`]), for a
//!   [`Journal`](crate::Journal) of your own;
//! - `arbitrary` (with the `arbitrary` feature): `Arbitrary` for `ClientMsg`, `Input` and
//!   operation traces, for `cargo fuzz` targets;
//! - [`assert_fold_invariants`]: the fold's own invariants, for any [`Snapshot`](crate::Snapshot).
//!
//! `docs/testing.md` ("Testing your integration") shows how to use each.

#[cfg(feature = "arbitrary")]
pub mod arbitrary;
pub mod driver;
mod fold;
pub mod journal;
pub mod model;
pub mod presence;
pub mod sim;
pub mod strategy;

pub use driver::driver_conformance;
pub use fold::assert_fold_invariants;
pub use journal::journal_conformance;
/// The proptest the strategies are built with, so your tests compose them with the same version.
pub use proptest;
