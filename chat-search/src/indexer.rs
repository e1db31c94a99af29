//! [`Indexer`]: the background thread that keeps the index up to date, off the commit path.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chat_core::{HistoryQuery, HistoryRange, Journal, LogEntry, Message, RoomKey};

use crate::error::{IndexError, RebuildError};
use crate::index::{Opened, SearchIndex};
use crate::rebuild::{REBUILD_PAGE, Rebuild, apply_stored};
use crate::search::SearchReader;

/// Tuning of an [`Indexer`]. Every field bounds something.
#[derive(Debug, Clone)]
pub struct IndexerConfig {
    /// Capacity of the channel from the driver, in operations (one per message entry).
    pub queue: usize,
    /// How many `(room, seq)` keys that did not fit the channel are remembered for catch-up;
    /// beyond that the index is rebuilt instead.
    pub backlog: usize,
    /// Commit (make new messages searchable) at least this often while there are writes.
    pub commit_interval: Duration,
    /// ... and whenever this many writes are pending.
    pub commit_ops: usize,
}

impl Default for IndexerConfig {
    fn default() -> IndexerConfig {
        IndexerConfig {
            queue: 16_384,
            backlog: 100_000,
            commit_interval: Duration::from_millis(500),
            commit_ops: 20_000,
        }
    }
}

enum Op {
    Index(Arc<Message>),
    /// An edit of `(room, seq)`: indexed again as the journal holds it now (an edit entry
    /// carries the new text, not the attachments the document also holds).
    Reindex(RoomKey, u64),
    Remove(RoomKey, u64),
    Flush(SyncSender<()>),
    Stop,
}

#[derive(Default)]
struct Backlog {
    keys: BTreeSet<(RoomKey, u64)>,
    /// More keys overflowed than fit: rebuild everything.
    rebuild: bool,
}

struct Shared {
    backlog: Mutex<Backlog>,
    /// Set while the backlog is non-empty (the indexer checks it without locking).
    overflowed: AtomicBool,
    /// The indexer thread is gone (its channel is closed).
    gone: AtomicBool,
    capacity: usize,
}

/// The driver's side of an [`Indexer`]: cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub struct IndexerHandle {
    tx: SyncSender<Op>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for IndexerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexerHandle").finish_non_exhaustive()
    }
}

impl IndexerHandle {
    /// Feeds entries the journal has committed (call it only after a successful commit, in
    /// commit order). Never blocks: see [`Indexer`] for what happens when the
    /// channel is full.
    pub fn committed(&self, entries: &[LogEntry]) {
        for entry in entries {
            match entry {
                LogEntry::Message(m) => self.send(Op::Index(m.clone()), &m.room, m.seq),
                LogEntry::Edited(e) => self.send(Op::Reindex(e.room.clone(), e.seq), &e.room, e.seq),
                LogEntry::Deleted(d) => self.send(Op::Remove(d.room.clone(), d.seq), &d.room, d.seq),
                // Reactions, reads, membership: nothing to index.
                _ => {}
            }
        }
    }

    /// Removes `(room, seq)` from the index. The store must already reflect the removal (a
    /// catch-up after a full channel reads the message's stored state, and removes a seq the
    /// store no longer answers).
    pub fn remove(&self, room: &RoomKey, seq: u64) {
        self.send(Op::Remove(room.clone(), seq), room, seq);
    }

    fn send(&self, op: Op, room: &RoomKey, seq: u64) {
        match self.tx.try_send(op) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                let mut backlog = self.shared.backlog.lock().unwrap_or_else(|e| e.into_inner());
                if !self.shared.overflowed.swap(true, Ordering::AcqRel) {
                    tracing::warn!("search indexer queue full: catching up from the store");
                }
                if backlog.rebuild {
                    return;
                }
                backlog.keys.insert((room.clone(), seq));
                if backlog.keys.len() > self.shared.capacity {
                    tracing::warn!(keys = backlog.keys.len(), "search indexer backlog full: the index will be rebuilt");
                    backlog.keys.clear();
                    backlog.rebuild = true;
                }
            }
            Err(TrySendError::Disconnected(_)) => {
                // The indexer stopped (or died); its running marker stays, so the next start
                // rebuilds. Say so once.
                if !self.shared.gone.swap(true, Ordering::AcqRel) {
                    tracing::error!("search indexer is not running: entries are left for the next rebuild");
                }
            }
        }
    }

    /// Blocks until every entry fed before (including any backlog, and any rebuild in
    /// progress) is committed and visible to readers. For tests, benchmarks and shutdown; never
    /// call it on the commit path. `false` if the indexer is gone.
    pub fn flush(&self) -> bool {
        let (tx, rx) = mpsc::sync_channel(1);
        self.tx.send(Op::Flush(tx)).is_ok() && rx.recv().is_ok()
    }
}

/// A thread that owns the [`SearchIndex`] writer: applies committed entries, commits in
/// batches, catches up from the journal after an overflow, and rebuilds when the index was
/// missing, damaged, of another version or left by a crash. Queries go through
/// [`reader`](Indexer::reader) on any thread.
///
/// The driver calls [`IndexerHandle::committed`] with each batch of entries after the journal
/// committed it. That call never blocks and never fails: it puts one operation per message entry
/// on a bounded channel. **When the channel is full** the operation is not queued; its
/// `(room, seq)` goes into a bounded backlog instead, the index is marked stale (hits carry
/// [`SearchPage::stale`](crate::SearchPage)), and once the channel is drained the indexer reads
/// those messages back from the journal (their current state) and indexes them. If the backlog
/// itself overflows ([`IndexerConfig::backlog`]), the indexer forgets the keys and rebuilds the
/// whole index from the journal instead. So no entry is lost silently: an entry is either
/// queued, in the backlog, or covered by a rebuild, and every overflow is logged.
///
/// Crashes: while an indexer runs, a marker file sits in the index directory; a clean
/// [`shutdown`](Indexer::shutdown) removes it after the last commit. An index opened with the
/// marker present (the process died with entries not yet committed to the index) reports
/// [`RebuildReason::Unclean`](crate::RebuildReason) and the next indexer rebuilds it in the
/// background, the old contents staying searchable meanwhile.
pub struct Indexer {
    handle: IndexerHandle,
    reader: SearchReader,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Indexer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Indexer").finish_non_exhaustive()
    }
}

impl Indexer {
    /// Starts the indexer on `opened` (from [`SearchIndex::open`]), reading stored messages
    /// from `journal` for rebuilds and catch-up. Returns at once: a rebuild runs in the
    /// background, and queries answer (with `stale: true`) meanwhile.
    pub fn spawn<J>(opened: Opened, journal: J, config: IndexerConfig) -> Result<Indexer, IndexError>
    where
        J: Journal + Send + 'static,
    {
        let Opened { index, rebuild } = opened;
        index.set_running(true)?;
        let (tx, rx) = mpsc::sync_channel(config.queue.max(1));
        let shared = Arc::new(Shared {
            backlog: Mutex::new(Backlog::default()),
            overflowed: AtomicBool::new(false),
            gone: AtomicBool::new(false),
            capacity: config.backlog,
        });
        let reader = index.reader();
        let worker = Worker {
            index: Some(index),
            journal,
            rx,
            shared: shared.clone(),
            config,
            rebuild: None,
            want_rebuild: rebuild.is_some(),
            verify: !matches!(rebuild, Some(crate::RebuildReason::Missing | crate::RebuildReason::OtherVersion)),
            retry_at: None,
            failed: false,
            last_commit: Instant::now(),
        };
        if let Some(reason) = &rebuild {
            tracing::info!(?reason, "search index needs a rebuild; it runs in the background");
        }
        let thread = std::thread::Builder::new()
            .name("chat-search".into())
            .spawn(move || worker.run())
            .map_err(|e| IndexError::Tantivy(tantivy::TantivyError::SystemError(e.to_string())))?;
        Ok(Indexer { handle: IndexerHandle { tx, shared }, reader, thread: Some(thread) })
    }

    /// The handle the driver feeds.
    pub fn handle(&self) -> IndexerHandle {
        self.handle.clone()
    }

    /// A reader for queries.
    pub fn reader(&self) -> SearchReader {
        self.reader.clone()
    }

    /// Applies what is queued, commits, and stops the thread. The running marker is removed
    /// only if nothing is left behind (no backlog, no unfinished rebuild, no failed write).
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = self.handle.tx.send(Op::Stop);
            if thread.join().is_err() {
                tracing::error!("search indexer thread panicked");
            }
        }
    }
}

impl Drop for Indexer {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Worker<J> {
    /// `None` only for the moment of a reset.
    index: Option<SearchIndex>,
    journal: J,
    rx: Receiver<Op>,
    shared: Arc<Shared>,
    config: IndexerConfig,
    rebuild: Option<Rebuild>,
    want_rebuild: bool,
    verify: bool,
    /// After a journal or index failure, background work waits until then.
    retry_at: Option<Instant>,
    /// A write failed: something may be missing, keep the marker for the next start.
    failed: bool,
    last_commit: Instant,
}

/// Live operations applied between two background steps.
const BATCH: usize = 1_024;

impl<J: Journal> Worker<J> {
    fn index(&mut self) -> &mut SearchIndex {
        self.index.as_mut().expect("the index is only taken during a reset")
    }

    fn run(mut self) {
        if self.verify {
            self.verify_files();
        }
        loop {
            let busy = self.background_pending();
            let wait = if busy { Duration::ZERO } else { self.config.commit_interval };
            match self.rx.recv_timeout(wait) {
                Ok(op) => {
                    if !self.apply(op) {
                        break;
                    }
                    for _ in 0..BATCH {
                        match self.rx.try_recv() {
                            Ok(op) => {
                                if !self.apply(op) {
                                    return self.finish();
                                }
                            }
                            Err(_) => break,
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            self.maybe_commit(false);
            if busy {
                self.background_step();
            }
        }
        self.finish();
    }

    fn verify_files(&mut self) {
        let Some(index) = self.index.as_ref() else { return };
        if let Err(why) = index.verify() {
            tracing::warn!(%why, "search index damaged: clearing it and rebuilding");
            let index = self.index.take().expect("checked above");
            match index.reset() {
                Ok(index) => {
                    if let Err(e) = index.set_running(true) {
                        tracing::error!(error = %e, "search index marker");
                    }
                    self.index = Some(index);
                    self.want_rebuild = true;
                }
                Err(e) => {
                    // Nothing to write to: stop; the driver's feeds go nowhere, logged once.
                    tracing::error!(error = %e, "search index could not be recreated; search is off");
                    self.failed = true;
                }
            }
        }
    }

    fn background_pending(&self) -> bool {
        if self.index.is_none() || self.retry_at.is_some_and(|t| Instant::now() < t) {
            return false;
        }
        self.rebuild.is_some() || self.want_rebuild || self.shared.overflowed.load(Ordering::Acquire)
    }

    /// `false` to stop.
    fn apply(&mut self, op: Op) -> bool {
        if self.index.is_none() {
            return !matches!(op, Op::Stop);
        }
        let result = match op {
            Op::Index(m) => self.index().index(&m),
            Op::Reindex(room, seq) => return self.reindex(room, seq),
            Op::Remove(room, seq) => {
                self.index().remove(&room, seq);
                Ok(())
            }
            Op::Flush(done) => {
                self.retry_at = None;
                while self.background_pending() {
                    self.background_step();
                }
                self.maybe_commit(true);
                let _ = done.send(());
                Ok(())
            }
            Op::Stop => return false,
        };
        if let Err(e) = result {
            self.write_failed(&e);
        }
        true
    }

    /// Indexes `(room, seq)` as the journal holds it now (removed if it holds a tombstone or
    /// nothing). The journal has committed the entry that asked for this, so it is at least as
    /// new; a later entry of the same message, still queued, reads the same state again.
    fn reindex(&mut self, room: RoomKey, seq: u64) -> bool {
        let query = HistoryQuery { room: room.clone(), range: HistoryRange::After(seq.saturating_sub(1)), limit: 1 };
        match self.journal.history(&query) {
            Ok(page) => {
                let index = self.index();
                let result = match page.iter().find(|m| m.seq == seq) {
                    Some(m) => apply_stored(index, m),
                    None => {
                        index.remove(&room, seq);
                        Ok(())
                    }
                };
                if let Err(e) = result {
                    self.write_failed(&e);
                }
            }
            Err(e) => self.journal_failed(&e),
        }
        true
    }

    fn write_failed(&mut self, e: &IndexError) {
        tracing::error!(error = %e, "search index write failed; the index will be rebuilt");
        self.failed = true;
        self.want_rebuild = true;
        self.retry_at = Some(Instant::now() + Duration::from_secs(5));
    }

    fn maybe_commit(&mut self, now: bool) {
        let Some(index) = self.index.as_mut() else { return };
        let due =
            index.pending() >= self.config.commit_ops || self.last_commit.elapsed() >= self.config.commit_interval;
        if index.pending() > 0 && (now || due) {
            self.last_commit = Instant::now();
            if let Err(e) = index.commit() {
                self.write_failed(&e);
            }
        }
    }

    /// One page of a rebuild, or the whole backlog.
    fn background_step(&mut self) {
        if self.rebuild.is_none() && (self.want_rebuild || self.take_rebuild_flag()) {
            match self.journal.snapshot() {
                Ok(snapshot) => {
                    let rooms = snapshot.rooms().map(|(room, _)| room.clone());
                    self.rebuild = Some(Rebuild::new(rooms));
                    self.want_rebuild = false;
                    self.index().set_stale(true);
                }
                Err(e) => return self.journal_failed(&e),
            }
        }
        if let Some(mut rebuild) = self.rebuild.take() {
            let index = self.index.as_mut().expect("background work needs the index");
            match rebuild.step(index, &self.journal) {
                Ok(true) => self.rebuild = Some(rebuild),
                Ok(false) => {
                    self.last_commit = Instant::now();
                    if !self.shared.overflowed.load(Ordering::Acquire) {
                        self.index().set_stale(false);
                    }
                }
                Err(RebuildError::Journal(e)) => self.journal_failed(&e),
                Err(RebuildError::Index(e)) => self.write_failed(&e),
            }
            return;
        }
        self.catch_up();
    }

    fn take_rebuild_flag(&self) -> bool {
        let mut backlog = self.shared.backlog.lock().unwrap_or_else(|e| e.into_inner());
        if backlog.rebuild {
            backlog.rebuild = false;
            backlog.keys.clear();
            self.shared.overflowed.store(false, Ordering::Release);
            true
        } else {
            false
        }
    }

    /// Indexes the backlog's messages as the journal holds them now.
    fn catch_up(&mut self) {
        let keys = {
            let mut backlog = self.shared.backlog.lock().unwrap_or_else(|e| e.into_inner());
            self.shared.overflowed.store(false, Ordering::Release);
            std::mem::take(&mut backlog.keys)
        };
        if keys.is_empty() {
            return;
        }
        tracing::info!(messages = keys.len(), "search index catching up from the store");
        self.index().set_stale(true);
        let mut keys = keys.into_iter().peekable();
        while let Some((room, first)) = keys.next() {
            // One history read per run of consecutive seqs in a room.
            let mut last = first;
            while let Some((r, s)) = keys.peek() {
                if *r == room && *s == last + 1 && last + 1 - first < u64::from(REBUILD_PAGE) {
                    last += 1;
                    keys.next();
                } else {
                    break;
                }
            }
            let query = HistoryQuery {
                room: room.clone(),
                range: HistoryRange::After(first.saturating_sub(1)),
                limit: (last - first + 1) as u32,
            };
            match self.journal.history(&query) {
                Ok(page) => {
                    let index = self.index();
                    let mut expected = first;
                    for m in page.iter().filter(|m| m.seq <= last) {
                        // A seq the store no longer holds is not searchable either.
                        for gone in expected..m.seq {
                            index.remove(&room, gone);
                        }
                        expected = m.seq + 1;
                        if let Err(e) = apply_stored(index, m) {
                            return self.write_failed(&e);
                        }
                    }
                    for gone in expected..=last {
                        index.remove(&room, gone);
                    }
                }
                Err(e) => return self.journal_failed(&e),
            }
        }
        self.maybe_commit(true);
        if self.rebuild.is_none() && !self.want_rebuild && !self.shared.overflowed.load(Ordering::Acquire) {
            self.index().set_stale(false);
        }
    }

    fn journal_failed(&mut self, e: &dyn std::error::Error) {
        // The keys of a failed catch-up are gone from the backlog: rebuild to be sure.
        tracing::error!(error = %e, "reading the store for the search index failed; retrying with a rebuild");
        self.want_rebuild = true;
        self.rebuild = None;
        self.retry_at = Some(Instant::now() + Duration::from_secs(5));
    }

    fn finish(mut self) {
        self.maybe_commit(true);
        let Some(index) = self.index.as_ref() else { return };
        let clean = !self.failed
            && self.rebuild.is_none()
            && !self.want_rebuild
            && !self.shared.overflowed.load(Ordering::Acquire);
        if clean {
            if let Err(e) = index.set_running(false) {
                tracing::error!(error = %e, "search index marker");
            }
        } else {
            tracing::warn!("search indexer stopped with work left; the next start rebuilds");
        }
    }
}
