//! Backups and checks of a store file.
//!
//! [`Store::backup_to`] copies every table from one read transaction (a consistent snapshot:
//! every commit before it, nothing after) into a new file, while writers go on. The copy is
//! written beside its destination as `<dest>.partial`, flushed, and renamed into place, so a
//! crash never leaves a half-written file under the destination's name.
//!
//! [`inspect`] opens a file read-only (redb refuses while a server holds it), decodes every row
//! of every table and reports what the file holds.

use std::path::{Path, PathBuf};

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableHandle};

use crate::error::{OpenError, StoreError};
use crate::store::{SCHEMA_VERSION, Store};
use crate::{account, key, table};

/// Rows copied per write transaction of a backup (bounds the copy's dirty pages).
const ROWS_PER_COMMIT: usize = 20_000;

/// What a file holds (rows per table, and the main counts).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Contents {
    /// The schema version of the file.
    pub schema_version: u32,
    /// Rows of each table, by name, in the file's table order.
    pub tables: Vec<(String, u64)>,
    /// Chat users (the core's `users` table).
    pub users: u64,
    /// Rooms.
    pub rooms: u64,
    /// Messages.
    pub messages: u64,
    /// Accounts (deleted ones included).
    pub accounts: u64,
    /// Active administrators.
    pub admins: u64,
    /// Disabled accounts.
    pub disabled: u64,
    /// Deleted accounts (tombstones).
    pub deleted: u64,
    /// Login sessions (tokens).
    pub sessions: u64,
}

impl Contents {
    fn rows(&self, name: &str) -> u64 {
        self.tables.iter().find(|(t, _)| t == name).map_or(0, |(_, n)| *n)
    }
}

/// Why a file could not be checked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The file could not be opened (in use, missing, not a store, damaged).
    #[error(transparent)]
    Open(#[from] OpenError),
    /// A row is damaged or a read failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Writes a consistent copy of the whole store to `dest` (which must not exist): every
    /// table as of one read transaction, while other writes go on. Returns what the copy holds.
    pub fn backup_to(&self, dest: &Path) -> Result<Contents, StoreError> {
        let partial = partial_path(dest);
        let result = self.copy_into(&partial).and_then(|contents| {
            std::fs::rename(&partial, dest).map_err(io)?;
            if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
                // The rename is durable once the folder is (best effort: not every OS allows it).
                let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
            }
            Ok(contents)
        });
        if result.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        result
    }

    fn copy_into(&self, partial: &Path) -> Result<Contents, StoreError> {
        // A leftover of a crashed backup.
        let _ = std::fs::remove_file(partial);
        let file = create_private(partial).map_err(io)?;
        let backend = redb::backends::FileBackend::new(file).map_err(|e| StoreError::Storage(e.into()))?;
        let copy = redb::Builder::new().create_with_backend(backend).map_err(|e| StoreError::Storage(e.into()))?;
        let db = self.db()?;
        let source = db.begin_read()?;
        for def in table::ALL {
            let from = source.open_table(def)?;
            let mut rows = from.iter()?;
            loop {
                let txn = copy.begin_write()?;
                let mut n = 0;
                {
                    let mut to = txn.open_table(def)?;
                    for row in rows.by_ref().take(ROWS_PER_COMMIT) {
                        let (k, v) = row?;
                        to.insert(k.value(), v.value())?;
                        n += 1;
                    }
                }
                txn.commit()?;
                if n < ROWS_PER_COMMIT {
                    break;
                }
            }
        }
        drop(source);
        let contents = {
            let txn = copy.begin_read()?;
            verify(&txn)?
        };
        drop(copy);
        std::fs::OpenOptions::new().read(true).write(true).open(partial).and_then(|f| f.sync_all()).map_err(io)?;
        Ok(contents)
    }
}

/// Opens `path` read-only, decodes every row of every table, and reports what it holds. Fails
/// while another process (a running server) has the file open for writing.
pub fn inspect(path: &Path) -> Result<Contents, CheckError> {
    let origin = path.display().to_string();
    if !path.exists() {
        return Err(OpenError::Io {
            path: path.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        }
        .into());
    }
    let db = redb::ReadOnlyDatabase::open(path).map_err(|e| match e {
        redb::DatabaseError::DatabaseAlreadyOpen => OpenError::AlreadyOpen { origin: origin.clone() },
        other => OpenError::Damaged { origin: origin.clone(), detail: other.to_string() },
    })?;
    let txn = db.begin_read().map_err(|e| StoreError::Storage(e.into()))?;
    let names: Vec<String> =
        txn.list_tables().map_err(|e| StoreError::Storage(e.into()))?.map(|t| t.name().to_owned()).collect();
    if !names.iter().any(|n| n == "meta") {
        return Err(OpenError::Foreign { origin }.into());
    }
    let version = {
        let meta = txn.open_table(table::META).map_err(StoreError::from)?;
        let v = meta
            .get(table::SCHEMA_VERSION_KEY)
            .map_err(StoreError::from)?
            .ok_or_else(|| OpenError::Foreign { origin: origin.clone() })?;
        let bytes: [u8; 4] = v.value().try_into().map_err(|_| key::corrupt("meta", "schema version"))?;
        u32::from_be_bytes(bytes)
    };
    if version != SCHEMA_VERSION {
        // Older files are migrated by the next start; their rows are another format.
        let mut contents = Contents { schema_version: version, ..Contents::default() };
        for name in names {
            let def = redb::TableDefinition::<&[u8], &[u8]>::new(&name);
            let rows = txn.open_table(def).map_err(StoreError::from)?.len().map_err(StoreError::from)?;
            contents.tables.push((name, rows));
        }
        return Ok(contents);
    }
    Ok(verify(&txn)?)
}

/// Decodes every row of a current-version file.
fn verify(txn: &redb::ReadTransaction) -> Result<Contents, StoreError> {
    let mut contents = Contents { schema_version: SCHEMA_VERSION, ..Contents::default() };
    for def in table::ALL {
        contents.tables.push((def.name().to_owned(), txn.open_table(def)?.len()?));
    }
    // The state tables build a snapshot (decoding and cross-checking each row).
    let snapshot = table::load_snapshot(txn)?;
    contents.users = snapshot.users().count() as u64;
    contents.rooms = contents.rows("rooms");
    for row in txn.open_table(table::MESSAGES)?.iter()? {
        let (k, v) = row?;
        let (room, seq) = key::split("messages", k.value())?;
        let (room, seq) = (key::room("messages", room)?, key::trailing_u64("messages", seq)?);
        table::decode_message(&room, seq, v.value())?;
        contents.messages += 1;
    }
    for row in txn.open_table(table::ACCOUNTS)?.iter()? {
        let (_, v) = row?;
        let a: account::Account = table::decode("accounts", v.value())?;
        contents.accounts += 1;
        contents.admins += u64::from(a.admin && a.is_active());
        contents.disabled += u64::from(a.disabled && a.deleted.is_none());
        contents.deleted += u64::from(a.deleted.is_some());
    }
    for row in txn.open_table(table::TOKENS)?.iter()? {
        let (_, v) = row?;
        table::decode::<account::TokenRecord>("tokens", v.value())?;
        contents.sessions += 1;
    }
    for row in txn.open_table(account::USER_TOKENS)?.iter()? {
        let (_, v) = row?;
        table::decode::<account::SessionMeta>("user_tokens", v.value())?;
    }
    for row in txn.open_table(crate::admin::INVITES)?.iter()? {
        let (_, v) = row?;
        table::decode::<crate::admin::Invite>("invites", v.value())?;
    }
    for row in txn.open_table(crate::admin::RESETS)?.iter()? {
        let (_, v) = row?;
        table::decode::<crate::admin::ResetCode>("resets", v.value())?;
    }
    for row in txn.open_table(crate::admin::AUDIT)?.iter()? {
        let (_, v) = row?;
        table::decode::<crate::admin::AuditEntry>("audit", v.value())?;
    }
    Ok(contents)
}

fn partial_path(dest: &Path) -> PathBuf {
    let mut name = dest.as_os_str().to_owned();
    name.push(".partial");
    name.into()
}

/// A new file only its owner can read (it holds every DM and the password hashes).
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::Storage(redb::Error::Io(e))
}
