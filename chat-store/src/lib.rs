//! Durable, crash-safe storage for [`chat_core`] on [redb](https://docs.rs/redb).
//!
//! A [`Store`] is one redb file holding:
//! - every message once, keyed by `(room, seq)`, read back in pages by range scan;
//! - the core's persistent state ([`Snapshot`](chat_core::Snapshot)) materialised in tables
//!   that each append updates in the same transaction, so start-up reads the snapshot instead of
//!   replaying the log;
//! - the reference server's accounts, login tokens, settings, invites, reset codes and audit
//!   log;
//! - backups ([`Store::backup_to`]) and checks ([`inspect`]) of a file.
//!
//! It implements the core's [`Journal`](chat_core::Journal) contract: `append` writes a whole batch
//! in one durable transaction (group commit), and when it fails nothing of the batch is visible,
//! now or after a restart. The file carries a schema version; opening a file of another version,
//! a damaged file or a foreign file is a clear [`OpenError`], never a panic.
//!
//! ```
//! use chat_core::{HistoryQuery, HistoryRange, Journal, LogEntry, Message, RoomKey, Timestamp};
//! use chat_core::RoomKind;
//! use chat_store::Store;
//!
//! let mut store = Store::in_memory()?;
//! let room: RoomKey = "group:lobby".parse()?;
//! let alice = "alice".parse()?;
//! let t = Timestamp(1_700_000_000_000);
//! store.append(&[
//!     LogEntry::RoomCreated { room: room.clone(), kind: RoomKind::Public, owner: None, timestamp: t },
//!     LogEntry::MemberAdded { room: room.clone(), user: alice },
//! ])?;
//! let snapshot = store.snapshot()?;
//! assert_eq!(snapshot.room(&room).map(|r| r.members().len()), Some(1));
//! let page = store.history(&HistoryQuery { room, range: HistoryRange::Latest, limit: 50 })?;
//! assert!(page.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod account;
mod admin;
mod attachment;
mod backend;
mod backup;
mod error;
mod journal;
mod key;
mod migrate;
mod store;
mod table;

pub use account::{Account, NewAccount, Registered, Session, SessionMeta, TokenRecord};
pub use admin::{AuditEntry, Invite, Redeemed, ResetCode};
pub use attachment::{AddAttachmentError, AttachmentRecord, Upload};
pub use backup::{CheckError, Contents, inspect};
pub use error::{OpenError, StoreError};
pub use store::{SCHEMA_VERSION, Store};
