//! chat-store integration tests, one binary; a module per area.

mod common; // a reopenable in-memory backend and log generators

mod account; // accounts, tokens and settings
mod attachment; // attachment metadata: quotas, claims, references, collection
mod conformance; // chat-core's journal conformance suite, on a file and on a flaky disk
mod crash; // SIGKILL at random moments: acknowledged batches survive, no batch half visible
mod damaged; // damaged, foreign, empty, truncated files and other schema versions
mod fault; // I/O errors and a full disk during commit
mod golden; // committed v1–v4 (migrated) and v5 files open with exact contents
mod highlights; // highlight rows: bounded work per write, exact counts
mod model; // the store against MemoryJournal, before and after reopen
