//! Errors, one enum per operation.

use std::path::PathBuf;

/// Why [`SearchIndex::open`](crate::SearchIndex::open) failed. A damaged or outdated index is not
/// an error (it is rebuilt); these are the failures that leave no index at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The directory (or the version file in it) could not be read, created or cleared.
    #[error("search index directory {path}: {source}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// tantivy refused to create a fresh index in a cleared directory.
    #[error("creating the search index: {0}")]
    Create(#[source] tantivy::TantivyError),
}

/// Why a write to the index (add, remove, commit) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// tantivy's writer failed (I/O, or its indexing threads died).
    #[error("search index write: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    /// The stale marker file could not be written or removed.
    #[error("search index marker {path}: {source}")]
    Marker {
        /// The marker's path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Why a query text or its parameters were refused. These are the caller's mistakes; the driver
/// answers them with an error code, never with partial results.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// Neither words nor filters.
    #[error("empty search")]
    Empty,
    /// Longer than [`MAX_QUERY_BYTES`](crate::MAX_QUERY_BYTES).
    #[error("search text is too long")]
    TooLong,
    /// More than [`MAX_QUERY_TERMS`](crate::MAX_QUERY_TERMS) words and phrases.
    #[error("too many search words")]
    TooManyTerms,
    /// A `"phrase` without its closing quote.
    #[error("unclosed quote")]
    UnclosedQuote,
    /// `has:` with something other than `attachment`, `image` or `file`.
    #[error("has: takes attachment, image or file")]
    BadHas,
    /// `from:` with something that is not a user name.
    #[error("invalid user in from:")]
    BadUser,
    /// `in:` with something that is not a room.
    #[error("invalid room in in:")]
    BadRoom,
    /// `before:`/`after:` with something that is not `YYYY-MM-DD` or milliseconds.
    #[error("invalid date (expected YYYY-MM-DD)")]
    BadDate,
    /// A cursor that this index did not hand out.
    #[error("invalid cursor")]
    BadCursor,
    /// A limit of 0.
    #[error("invalid limit")]
    BadLimit,
}

/// Why running a query failed (the index, not the query).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SearchError {
    /// tantivy failed to read the index.
    #[error("search index read: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    /// The cursor belongs to the other order.
    #[error(transparent)]
    Query(#[from] QueryError),
}

/// Why a rebuild from a journal stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RebuildError<E: std::error::Error + Send + Sync + 'static> {
    /// The journal failed to answer a history page.
    #[error("reading history for the search index: {0}")]
    Journal(#[source] E),
    /// The index failed to take a document.
    #[error(transparent)]
    Index(#[from] IndexError),
}
