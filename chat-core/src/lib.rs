//! A sans-IO chat engine: rooms, direct messages, `@mentions`, unread and highlight counts,
//! notifications, read receipts, typing and presence, as a deterministic state machine.
//!
//! `chat-core` does no I/O, reads no clock and draws no random numbers. A driver (the `chat-ws`
//! hub, or your own) feeds it [`Input`]s with the current time, pulls [`Output`]s, persists log
//! entries in a [`Journal`], and delivers events to sessions over any transport.
//!
//! # The driver contract
//!
//! 1. **Order.** Call [`Chat::handle`] with inputs in the order they happened, then drain
//!    [`Chat::poll_output`] until it returns `None`, and carry out the outputs in order.
//! 2. **Durability before delivery.** Every [`Output::Persist`] must be durably committed before
//!    any *later* output of the same drain is carried out. Batch all inputs waiting, drain once,
//!    commit all `Persist`s of the drain in one transaction (group commit), then deliver. No
//!    message is acknowledged or shown before it is durable. Answer each [`Output::Load`] with
//!    [`Input::Loaded`] after that commit.
//! 3. **Restore on commit failure.** If a commit fails, carry out nothing after it: replace the
//!    `Chat` with [`Chat::restore`] from the journal's snapshot and close every session (clients
//!    reconnect and `resume`).
//! 4. **Tick.** Call `handle(now, Input::Tick)` when [`Chat::poll_timeout`] is reached.
//! 5. **Time never goes back.** Pass the current wall-clock time in ms; the core clamps it so it
//!    never decreases, and stamps messages with it.
//!
//! # Example: the run loop
//!
//! ```
//! use chat_core::{Chat, ClientMsg, Config, Input, Journal, MemoryJournal, Output, RoomRef};
//! use chat_core::{ServerMsg, SessionId, Timestamp, UserName};
//!
//! let mut chat = Chat::new(Config::default());
//! let mut journal = MemoryJournal::new();
//! let alice: UserName = "alice".parse().unwrap();
//! let bob: UserName = "bob".parse().unwrap();
//! let lobby = RoomRef { room: Some("group:lobby".into()), ..Default::default() };
//! let now = Timestamp(1_700_000_000_000);
//!
//! let inputs = vec![
//!     Input::Connect { session: SessionId(1), user: alice.clone() },
//!     Input::Connect { session: SessionId(2), user: bob.clone() },
//!     Input::Receive { session: SessionId(1), msg: ClientMsg::JoinRoom { room: lobby.clone() } },
//!     Input::Receive { session: SessionId(2), msg: ClientMsg::JoinRoom { room: lobby.clone() } },
//!     Input::Receive {
//!         session: SessionId(1),
//!         msg: ClientMsg::SendMessage { room: lobby, content: "hi @bob".into(), client_id: None },
//!     },
//! ];
//! for input in inputs {
//!     chat.handle(now, input);
//! }
//!
//! // Drain once; group-commit every Persist, then carry out the rest in order.
//! let outputs: Vec<Output> = std::iter::from_fn(|| chat.poll_output()).collect();
//! let batch: Vec<_> = outputs
//!     .iter()
//!     .filter_map(|o| match o { Output::Persist(e) => Some(e.clone()), _ => None })
//!     .collect();
//! journal.append(&batch).expect("commit");
//! let mut bob_saw_mention = false;
//! for output in &outputs {
//!     if let Output::Deliver { sessions, msg } = output {
//!         if let ServerMsg::MentionNotification(n) = &**msg {
//!             bob_saw_mention |= sessions.contains(&SessionId(2)) && n.sender == alice;
//!         }
//!     }
//! }
//! assert!(bob_saw_mention);
//! let room = "group:lobby".parse().unwrap();
//! assert_eq!(chat.unread(&bob, &room).unwrap().highlight, 1);
//! // The journal's fold is the live state.
//! assert_eq!(&journal.snapshot().unwrap(), chat.snapshot());
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod chat;
/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
#[cfg(feature = "codec")]
pub mod codec;
mod error;
mod hash;
pub mod journal;
pub mod log;
pub mod mention;
mod name;
pub mod protocol;
mod room;
mod session;
pub mod snapshot;
mod time;
mod typing;

pub use chat::{Chat, CloseReason, Config, Input, LoadError, LoadId, Output, RequestId};
#[cfg(feature = "codec")]
pub use codec::{Codec, DecodeError};
pub use error::ErrorCode;
pub use journal::{HistoryQuery, HistoryRange, Journal, MemoryJournal};
pub use log::{LogEntry, Message};
pub use name::{MAX_NAME_LEN, NameError, RoomName, UserName};
pub use protocol::{ClientMsg, ServerMsg};
pub use room::{RoomKey, RoomKeyError, RoomKind, RoomRef, RoomType};
pub use session::SessionId;
pub use snapshot::{Notification, NotificationKind, Snapshot, Unread};
pub use time::Timestamp;
