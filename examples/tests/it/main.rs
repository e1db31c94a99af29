//! Tests of the examples crate, one binary; a module per area.

mod pages;
mod store_corpus; // replays the `store` fuzz corpus (chat-store against MemoryJournal) // history and resume pages over WebSocket fit the write buffer
