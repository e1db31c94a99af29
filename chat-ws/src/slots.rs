//! [`Sessions`]: the live sessions as the hub sees them (queues, close signals, ids), and the
//! back-pressure rule that slows senders before a reader is closed.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use chat_core::SessionId;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

use crate::auth::LoginId;
use crate::closers::Closers;
use crate::frame::{CloseNotice, OutFrame};
use crate::metrics::Metrics;
use crate::session::CloseSignal;

/// A session as the hub sees it.
struct Slot {
    tx: mpsc::Sender<Arc<OutFrame>>,
    close: Arc<CloseSignal>,
    /// Told to close: no more deliveries or inputs; removed when its link is dropped.
    closed: bool,
    /// Since when the hub holds back input for this reader (its queue passed the high mark).
    behind_since: Option<Instant>,
    /// It stayed behind for a whole `reader_grace`: it is not waited for again (a full queue
    /// closes it as a slow consumer).
    waited_out: bool,
}

impl Slot {
    fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }
}

/// Queue marks of the back-pressure rule (see `docs/design.md`, "Back-pressure").
#[derive(Debug, Clone, Copy)]
pub(crate) struct Marks {
    /// A reader whose queue holds more than this after a delivery is *behind*: the hub takes
    /// no new commands until it is back at `low` (a quarter of the queue).
    pub(crate) high: usize,
    /// Caught up again (an eighth of the queue).
    pub(crate) low: usize,
    /// Most `Deliver`s the hub carries out per batch (half the queue), so one batch cannot
    /// fill the queue of a reader that was at most `high`.
    pub(crate) per_batch: usize,
    /// How long the hub waits for one reader before it stops waiting for it.
    pub(crate) grace: Duration,
}

impl Marks {
    pub(crate) fn new(queue: usize, grace: Duration) -> Marks {
        let queue = queue.max(1);
        Marks { high: queue / 4, low: queue / 8, per_batch: (queue / 2).max(1), grace }
    }
}

/// The live sessions. Invariants: a session is in `slots` from `open` until its link's
/// disconnect (`remove`), and registered in the shared [`Closers`] exactly as long; ids are
/// never reused (not even after a restore); the `sessions` gauge equals `slots.len()`; a
/// session is in `behind` exactly when its `behind_since` is set.
pub(crate) struct Sessions {
    slots: HashMap<SessionId, Slot>,
    next: u64,
    queue: usize,
    marks: Marks,
    behind: Vec<SessionId>,
}

impl Sessions {
    pub(crate) fn new(queue: usize, grace: Duration) -> Sessions {
        let queue = queue.max(1);
        Sessions { slots: HashMap::new(), next: 1, queue, marks: Marks::new(queue, grace), behind: Vec::new() }
    }

    pub(crate) fn marks(&self) -> Marks {
        self.marks
    }

    /// The back-pressure gate: `None` when the hub may take new commands; otherwise when to
    /// look again at the latest (a reader behind for `grace` is waited out then). Readers that
    /// caught up (at most `low` queued), closed or gone leave the set.
    pub(crate) fn gate(&mut self, now: Instant, metrics: &Metrics) -> Option<Instant> {
        if self.behind.is_empty() {
            return None;
        }
        let (slots, marks) = (&mut self.slots, self.marks);
        let mut wake: Option<Instant> = None;
        self.behind.retain(|session| {
            let Some(slot) = slots.get_mut(session) else { return false };
            let Some(since) = slot.behind_since else { return false };
            let until = since + marks.grace;
            let keep = !slot.closed && slot.queued() > marks.low && now < until;
            if keep {
                wake = Some(wake.map_or(until, |w| w.min(until)));
            } else {
                if !slot.closed && slot.queued() > marks.low {
                    slot.waited_out = true;
                    Metrics::add(&metrics.readers_waited_out, 1);
                }
                slot.behind_since = None;
                slot.close.set_behind(false);
            }
            keep
        });
        wake
    }

    /// Mints an id and a queue for a new session. Returns the id, the queue's receiving end
    /// and the close signal.
    pub(crate) fn open(
        &mut self,
        login: Option<LoginId>,
        closers: &Closers,
        metrics: &Metrics,
    ) -> (SessionId, mpsc::Receiver<Arc<OutFrame>>, Arc<CloseSignal>) {
        let session = SessionId(self.next);
        self.next += 1;
        let (tx, events) = mpsc::channel(self.queue);
        let close = Arc::new(CloseSignal::default());
        self.slots
            .insert(session, Slot { tx, close: close.clone(), closed: false, behind_since: None, waited_out: false });
        closers.insert(session, close.clone(), login, CloseNotice::KICKED);
        Metrics::add(&metrics.connections, 1);
        metrics.sessions.store(self.slots.len() as u64, Relaxed);
        (session, events, close)
    }

    /// The session's link was dropped.
    pub(crate) fn remove(&mut self, session: SessionId, closers: &Closers, metrics: &Metrics) {
        if self.slots.remove(&session).is_some() {
            closers.remove(session);
            metrics.sessions.store(self.slots.len() as u64, Relaxed);
        }
    }

    /// Live and not told to close: its frames go to the core.
    pub(crate) fn is_open(&self, session: SessionId) -> bool {
        self.slots.get(&session).is_some_and(|s| !s.closed)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Tells a session to close and stops delivering to it.
    pub(crate) fn close(&mut self, session: SessionId, notice: CloseNotice) {
        if let Some(slot) = self.slots.get_mut(&session) {
            slot.closed = true;
            slot.close.close(notice);
        }
    }

    /// Tells every session to close.
    pub(crate) fn close_all(&mut self, notice: CloseNotice) {
        for slot in self.slots.values_mut() {
            slot.closed = true;
            slot.close.close(notice);
        }
    }

    /// Queues one shared frame to every recipient; returns how many got it. A full queue adds
    /// the session to `slow` (once); a queue past the high mark puts its reader *behind*.
    pub(crate) fn deliver(
        &mut self,
        now: Instant,
        sessions: &[SessionId],
        frame: &Arc<OutFrame>,
        slow: &mut Vec<SessionId>,
    ) -> u64 {
        let mut delivered = 0;
        for session in sessions {
            let Some(slot) = self.slots.get_mut(session) else { continue };
            if slot.closed {
                continue;
            }
            match slot.tx.try_send(frame.clone()) {
                Ok(()) => {
                    delivered += 1;
                    if slot.tx.capacity() < self.queue - self.marks.high
                        && slot.behind_since.is_none()
                        && !slot.waited_out
                    {
                        slot.behind_since = Some(now);
                        slot.close.set_behind(true);
                        self.behind.push(*session);
                    }
                }
                Err(TrySendError::Full(_)) => {
                    if !slow.contains(session) {
                        slow.push(*session);
                    }
                }
                Err(TrySendError::Closed(_)) => {}
            }
        }
        delivered
    }
}
