//! chat-search integration tests: one binary, one module per area.

// Helpers shared by the areas: messages, a store with rooms, an index in a temp dir.
mod common;
// Hits only ever come from the caller's readable rooms.
mod readable;
// The query grammar, through the parser and through the index.
mod grammar;
// Newest-first and relevance paging, limits, cursors.
mod paging;
// Rebuilds: missing, deleted, corrupted, other-version and unclean indexes.
mod rebuild;
// The background indexer: batching, removal, re-indexing, overflow catch-up.
mod indexer;
// has:attachment, has:image, has:file, and file names.
mod has;
// The core's SearchRequest answered as SearchResults.
mod answer;
