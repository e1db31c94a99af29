//! Sessions: one connected client of one user, with its resume watermarks; the live sessions of
//! every user ([`Sessions`]); and the rate buckets every user's sessions and requests share
//! ([`RateLimits`]).

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

    fn refill(&mut self, now: Timestamp) {
        let elapsed = now.millis_since(self.last);
        self.last = self.last.max(now);
        let refill = elapsed.saturating_mul(self.per_sec);
        self.milli_tokens = (self.milli_tokens.saturating_add(refill)).min(self.burst * 1000);
    }

    /// Takes a token if there is one.
    pub(crate) fn try_take(&mut self, now: Timestamp) -> bool {
        self.refill(now);
        if self.milli_tokens >= 1000 {
            self.milli_tokens -= 1000;
            true
        } else {
            false
        }
    }

    /// Whether the bucket is full at `now` (then it is the same as a fresh one).
    fn is_full(&mut self, now: Timestamp) -> bool {
        self.refill(now);
        self.milli_tokens >= self.burst * 1000
    }
}

/// Ephemeral state of one session.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) user: UserName,
    /// This session alone as a recipient list, shared by every reply so replies allocate no
    /// list of their own.
    pub(crate) only: Arc<[SessionId]>,
    /// Latest `(seq, rev)` per room at the time the session connected (or joined the room):
    /// messages and events after it are delivered live, so `resume` resends only up to it.
    pub(crate) watermarks: FxHashMap<RoomKey, (u64, u64)>,
    /// Consecutive refused-for-rate frames; too many closes the session.
    pub(crate) strikes: u32,
    /// The user's [`RateLimits`] slot.
    pub(crate) bucket: usize,
}

/// Every live session, and each user's live sessions in connect order.
///
/// Invariant: a session is in `by_id` exactly when it is in its user's `by_user` list, and no
/// user has an empty list (so "online" is "has an entry").
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    by_id: FxHashMap<SessionId, Session>,
    by_user: FxHashMap<UserName, Vec<SessionId>>,
}

/// A connect the sessions cap refused.
pub(crate) struct TooManySessions;

impl Sessions {
    /// Adds a session of `user` (drawing from rate-bucket slot `bucket`) unless it already has
    /// `max` live sessions. Returns whether the user came online (this is their only session).
    pub(crate) fn insert(
        &mut self,
        id: SessionId,
        user: UserName,
        max: usize,
        bucket: usize,
    ) -> Result<bool, TooManySessions> {
        if !self.has_room_for(&user, max) {
            return Err(TooManySessions);
        }
        let watermarks = FxHashMap::default();
        let session = Session { user: user.clone(), only: Arc::from([id]), watermarks, strikes: 0, bucket };
        self.by_id.insert(id, session);
        let list = self.by_user.entry(user).or_default();
        list.push(id);
        Ok(list.len() == 1)
    }

    /// Removes a session. Returns it and whether its user went offline (it was their last).
    pub(crate) fn remove(&mut self, id: SessionId) -> Option<(Session, bool)> {
        let session = self.by_id.remove(&id)?;
        let went_offline = match self.by_user.get_mut(&session.user) {
            Some(list) => {
                list.retain(|s| *s != id);
                list.is_empty()
            }
            None => false,
        };
        if went_offline {
            self.by_user.remove(&session.user);
        }
        Some((session, went_offline))
    }

    pub(crate) fn get(&self, id: &SessionId) -> Option<&Session> {
        self.by_id.get(id)
    }

    pub(crate) fn get_mut(&mut self, id: &SessionId) -> Option<&mut Session> {
        self.by_id.get_mut(id)
    }

    pub(crate) fn contains_key(&self, id: &SessionId) -> bool {
        self.by_id.contains_key(id)
    }

    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Live sessions of `user`, in connect order.
    pub(crate) fn of(&self, user: &UserName) -> &[SessionId] {
        self.by_user.get(user).map_or(&[], Vec::as_slice)
    }

    pub(crate) fn is_online(&self, user: &UserName) -> bool {
        self.by_user.contains_key(user)
    }

    /// Whether `user` may open another session under a cap of `max`.
    pub(crate) fn has_room_for(&self, user: &UserName, max: usize) -> bool {
        self.of(user).len() < max.max(1)
    }

    /// Runs `f` on every live session of `user`.
    pub(crate) fn for_each_of(&mut self, user: &UserName, mut f: impl FnMut(&mut Session)) {
        let Sessions { by_id, by_user } = self;
        for id in by_user.get(user).map_or(&[][..], Vec::as_slice) {
            if let Some(s) = by_id.get_mut(id) {
                f(s);
            }
        }
    }
}

/// The rate buckets of one user: shared by all their sessions and their sessionless requests.
#[derive(Debug, Clone)]
struct Buckets {
    sends: RateLimit,
    ops: RateLimit,
}

/// Which bucket a frame draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bucket {
    /// `send_message`.
    Send,
    /// Everything else.
    Op,
}

/// Rates and bursts of the two buckets.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rates {
    pub(crate) send_per_sec: u32,
    pub(crate) send_burst: u32,
    pub(crate) op_per_sec: u32,
    pub(crate) op_burst: u32,
}

/// Per-user rate buckets, in slots: a live session keeps its user's slot number, so taking a
/// token on the hot path is an index, not a hash lookup by name. A user's slot is freed only
/// when their last session goes and the buckets are full again (a full bucket is the same as a
/// fresh one), so reconnecting never refills a bucket faster than time does.
///
/// Invariant: `by_user` and the occupied slots are a bijection; `free` lists the others.
#[derive(Debug, Default)]
pub(crate) struct RateLimits {
    slots: Vec<Buckets>,
    by_user: FxHashMap<UserName, usize>,
    free: Vec<usize>,
}

impl RateLimits {
    /// `user`'s slot, made (with full buckets) if they have none.
    pub(crate) fn slot(&mut self, now: Timestamp, user: &UserName, rates: Rates) -> usize {
        if let Some(&slot) = self.by_user.get(user) {
            return slot;
        }
        let fresh = Buckets {
            sends: RateLimit::new(now, rates.send_per_sec, rates.send_burst),
            ops: RateLimit::new(now, rates.op_per_sec, rates.op_burst),
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = fresh;
                slot
            }
            None => {
                self.slots.push(fresh);
                self.slots.len() - 1
            }
        };
        self.by_user.insert(user.clone(), slot);
        slot
    }

    /// Takes a token from the slot's bucket.
    pub(crate) fn try_take(&mut self, now: Timestamp, slot: usize, bucket: Bucket) -> bool {
        let Some(b) = self.slots.get_mut(slot) else { return true };
        match bucket {
            Bucket::Send => b.sends.try_take(now),
            Bucket::Op => b.ops.try_take(now),
        }
    }

    /// Frees `user`'s slot if both buckets are full again (nothing to remember). Call only when
    /// no live session holds the slot.
    pub(crate) fn forget_if_full(&mut self, now: Timestamp, user: &UserName) {
        let Some(&slot) = self.by_user.get(user) else { return };
        let b = &mut self.slots[slot];
        if b.sends.is_full(now) && b.ops.is_full(now) {
            self.by_user.remove(user);
            self.free.push(slot);
        }
    }
}
