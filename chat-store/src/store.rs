//! [`Store`]: opening, the schema check, and recovery after a failed commit.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use chat_core::Snapshot;
use redb::{Database, DatabaseError, ReadableDatabase, StorageBackend, StorageError};

use crate::backend::Source;
use crate::error::{OpenError, StoreError};
use crate::table;

/// The schema version this build reads and writes. Bump it on any change to a table's key or value
/// encoding, and add the migration to the chat-store section of `docs/design.md`.
pub const SCHEMA_VERSION: u32 = 5;

/// Durable chat storage in one redb file: the messages, the materialised state the core restores
/// from, and the server's accounts and tokens.
///
/// Cheap to clone (the clones share one database). Many threads may read at once; writes are
/// serialised. It implements [`chat_core::Journal`]: one durable write transaction per appended
/// batch.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    source: Source,
    /// The open database, or the one whose commit failed, until it is reopened.
    db: Mutex<Slot>,
    /// The journal writer's state (the hub is the only writer; the lock keeps clones honest).
    pub(crate) writer: Mutex<Writer>,
}

/// The database a store uses.
#[derive(Debug)]
enum Slot {
    /// Healthy.
    Open(Arc<Database>),
    /// A commit failed: redb refuses writes until the database is reopened, which must wait
    /// until no reader holds the old one (a second `Database` on one file or backend is unsafe).
    Failed(Arc<Database>),
    /// Closed after a failure; opening it again failed so far.
    Closed,
}

/// The in-memory fold the journal applies entries to. Always equal to the materialised tables
/// when present; `None` means "reload from the tables before use" (after a failed append).
#[derive(Debug, Default)]
pub(crate) struct Writer {
    pub(crate) snapshot: Option<Snapshot>,
}

impl Store {
    /// Opens the store in `path`, creating the file if it does not exist.
    ///
    /// Fails with a clear [`OpenError`] (never a panic) if the file is empty, truncated, damaged,
    /// not a redb file, not a chat-store file, or of another schema version.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, OpenError> {
        let path = path.as_ref();
        match std::fs::metadata(path) {
            // redb would silently initialise an empty file; an empty file where a store should be
            // is damage (a failed copy, a truncation), and starting empty would lose everything.
            Ok(meta) if meta.len() == 0 => {
                return Err(OpenError::Damaged {
                    origin: path.display().to_string(),
                    detail: "the file is empty (zero length); delete it to start a new store".into(),
                });
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(OpenError::Io { path: path.to_owned(), source }),
        }
        Store::from_source(Source::Path(path.to_owned()))
    }

    /// An empty store in memory (redb's in-memory backend), for tests and examples.
    pub fn in_memory() -> Result<Store, OpenError> {
        Store::with_backend(redb::backends::InMemoryBackend::new())
    }

    /// A store on a caller-supplied redb storage backend (for example one that injects faults).
    /// The backend is initialised if empty.
    pub fn with_backend(backend: impl StorageBackend) -> Result<Store, OpenError> {
        Store::from_source(Source::Backend(Arc::new(backend)))
    }

    fn from_source(source: Source) -> Result<Store, OpenError> {
        let db = open_checked(&source, true)?;
        let inner = Inner { source, db: Mutex::new(Slot::Open(Arc::new(db))), writer: Mutex::new(Writer::default()) };
        Ok(Store { inner: Arc::new(inner) })
    }

    /// The current database, reopening it if a commit failed since the last call.
    pub(crate) fn db(&self) -> Result<Arc<Database>, StoreError> {
        let mut slot = lock(&self.inner.db);
        match &*slot {
            Slot::Open(db) => return Ok(db.clone()),
            // A reader on another thread still uses it; the next call tries again.
            Slot::Failed(failed) if Arc::strong_count(failed) > 1 => {
                return Err(StoreError::Storage(redb::Error::PreviousIo));
            }
            // Close it (releasing its file lock) before opening the file again.
            Slot::Failed(_) => *slot = Slot::Closed,
            Slot::Closed => {}
        }
        let db = match open_checked(&self.inner.source, false) {
            Ok(db) => Arc::new(db),
            Err(OpenError::Storage { source, .. }) => return Err(StoreError::Storage(source)),
            Err(other) => return Err(StoreError::Reopen(Box::new(other))),
        };
        *slot = Slot::Open(db.clone());
        Ok(db)
    }

    /// Marks `db` failed after one of its commits failed, so the next call reopens (and repairs)
    /// it.
    pub(crate) fn poison(&self, db: &Arc<Database>) {
        let mut slot = lock(&self.inner.db);
        if let Slot::Open(current) = &*slot
            && Arc::ptr_eq(current, db)
        {
            *slot = Slot::Failed(current.clone());
        }
    }

    /// Runs a write transaction with durable commit; on failure, the database is reopened before
    /// the next operation.
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&redb::WriteTransaction) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let db = self.db()?;
        let result = (|| {
            let txn = db.begin_write()?;
            let value = f(&txn)?;
            txn.commit()?;
            Ok(value)
        })();
        if result.is_err() {
            self.poison(&db);
        }
        result
    }

    /// Runs a read transaction.
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&redb::ReadTransaction) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let db = self.db()?;
        let txn = db.begin_read()?;
        f(&txn)
    }

    pub(crate) fn writer(&self) -> MutexGuard<'_, Writer> {
        lock(&self.inner.writer)
    }
}

/// Locks a mutex, ignoring poisoning: every critical section here leaves the data consistent or
/// marks it for reload before it can panic.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Opens the database and checks (or, for a new file, writes) the schema version.
fn open_checked(source: &Source, create: bool) -> Result<Database, OpenError> {
    // redb checks most damage and returns an error, but its debug builds assert on some corrupt
    // pages: turn a panic into an error so that a damaged file never takes the process down.
    match catch_unwind(AssertUnwindSafe(|| open_unchecked(source, create))) {
        Ok(result) => result,
        Err(panic) => Err(OpenError::Damaged { origin: source.origin(), detail: panic_message(&*panic) }),
    }
}

fn open_unchecked(source: &Source, create: bool) -> Result<Database, OpenError> {
    let origin = source.origin();
    let db = source.open(create).map_err(|e| open_error(source, e))?;
    let storage = |e: redb::Error| classify(&origin, e);
    let in_migration = |e: StoreError| match e {
        StoreError::Storage(e) => storage(e),
        other => {
            OpenError::Damaged { origin: origin.clone(), detail: format!("migrating to v{SCHEMA_VERSION}: {other}") }
        }
    };

    let found = match stored_version(&db, &origin)? {
        None => {
            initialise(&db).map_err(|e| match e {
                StoreError::Storage(e) => storage(e),
                other => OpenError::Damaged { origin: origin.clone(), detail: other.to_string() },
            })?;
            return Ok(db);
        }
        Some(mut found) if (1..SCHEMA_VERSION).contains(&found) => {
            // Keep the file of the version found beside the migrated one (nothing was written
            // to it yet); each step is one transaction.
            if let Source::Path(path) = source {
                let backup = crate::migrate::backup_path(path, found);
                std::fs::copy(path, &backup).map_err(|source| OpenError::Io { path: backup, source })?;
            }
            while found < SCHEMA_VERSION {
                match found {
                    1 => crate::migrate::v1_to_v2(&db).map_err(in_migration)?,
                    2 => crate::account::v2_to_v3(&db).map_err(in_migration)?,
                    3 => crate::migrate::v3_to_v4(&db).map_err(in_migration)?,
                    _ => crate::attachment::v4_to_v5(&db).map_err(in_migration)?,
                }
                found = stored_version(&db, &origin)?.unwrap_or_default();
            }
            found
        }
        Some(found) => found,
    };
    if found != SCHEMA_VERSION {
        return Err(OpenError::SchemaVersion { origin, found, expected: SCHEMA_VERSION });
    }
    let txn = db.begin_read().map_err(|e| storage(e.into()))?;
    let tables: Vec<String> = {
        use redb::TableHandle;
        txn.list_tables().map_err(|e| storage(e.into()))?.map(|t| t.name().to_owned()).collect()
    };
    for def in table::ALL {
        use redb::TableHandle;
        if !tables.iter().any(|t| t == def.name()) {
            return Err(OpenError::Damaged { origin, detail: format!("table {} is missing", def.name()) });
        }
    }
    drop(txn);
    Ok(db)
}

/// The schema version a database holds; `None` for a new (table-less) one.
fn stored_version(db: &Database, origin: &str) -> Result<Option<u32>, OpenError> {
    let storage = |e: redb::Error| classify(origin, e);
    let txn = db.begin_read().map_err(|e| storage(e.into()))?;
    let tables: Vec<String> = {
        use redb::TableHandle;
        txn.list_tables().map_err(|e| storage(e.into()))?.map(|t| t.name().to_owned()).collect()
    };
    if tables.is_empty() {
        return Ok(None);
    }
    if !tables.iter().any(|t| t == "meta") {
        return Err(OpenError::Foreign { origin: origin.to_owned() });
    }
    let meta = txn.open_table(table::META).map_err(|e| storage(e.into()))?;
    let version = meta.get(table::SCHEMA_VERSION_KEY).map_err(|e| storage(e.into()))?;
    let Some(version) = version else { return Err(OpenError::Foreign { origin: origin.to_owned() }) };
    let found: [u8; 4] = version.value().try_into().map_err(|_| OpenError::Damaged {
        origin: origin.to_owned(),
        detail: "the schema version is not a 4-byte integer".into(),
    })?;
    Ok(Some(u32::from_be_bytes(found)))
}

/// Creates every table and writes the schema version, in one durable transaction.
fn initialise(db: &Database) -> Result<(), StoreError> {
    let txn = db.begin_write()?;
    for def in table::ALL {
        txn.open_table(def)?;
    }
    txn.open_table(table::META)?.insert(table::SCHEMA_VERSION_KEY, SCHEMA_VERSION.to_be_bytes().as_slice())?;
    txn.commit()?;
    Ok(())
}

fn open_error(source: &Source, e: DatabaseError) -> OpenError {
    let origin = source.origin();
    match e {
        DatabaseError::DatabaseAlreadyOpen => OpenError::AlreadyOpen { origin },
        DatabaseError::UpgradeRequired(v) => {
            OpenError::Damaged { origin, detail: format!("redb file format {v} is not supported by this redb") }
        }
        DatabaseError::Storage(StorageError::Io(io)) if matches!(source, Source::Path(_)) && !is_damage(&io) => {
            let Source::Path(path) = source else { unreachable!("matched above") };
            OpenError::Io { path: path.clone(), source: io }
        }
        other => classify(&origin, other.into()),
    }
}

/// Damage-like I/O errors: not a redb file (InvalidData) or shorter than its header says.
fn is_damage(io: &std::io::Error) -> bool {
    matches!(io.kind(), std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof)
}

fn classify(origin: &str, e: redb::Error) -> OpenError {
    match e {
        redb::Error::Corrupted(detail) => OpenError::Damaged { origin: origin.to_owned(), detail },
        redb::Error::Io(io) if is_damage(&io) => {
            OpenError::Damaged { origin: origin.to_owned(), detail: io.to_string() }
        }
        redb::Error::DatabaseAlreadyOpen => OpenError::AlreadyOpen { origin: origin.to_owned() },
        other => OpenError::Storage { origin: origin.to_owned(), source: other },
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    format!("redb rejected the file: {text}")
}
