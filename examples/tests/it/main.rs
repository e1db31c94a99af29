//! Tests of the examples crate, one binary; a module per area.

mod store_corpus; // replays the `store` fuzz corpus (chat-store against MemoryJournal)
