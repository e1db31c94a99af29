//! [`SessionLink`]: one live session's end of the hub, for adapters and embedders.

use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, OnceLock};

use chat_core::{ClientMsg, SessionId};
use tokio::sync::{Notify, mpsc};

use crate::frame::{CloseNotice, OutFrame, SessionEvent};
use crate::hub::{Command, HubError};

/// A one-shot close flag that the hub (or `kick`) sets and the session's pump waits on. It is
/// separate from the event queue so a full queue can still be closed. Also carries the hub's
/// "behind" flag: set while the hub holds back input until this reader catches up.
#[derive(Debug, Default)]
pub(crate) struct CloseSignal {
    notice: OnceLock<CloseNotice>,
    notify: Notify,
    behind: AtomicBool,
}

impl CloseSignal {
    pub(crate) fn set_behind(&self, behind: bool) {
        self.behind.store(behind, Relaxed);
    }

    pub(crate) fn is_behind(&self) -> bool {
        self.behind.load(Relaxed)
    }

    /// Sets the notice (the first one wins) and wakes the waiter.
    pub(crate) fn close(&self, notice: CloseNotice) {
        if self.notice.set(notice).is_ok() {
            // `notify_one` stores a permit when nobody waits yet, so no wake-up is lost.
            self.notify.notify_one();
        }
    }

    pub(crate) fn get(&self) -> Option<CloseNotice> {
        self.notice.get().copied()
    }

    /// Resolves once the session has been told to close.
    pub(crate) async fn wait(&self) -> CloseNotice {
        loop {
            if let Some(notice) = self.get() {
                return notice;
            }
            self.notify.notified().await;
        }
    }
}

/// A live session: its id, its bounded queue of outbound events, and the way to send client
/// frames to the hub. Returned by [`HubHandle::connect`](crate::HubHandle::connect).
///
/// Dropping it disconnects the session (the hub sees `Input::Disconnect` exactly once).
#[derive(Debug)]
pub struct SessionLink {
    pub(crate) id: SessionId,
    pub(crate) events: mpsc::Receiver<Arc<OutFrame>>,
    pub(crate) close: Arc<CloseSignal>,
    pub(crate) inbox: mpsc::Sender<Command>,
    pub(crate) disconnects: mpsc::UnboundedSender<SessionId>,
}

impl SessionLink {
    /// The session id the hub minted.
    pub fn id(&self) -> SessionId {
        self.id
    }

    /// The next event. A close from the hub takes priority over queued events; after
    /// [`SessionEvent::Close`] the session is over (further calls return the same close).
    pub async fn recv(&mut self) -> SessionEvent {
        if let Some(notice) = self.close.get() {
            return SessionEvent::Close(notice);
        }
        tokio::select! {
            biased;
            notice = self.close.wait() => SessionEvent::Close(notice),
            frame = self.events.recv() => match frame {
                Some(frame) => SessionEvent::Frame(frame),
                // The hub dropped the queue: it stopped.
                None => SessionEvent::Close(self.close.get().unwrap_or(CloseNotice::GOING_AWAY)),
            },
        }
    }

    /// An event that is ready now, without waiting (for batching writes). `None` when the
    /// queue is empty or the session is closing.
    pub fn try_recv(&mut self) -> Option<Arc<OutFrame>> {
        if self.close.get().is_some() {
            return None;
        }
        self.events.try_recv().ok()
    }

    /// Sends a client frame to the hub. Waits while the hub's inbox is full (back-pressure:
    /// the caller should stop reading its transport meanwhile).
    pub async fn send(&self, msg: ClientMsg) -> Result<(), HubError> {
        self.inbox.send(Command::Receive { session: self.id, msg }).await.map_err(|_| HubError::Closed)
    }

    /// Events queued and not yet taken.
    pub fn queued(&self) -> usize {
        self.events.len()
    }

    /// Whether the hub waits for this session to catch up before it takes new input.
    pub(crate) fn is_behind(&self) -> bool {
        self.close.is_behind()
    }

    /// Resolves when the hub has told this session to close (without consuming events).
    pub async fn closed(&self) -> CloseNotice {
        self.close.wait().await
    }
}

impl Drop for SessionLink {
    fn drop(&mut self) {
        // One message per session, so this channel holds at most one entry per live session.
        let _ = self.disconnects.send(self.id);
    }
}
