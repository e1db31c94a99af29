//! Tests of the examples crate, one binary; a module per area.

mod axum_embed; // runs examples/axum_embed.rs on 127.0.0.1:0 and chats through it
mod custom_journal; // examples/custom_journal.rs passes the journal conformance suite
mod outside; // a new crate outside the workspace runs the journal conformance suite
mod pages;
mod store_corpus; // replays the `store` fuzz corpus (chat-store against MemoryJournal) // history and resume pages over WebSocket fit the write buffer
