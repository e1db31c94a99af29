//! The journal conformance suite of `chat_core::testing` on the store: on a file, and in memory
//! with injected I/O errors (a failed write: nothing landed; a failed fsync after the writes: the
//! ambiguous case the journal contract allows), reopened on the same bytes.

use std::ops::Bound;
use std::sync::{Arc, Mutex};

use chat_core::testing::journal::JournalSuite;
use chat_core::{HistoryQuery, Journal, LogEntry, Message, Snapshot};
use chat_store::{Store, StoreError};
use redb::StorageBackend;

use crate::common::SharedMemory;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// The next write fails (the batch does not land).
    Write,
    /// The next `fsync` fails after the writes (the batch may land).
    Sync,
}

/// Shared memory whose next write or sync can be made to fail once.
#[derive(Debug, Clone, Default)]
struct FlakyMemory {
    mem: SharedMemory,
    fault: Arc<Mutex<Option<Fault>>>,
    /// Faults armed so far (they alternate between write and sync).
    armed: Arc<Mutex<u32>>,
}

impl FlakyMemory {
    fn take(&self, fault: Fault) -> std::io::Result<()> {
        let mut armed = self.fault.lock().unwrap();
        if *armed == Some(fault) {
            *armed = None;
            return Err(std::io::Error::other(format!("injected {fault:?} failure")));
        }
        Ok(())
    }

    fn arm(&self) {
        let mut count = self.armed.lock().unwrap();
        *count += 1;
        *self.fault.lock().unwrap() = Some(if *count % 2 == 1 { Fault::Write } else { Fault::Sync });
    }
}

impl StorageBackend for FlakyMemory {
    fn len(&self) -> std::io::Result<u64> {
        self.mem.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        self.mem.read(offset, out)
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.mem.set_len(len)
    }
    fn sync_data(&self) -> std::io::Result<()> {
        self.take(Fault::Sync)?;
        self.mem.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.take(Fault::Write)?;
        self.mem.write(offset, data)
    }
    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, redb::BackendError> {
        self.mem.try_lock_range(start, end)
    }
}

/// A store on [`FlakyMemory`], with its disk at hand to arm a fault.
struct Flaky {
    store: Store,
    disk: FlakyMemory,
}

impl Journal for Flaky {
    type Error = StoreError;
    fn append(&mut self, entries: &[LogEntry]) -> Result<(), StoreError> {
        self.store.append(entries)
    }
    fn snapshot(&self) -> Result<Snapshot, StoreError> {
        self.store.snapshot()
    }
    fn history(&self, query: &HistoryQuery) -> Result<Vec<Message>, StoreError> {
        self.store.history(query)
    }
}

#[test]
fn the_store_in_memory_with_faults_passes_the_journal_suite() {
    let open =
        |disk: &FlakyMemory| Flaky { store: Store::with_backend(disk.clone()).expect("open"), disk: disk.clone() };
    let report = JournalSuite::reopenable(FlakyMemory::default, open).fail_next_append(|j| j.disk.arm()).run();
    assert!(report.skipped.is_empty(), "{report}");
}

#[test]
fn the_store_on_a_file_passes_the_journal_suite() {
    let report = JournalSuite::reopenable(
        || tempfile::tempdir().expect("a temporary directory"),
        |dir| Store::open(dir.path().join("chat.redb")).expect("open"),
    )
    .run();
    assert_eq!(report.skipped, ["ambiguous_commits"], "{report}");
}
