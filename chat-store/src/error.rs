//! Errors: one enum for opening a store, one for every operation on an open store.

use std::path::PathBuf;

/// Why [`Store::open`](crate::Store::open) (or `in_memory`, `with_backend`) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The file could not be created or opened.
    #[error("cannot open {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a redb database, or it is damaged (truncated, overwritten, altered).
    #[error("{origin} is not a readable chat-store database (damaged, truncated or foreign): {detail}")]
    Damaged {
        /// The file path, or a description of the backend.
        origin: String,
        /// What was wrong.
        detail: String,
    },
    /// The file is a valid redb database but was not written by chat-store (it has tables but no
    /// chat-store schema version).
    #[error("{origin} is a redb database but not a chat-store database (no schema version)")]
    Foreign {
        /// The file path, or a description of the backend.
        origin: String,
    },
    /// The file was written by a chat-store with a different schema version.
    #[error(
        "{origin} has chat-store schema version {found}, but this build reads version {expected} \
         (see the chat-store section of docs/design.md for migrating)"
    )]
    SchemaVersion {
        /// The file path, or a description of the backend.
        origin: String,
        /// The version stored in the file.
        found: u32,
        /// The version this build reads and writes.
        expected: u32,
    },
    /// Another process (or another `Store` in this one) has the file open.
    #[error("{origin} is already open by another process or store")]
    AlreadyOpen {
        /// The file path, or a description of the backend.
        origin: String,
    },
    /// The storage failed while opening (an I/O error of the backend, say).
    #[error("cannot open {origin}: {source}")]
    Storage {
        /// The file path, or a description of the backend.
        origin: String,
        /// The underlying redb error.
        #[source]
        source: redb::Error,
    },
}

/// Why an operation on an open [`Store`](crate::Store) failed. When an append fails, nothing of its
/// batch is visible and the store's state is what it was before the call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The storage failed (I/O error, full disk, …). The store reopens its database on the next
    /// call, so it keeps working once the cause is gone.
    #[error("storage error: {0}")]
    Storage(#[from] redb::Error),
    /// The database could not be reopened after a failed commit (it is still open elsewhere, or
    /// the file was damaged meanwhile). The next call tries again.
    #[error("reopening the database after a failed commit: {0}")]
    Reopen(#[source] Box<OpenError>),
    /// A stored value could not be decoded: the file is damaged or was written by other code.
    #[error("damaged record in table {table}: {detail}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// A value could not be encoded (it cannot happen with the types chat-store stores, but
    /// encoding is fallible in rmp-serde's API).
    #[error("cannot encode a {what}: {detail}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// The encoder's message.
        detail: String,
    },
}

macro_rules! storage_from {
    ($($ty:ty),*) => {$(
        impl From<$ty> for StoreError {
            fn from(err: $ty) -> StoreError {
                StoreError::Storage(err.into())
            }
        }
    )*};
}

storage_from!(redb::StorageError, redb::TransactionError, redb::TableError, redb::CommitError, redb::DatabaseError);
