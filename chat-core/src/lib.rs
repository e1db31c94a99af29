//! A sans-IO chat engine: rooms, direct messages, `@mentions`, unread and highlight counts,
//! notifications, read receipts, typing and presence, as a deterministic state machine.
//!
//! `chat-core` does no I/O, reads no clock and draws no random numbers. A driver (the `chat-ws`
//! hub, or your own) feeds it [`Input`]s with the current time, pulls [`Output`]s, persists log
//! entries in a [`Journal`], and delivers events to sessions over any transport.
//!
//! # The driver contract
//!
//! 1. **Order.** Call [`Chat::handle`] with inputs in the order they happened, then take
//!    everything the core queued with [`Chat::drain`] and carry it out in order.
//! 2. **Durability before delivery.** Every entry of [`Drain::persist`] must be durably
//!    committed before anything of [`Drain::rest`] is carried out. Batch all inputs waiting,
//!    drain once, commit the drain's entries in one transaction (group commit,
//!    [`Drain::commit`]), then deliver. No message is acknowledged or shown before it is durable.
//!    Answer each [`Output::Load`] with [`Input::Loaded`] after that commit, and drain again.
//! 3. **Restore on commit failure.** If a commit fails, carry out nothing of that drain: replace
//!    the `Chat` with [`Chat::restore`] from the journal's snapshot and close every session
//!    (clients reconnect and `resume`).
//! 4. **Tick.** Call `handle(now, Input::Tick)` when [`Chat::poll_timeout`] is reached.
//! 5. **Time never goes back.** Pass the current wall-clock time in ms; the core clamps it so it
//!    never decreases, and stamps messages with it.
//!
//! [`Chat::poll_output`] hands out the same outputs one by one, `Persist`s in place, for a
//! driver that splits them itself; the rules are the same.
//!
//! # Features
//!
//! - `codec` (default): the JSON and MessagePack codecs (`Codec`, `codec` module).
//! - `testing` (off): `chat_core::testing`, the kit our own tests run on, for testing an
//!   application, a driver or a [`Journal`] of your own: a virtual-time simulator, a naive
//!   reference model checked after every step, proptest strategies for operation traces
//!   (docs/testing.md). Adds the `proptest` dependency; the default build gains nothing.
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
//!         msg: ClientMsg::SendMessage {
//!             room: lobby,
//!             content: "hi @bob".into(),
//!             client_id: None,
//!             reply_to: None,
//!             attachments: Vec::new(),
//!         },
//!     },
//! ];
//! for input in inputs {
//!     chat.handle(now, input); // rule 1: in order
//! }
//!
//! let mut bob_saw_mention = false;
//! loop {
//!     let drain = chat.drain();
//!     if drain.is_empty() {
//!         break;
//!     }
//!     // Rule 2: one group commit, then the rest in order. Rule 3 on failure.
//!     let rest = match drain.commit(&mut journal) {
//!         Ok(rest) => rest,
//!         Err(_) => {
//!             chat = Chat::restore(Config::default(), journal.snapshot().unwrap());
//!             break; // and close every session
//!         }
//!     };
//!     let mut loads = Vec::new();
//!     for output in rest {
//!         match output {
//!             Output::Deliver { sessions, msg } => {
//!                 // Encode `msg` once, queue it to each session.
//!                 if let ServerMsg::MentionNotification(n) = &*msg {
//!                     bob_saw_mention |= sessions.contains(&SessionId(2)) && n.sender == alice;
//!                 }
//!             }
//!             Output::Load { load, query } => loads.push((load, query)),
//!             _ => {} // Reply (REST answers) and Close (drop the session) in a real driver
//!         }
//!     }
//!     for (load, query) in loads {
//!         let result = journal.history(&query).map_err(chat_core::LoadError::journal);
//!         chat.handle(now, Input::Loaded { load, result });
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

pub mod attachment;
mod chat;
mod driver;
mod emoji;
/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
#[cfg(feature = "codec")]
pub mod codec;
mod error;
pub mod fold;
mod hash;
pub mod journal;
pub mod log;
pub mod mention;
mod name;
pub mod protocol;
mod room;
mod session;
mod snapshot;
#[cfg(feature = "testing")]
pub mod testing;
mod time;
mod typing;

pub use chat::search::{
    DEFAULT_SEARCH_LIMIT, MAX_SEARCH_CURSOR_BYTES, MAX_SEARCH_LIMIT, MAX_SEARCH_QUERY_BYTES, SearchFailure,
    SearchFrame, SearchItem, SearchOrder, SearchRequest, SearchResults,
};
pub use chat::{Chat, CloseReason, Config, Input, LoadId, Output, RequestId};
#[cfg(feature = "codec")]
pub use codec::{Codec, DecodeError};
pub use driver::{Drain, LoadError};
pub use error::ErrorCode;
pub use journal::{HistoryQuery, HistoryRange, Journal, MemoryJournal};
pub use log::{LogEntry, Message, ReplyTo};
pub use name::{MAX_NAME_LEN, NameError, RoomName, UserName};
pub use protocol::{ClientMsg, ServerMsg};
pub use room::{RoomKey, RoomKeyError, RoomKind, RoomRef, RoomType};
pub use session::SessionId;
pub use snapshot::{
    CLIENT_ID_WINDOW, NOTIFICATION_INBOX_CAP, NOTIFICATION_PREVIEW_CHARS, Notification, NotificationKind, RoomState,
    Snapshot, Unread, UserState,
};
pub use time::Timestamp;
