//! Runnable examples for the chat engine live in `examples/examples/`; this library holds the
//! little WebSocket client plumbing that `bot` and `terminal_client` share.
//!
//! | example | what it shows |
//! |---|---|
//! | `in_process` | `chat-core` embedded in a plain program with `MemoryJournal` |
//! | `custom_journal` | a `Journal` on a plain file that passes the conformance suite |
//! | `custom_transport` | the `chat-ws` hub over line-delimited JSON on TCP |
//! | `bot` | a WebSocket bot that answers when mentioned |
//! | `terminal_client` | an interactive line-based chat client |
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod ws_client;
