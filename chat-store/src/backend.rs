//! Where a store's database lives, and how to open it again after a failed commit.
//!
//! redb refuses every write after a commit failed with an I/O error (`PreviousIo`) until the
//! database is reopened, which also repairs it. A store therefore remembers how to open its
//! database: a path, or a backend it shares with the database through an `Arc`.

use std::fmt;
use std::ops::Bound;
use std::path::PathBuf;
use std::sync::Arc;

use redb::{BackendError, Builder, Database, DatabaseError, StorageBackend};

/// The I/O error type of a [`StorageBackend`].
type IoResult<T> = Result<T, std::io::Error>;

/// How to (re)open the database.
#[derive(Clone)]
pub(crate) enum Source {
    /// A file.
    Path(PathBuf),
    /// A backend (memory, or a test's fault-injecting wrapper), shared across reopens.
    Backend(Arc<dyn StorageBackend>),
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin())
    }
}

impl Source {
    /// What error messages call it.
    pub(crate) fn origin(&self) -> String {
        match self {
            Source::Path(path) => path.display().to_string(),
            Source::Backend(backend) => format!("storage backend {backend:?}"),
        }
    }

    /// Opens the database; a missing file is created only when `create` (the first open: a file
    /// that vanishes while the store runs is an error, not a fresh empty store).
    pub(crate) fn open(&self, create: bool) -> Result<Database, DatabaseError> {
        let mut builder = Builder::new();
        // The materialised tables are small and messages are read in pages: a modest cache is
        // enough and keeps many stores in one process (tests) cheap.
        builder.set_cache_size(256 * 1024 * 1024);
        match self {
            Source::Path(path) if create => builder.create(path),
            Source::Path(path) => builder.open(path),
            Source::Backend(backend) => builder.create_with_backend(Shared(backend.clone())),
        }
    }
}

/// A backend owned jointly by the store and its current `Database`, so that a new `Database` can
/// be opened on it after the old one is dropped.
#[derive(Debug)]
struct Shared(Arc<dyn StorageBackend>);

impl StorageBackend for Shared {
    fn len(&self) -> IoResult<u64> {
        self.0.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> IoResult<()> {
        self.0.read(offset, out)
    }

    fn set_len(&self, len: u64) -> IoResult<()> {
        self.0.set_len(len)
    }

    fn sync_data(&self) -> IoResult<()> {
        self.0.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> IoResult<()> {
        self.0.write(offset, data)
    }

    fn close(&self) -> IoResult<()> {
        self.0.close()
    }

    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.0.try_lock_range(start, end)
    }

    fn try_lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.0.try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.0.lock_range(start, end)
    }

    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.0.lock_shared_range(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.0.unlock_range(start, end)
    }

    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.0.query_lock_range(start, end)
    }
}
