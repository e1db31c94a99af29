//! Time as the core sees it: a number the driver passes in.

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch, as told by the driver.
///
/// The core never reads a clock. Every [`Chat::handle`](crate::Chat::handle) call carries the
/// current time; the core clamps it so that it never goes backwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The timestamp `ms` milliseconds later (saturating).
    pub fn plus_millis(self, ms: u64) -> Timestamp {
        Timestamp(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to `self`, zero if `earlier` is later.
    pub fn millis_since(self, earlier: Timestamp) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}
