//! The wire protocol: [`ClientMsg`] (client → server) and [`ServerMsg`] (server → client).
//!
//! Every frame is an object with a `type` field in snake_case; `docs/protocol.md` is the
//! reference. Field names follow the seed (`room_type`, `room_name`, `target`, `content`, and
//! `room` carrying the room key).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;
use crate::log::Message;
use crate::name::UserName;
use crate::room::{RoomKey, RoomKind, RoomRef};
use crate::snapshot::Notification;
use crate::time::Timestamp;

/// Largest page a `history` request may ask for.
pub const MAX_HISTORY_LIMIT: u32 = 100;
/// Page size when a `history` request gives none.
pub const DEFAULT_HISTORY_LIMIT: u32 = 50;
/// Longest client id, in bytes.
pub const MAX_CLIENT_ID_LEN: usize = 64;

/// A frame from a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ClientMsg {
    /// Join (become a member of) a room. Public rooms are created on first join; a DM room is
    /// created between the caller and `target`.
    JoinRoom {
        /// The room.
        #[serde(flatten)]
        room: RoomRef,
    },
    /// Leave a group room (membership ends; DMs cannot be left).
    LeaveRoom {
        /// The room.
        #[serde(flatten)]
        room: RoomRef,
    },
    /// Create a group room; `private` rooms are invite-only and owned by the caller.
    CreateRoom {
        /// The new room's name.
        room_name: String,
        /// Invite-only?
        #[serde(default)]
        private: bool,
    },
    /// Add a user to a room (private rooms: owner only; public rooms: any member).
    Invite {
        /// The room.
        #[serde(flatten)]
        room: RoomRef,
        /// Who to add.
        username: String,
    },
    /// Remove a member from a private room (owner only).
    Remove {
        /// The room.
        #[serde(flatten)]
        room: RoomRef,
        /// Who to remove.
        username: String,
    },
    /// Send a message.
    SendMessage {
        /// The room (a DM room is created on first message).
        #[serde(flatten)]
        room: RoomRef,
        /// The text.
        content: String,
        /// Idempotency key: a retry with the same id returns the original message.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
    },
    /// Move the read cursor forward (to `seq`, or to the latest message).
    MarkRead {
        /// The room.
        #[serde(flatten)]
        room: RoomRef,
        /// Read up to here; latest when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    /// Typing indicator (expires on its own after a few seconds).
    Typing {
        /// The room.
        #[serde(flatten)]
        room: RoomRef,
        /// `false` stops it early.
        #[serde(default = "yes")]
        active: bool,
    },
    /// A page of history: before `before`, or after `after`, or the latest.
    History {
        /// The room.
        #[serde(flatten)]
        room: RoomRef,
        /// Messages with `seq < before`, newest of them.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<u64>,
        /// Messages with `seq > after`, oldest of them.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<u64>,
        /// At most this many (≤ 100, default 50).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// After a reconnect: the last `seq` seen per room; the server sends what was missed.
    Resume {
        /// One entry per room.
        rooms: Vec<ResumePoint>,
    },
    /// List the caller's notifications (newest first).
    Notifications {
        /// At most this many (≤ 100, default 50).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// Mark notifications read: these ids, or all when `ids` is absent.
    MarkNotificationsRead {
        /// The ids; all when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ids: Option<Vec<u64>>,
    },
    /// The public room directory.
    ListRooms,
    /// Known users with their presence (for starting DMs).
    ListUsers,
}

fn yes() -> bool {
    true
}

/// A room and the last `seq` the client holds for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumePoint {
    /// The room key.
    pub room: String,
    /// The last `seq` the client saw (0 for none).
    pub last_seq: u64,
}

/// A user and whether they are online now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPresence {
    /// The user.
    pub username: UserName,
    /// Has at least one connected session.
    pub online: bool,
}

/// A room as one member sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSummary {
    /// The room key.
    pub room: RoomKey,
    /// Public, private or DM.
    pub kind: RoomKind,
    /// Owner of a private room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<UserName>,
    /// `seq` of the latest message (0 for none).
    pub last_seq: u64,
    /// Time of the latest message.
    pub last_timestamp: Timestamp,
    /// The member's read cursor.
    pub read_seq: u64,
    /// Messages from others after the cursor.
    pub unread: u64,
    /// Those that mention the member (DM: all).
    pub highlight: u64,
    /// Members and presence.
    pub users: Vec<UserPresence>,
    /// The other members' read cursors (for "seen by" after a reload; live changes arrive as
    /// `read_receipt`).
    #[serde(default)]
    pub read_receipts: Vec<MemberRead>,
}

/// Another member's read cursor in a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRead {
    /// The member.
    pub username: UserName,
    /// Everything up to this `seq` is read.
    pub seq: u64,
}

/// A public room in the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomInfo {
    /// The room key.
    pub room: RoomKey,
    /// Number of members.
    pub members: usize,
    /// Time of the latest message.
    pub last_timestamp: Timestamp,
}

/// Why a room was left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaveReason {
    /// The user left.
    Left,
    /// The owner removed them.
    Removed,
}

/// A frame to a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ServerMsg {
    /// The session is live: who you are, your rooms with unread counts, your notification count.
    Connected {
        /// The session id the driver minted.
        session: u64,
        /// The authenticated user.
        username: UserName,
        /// Rooms the user is a member of.
        rooms: Vec<RoomSummary>,
        /// Unread notifications.
        unread_notifications: u32,
    },
    /// The user is now a member of this room (joined, created, invited, or a DM started).
    RoomJoined(RoomSummary),
    /// The user is no longer a member.
    RoomLeft {
        /// The room key.
        room: RoomKey,
        /// Left or removed.
        reason: LeaveReason,
    },
    /// A new message in one of the user's rooms (the same allocation as its
    /// [`LogEntry::Message`](crate::LogEntry::Message)).
    Message(Arc<Message>),
    /// The sender's acknowledgement: the message is durably stored as `seq`.
    Ack {
        /// The room key.
        room: RoomKey,
        /// Where it is stored.
        seq: u64,
        /// Its server timestamp.
        timestamp: Timestamp,
        /// The client id it was sent with.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        /// `true` when this was a retry of an already stored message.
        #[serde(default)]
        duplicate: bool,
    },
    /// Members of a room and who is online.
    RoomUsersUpdate {
        /// The room key.
        room: RoomKey,
        /// Members with presence.
        users: Vec<UserPresence>,
    },
    /// A new notification (you were mentioned, or got a DM).
    MentionNotification(Notification),
    /// The live count of unread notifications.
    NotificationUpdate {
        /// Unread notifications.
        unread: u32,
    },
    /// The answer to `notifications`.
    Notifications {
        /// Newest first.
        items: Vec<Notification>,
        /// Unread notifications.
        unread: u32,
    },
    /// Another member read up to `seq`.
    ReadReceipt {
        /// The room key.
        room: RoomKey,
        /// The reader.
        username: UserName,
        /// Their new cursor.
        seq: u64,
    },
    /// Your own read state changed (from this or another of your sessions).
    ReadState {
        /// The room key.
        room: RoomKey,
        /// The cursor.
        read_seq: u64,
        /// Unread messages.
        unread: u64,
        /// Unread highlights.
        highlight: u64,
    },
    /// Someone is (or stopped) typing.
    Typing {
        /// The room key.
        room: RoomKey,
        /// Who.
        username: UserName,
        /// Started (`true`) or stopped/expired (`false`).
        active: bool,
    },
    /// A page of messages, ascending by `seq`; `resume` marks the answer to `resume`.
    History {
        /// The room key.
        room: RoomKey,
        /// Messages, ascending.
        messages: Vec<Message>,
        /// Whether this answers a `resume`.
        #[serde(default)]
        resume: bool,
    },
    /// The client missed more than the server resends: reload the room from `latest_seq`.
    ResumeReset {
        /// The room key.
        room: RoomKey,
        /// The room's latest `seq` when the session connected.
        latest_seq: u64,
    },
    /// The public room directory.
    RoomList {
        /// Public rooms.
        rooms: Vec<RoomInfo>,
    },
    /// Known users.
    UserList {
        /// Users with presence.
        users: Vec<UserPresence>,
    },
    /// A refused request. `code` is stable; `message` is for people.
    Error {
        /// Stable snake_case code.
        code: ErrorCode,
        /// Human-readable explanation.
        message: String,
        /// The room concerned, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        /// The client id of a refused `send_message`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
    },
}

impl ServerMsg {
    /// An `error` frame with no room or client id.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> ServerMsg {
        ServerMsg::Error { code, message: message.into(), room: None, client_id: None }
    }
}
