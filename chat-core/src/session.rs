//! Sessions: one connected client of one user, with its rate limits and resume watermarks.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::hash::FxHashMap;
use crate::name::UserName;
use crate::room::RoomKey;
use crate::time::Timestamp;

/// A connected client. Minted by the driver; unique among live sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(pub u64);

/// A token bucket refilled by the time the driver passes in.
#[derive(Debug, Clone)]
pub(crate) struct RateLimit {
    /// Tokens in thousandths.
    milli_tokens: u64,
    last: Timestamp,
    per_sec: u64,
    burst: u64,
}

impl RateLimit {
    pub(crate) fn new(now: Timestamp, per_sec: u32, burst: u32) -> RateLimit {
        let burst = u64::from(burst.max(1));
        RateLimit { milli_tokens: burst * 1000, last: now, per_sec: u64::from(per_sec), burst }
    }

    /// Takes a token if there is one.
    pub(crate) fn try_take(&mut self, now: Timestamp) -> bool {
        let elapsed = now.millis_since(self.last);
        self.last = self.last.max(now);
        let refill = elapsed.saturating_mul(self.per_sec);
        self.milli_tokens = (self.milli_tokens.saturating_add(refill)).min(self.burst * 1000);
        if self.milli_tokens >= 1000 {
            self.milli_tokens -= 1000;
            true
        } else {
            false
        }
    }
}

/// Ephemeral state of one session.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) user: UserName,
    /// This session alone as a recipient list, shared by every reply so replies allocate no
    /// list of their own.
    pub(crate) only: Arc<[SessionId]>,
    /// Latest `seq` per room at the time the session connected (or joined the room): messages
    /// after it are delivered live, so `resume` resends only up to it.
    pub(crate) watermarks: FxHashMap<RoomKey, u64>,
    pub(crate) sends: RateLimit,
    pub(crate) ops: RateLimit,
    /// Consecutive refused-for-rate frames; too many closes the session.
    pub(crate) strikes: u32,
}
