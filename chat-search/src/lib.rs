//! Full-text search of chat messages, on [tantivy], kept off the commit path.
//!
//! - [`SearchIndex`] is the index in a directory (beside the database): one document per
//!   message `(room, seq)`, a version file, rebuilt when missing, damaged or of another
//!   [`SCHEMA_VERSION`].
//! - [`Indexer`] owns the index writer on a thread of its own. The driver feeds it committed
//!   [`LogEntry`](chat_core::LogEntry)s through [`IndexerHandle::committed`], which never blocks
//!   (a full channel is caught up from the store, never dropped silently), and it rebuilds from
//!   any [`Journal`](chat_core::Journal) in the background.
//! - [`SearchQuery`] is one search: words, `"phrases"`, `from:`, `in:`, `before:`/`after:`, `has:`,
//!   order, page, and the **mandatory** set of rooms the caller may read, which the core
//!   decides; [`SearchReader::query`] never returns a hit outside it, and checks every hit
//!   against it again.
//! - [`rebuild`] fills an index from a journal's history.
//! - [`SearchReader::answer`] answers the core's `Output::Search` (a
//!   [`chat_core::SearchRequest`] over its authorised rooms) with the
//!   [`chat_core::SearchResults`] of `Input::Searched`.
//!
//! ```
//! use chat_core::{RoomKey, Timestamp, UserName};
//! use chat_search::{ReadableRooms, SearchIndex, SearchQuery};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let mut index = SearchIndex::open(dir.path()).unwrap().index;
//! let lobby: RoomKey = "group:lobby".parse().unwrap();
//! let alice = UserName::new("alice").unwrap();
//! index.index_text(&lobby, 1, &alice, Timestamp(1_000), "Deploy at noon, @bob").unwrap();
//! index.commit().unwrap();
//!
//! let query = SearchQuery::parse("deploy @bob", ReadableRooms::new([lobby])).unwrap();
//! let page = index.reader().query(&query).unwrap();
//! assert_eq!(page.hits[0].seq, 1);
//! let s = &page.hits[0].snippet;
//! assert_eq!(&s.text[s.highlights[0].clone()], "Deploy");
//! ```
//!
//! The design (where the index sits, the overflow policy, rebuilds, the authorisation rule) is
//! in `docs/search.md`.

#![forbid(unsafe_code)]

mod core;
mod error;
mod index;
mod indexer;
pub mod query;
mod rebuild;
mod schema;
mod search;

pub use error::{IndexError, OpenError, QueryError, RebuildError, SearchError};
pub use index::{Opened, RebuildReason, SearchIndex};
pub use indexer::{Indexer, IndexerConfig, IndexerHandle};
pub use query::{
    Cursor, DEFAULT_LIMIT, MAX_LIMIT, MAX_QUERY_BYTES, MAX_QUERY_TERMS, MAX_RELEVANCE_OFFSET, Order, ReadableRooms,
    SearchQuery, SearchTerm,
};
pub use rebuild::{REBUILD_PAGE, Rebuild, RebuildStats, rebuild};
pub use schema::{Has, SCHEMA_VERSION};
pub use search::{SNIPPET_CHARS, SearchHit, SearchPage, SearchReader, Snippet};
