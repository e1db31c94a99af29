//! Garbage collection: every `gc_interval`, the files that no non-deleted message references and
//! that nobody uploaded, claimed (resolved for a `send_message`) or released (deleted a message
//! holding them) within `grace` are forgotten by the store and deleted from the directory.
//!
//! Why no message can lose its file: resolving the ids of a `send_message` touches each file in
//! the store before the core persists the message, and the refs rows are written in the same
//! transaction as the message; a collection in between sees a recent touch and skips the file.
//! Renames into place and collections hold the same lock, so an upload of the same bytes
//! cannot interleave with their deletion. A backup pauses collection while it copies files.

use std::sync::Arc;

use tokio::sync::watch;

use super::upload::blocking;
use super::{Attachments, sync_dir};

/// Files forgotten per store transaction.
const BATCH: usize = 1_000;

/// Runs [`Attachments::collect`] every `gc_interval` until `stop` turns true.
pub(crate) async fn collect_loop(service: Arc<Attachments>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(service.config.gc_interval) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        service.collect().await;
    }
}

impl Attachments {
    /// One collection; returns how many files it removed.
    pub(crate) async fn collect(&self) -> usize {
        let _commit = self.commit.lock().await;
        if self.collection_paused() {
            // A backup is copying the files of its tables; the next round collects.
            return 0;
        }
        let grace_ms = u64::try_from(self.config.grace.as_millis()).unwrap_or(u64::MAX);
        let now = crate::accounts::now_ms();
        let store = self.store.clone();
        let ids = match blocking(move || store.collect_attachments(now, grace_ms, BATCH)).await {
            Ok(ids) => ids,
            Err(e) => {
                tracing::warn!(error = %e.message, "attachment collection failed");
                return 0;
            }
        };
        for id in &ids {
            for path in [self.file(id), self.thumb(id)] {
                if let Err(e) = std::fs::remove_file(&path)
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    tracing::warn!(path = %path.display(), error = %e, "cannot remove a collected attachment");
                }
            }
        }
        if !ids.is_empty() {
            let _ = sync_dir(&self.dir);
            tracing::info!(files = ids.len(), "collected unreferenced attachments");
        }
        ids.len()
    }
}
