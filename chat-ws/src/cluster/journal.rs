//! The leader's journal: a group commit is published to the log (fenced) and only then committed
//! to the local store. The hub runs it on its journal thread, like any journal, so the hub
//! delivers and acknowledges nothing before the log has the batch (driver rule 2).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_nats::jetstream::context::Context;
use chat_core::{HistoryQuery, Journal, LogEntry, Message, Snapshot};
use chat_store::Store;
use tokio::sync::Notify;

use super::log::{fold_into, publish, records};
use super::{ClusterError, Names, SharedCounters};

/// Set once the leader must stop: the log refused a record (another leader appended), a
/// publish kept failing, or the local store failed after the log took the batch. From then on
/// every append fails, so nothing more is acknowledged, and the node steps down.
#[derive(Debug, Default)]
pub(crate) struct Fence {
    down: AtomicBool,
    notify: Notify,
}

impl Fence {
    pub(crate) fn trip(&self) {
        if !self.down.swap(true, Ordering::SeqCst) {
            self.notify.notify_one();
        }
    }

    pub(crate) fn is_tripped(&self) -> bool {
        self.down.load(Ordering::SeqCst)
    }

    pub(crate) async fn tripped(&self) {
        while !self.is_tripped() {
            self.notify.notified().await;
        }
    }
}

/// The journal of the hub a leader runs.
pub(crate) struct ClusterJournal {
    pub(crate) store: Store,
    pub(crate) js: Context,
    pub(crate) names: Names,
    pub(crate) node: String,
    pub(crate) epoch: u64,
    /// The log position the store is at (every record up to it is folded in).
    pub(crate) position: u64,
    pub(crate) runtime: tokio::runtime::Handle,
    pub(crate) fence: Arc<Fence>,
    pub(crate) counters: SharedCounters,
}

impl Journal for ClusterJournal {
    type Error = ClusterError;

    fn append(&mut self, entries: &[LogEntry]) -> Result<(), ClusterError> {
        if self.fence.is_tripped() {
            return Err(ClusterError::Deposed);
        }
        let result = self.publish_and_fold(entries);
        if result.is_err() {
            self.fence.trip();
        }
        result
    }

    fn snapshot(&self) -> Result<Snapshot, ClusterError> {
        Ok(self.store.snapshot()?)
    }

    fn history(&self, query: &HistoryQuery) -> Result<Vec<Message>, ClusterError> {
        Ok(self.store.history(query)?)
    }
}

impl ClusterJournal {
    /// Runs on the hub's journal thread (not an async worker), so it may block on the runtime.
    fn publish_and_fold(&mut self, entries: &[LogEntry]) -> Result<(), ClusterError> {
        for payload in records(self.epoch, &self.node, entries)? {
            let publish = publish(&self.js, &self.names, &self.node, self.epoch, self.position, payload);
            self.position = self.runtime.block_on(publish)?;
        }
        fold_into(&mut self.store, entries, self.position)?;
        self.counters.positioned(self.position);
        Ok(())
    }
}
