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
/// Directory page size (`list_rooms`, `list_users`, `my_rooms`) when a request gives none.
pub const DEFAULT_DIRECTORY_LIMIT: u32 = 100;
/// Largest directory page a `list_rooms` / `list_users` request may ask for.
pub const MAX_DIRECTORY_LIMIT: u32 = 1_000;
/// Most distinct emoji on one message (`too_many_reactions` beyond).
pub const MAX_DISTINCT_REACTIONS: usize = 20;
/// Most reactions of one user on one message.
pub const MAX_REACTIONS_PER_USER: usize = 5;
/// Most reactions (user and emoji pairs) on one message, so a message with its reactions
/// always fits a page.
pub const MAX_REACTIONS_PER_MESSAGE: usize = 1_000;
/// Most room summaries in `connected`, in one `room_summaries` page and in one `rooms` answer.
pub const SUMMARY_PAGE: usize = 100;

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
    /// Invite a user to a room (private rooms: owner only; public rooms: any member). The
    /// invitation is pending until the invitee accepts or declines it.
    Invite {
        /// The room.
        #[serde(flatten)]
        room: RoomRef,
        /// Who to invite.
        username: String,
    },
    /// Accept a pending invitation: the caller becomes a member.
    AcceptInvite {
        /// The room.
        #[serde(flatten)]
        room: RoomRef,
    },
    /// Decline a pending invitation.
    DeclineInvite {
        /// The room.
        #[serde(flatten)]
        room: RoomRef,
    },
    /// Remove a member from a private room, or withdraw a pending invitation to it (owner only).
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
        /// The `seq` of an earlier message of the same room this one answers (a deleted one is
        /// allowed and quotes nothing).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<u64>,
        /// Files the sender uploaded, by id (at most `Config::max_attachments_per_message`);
        /// with at least one, `content` may be empty.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        attachments: Vec<crate::attachment::AttachmentId>,
    },
    /// Replace the text of one of your own messages.
    EditMessage {
        /// The room.
        #[serde(flatten)]
        room: RoomRef,
        /// The message.
        seq: u64,
        /// The new text (the rules of `send_message`).
        content: String,
        /// Echoed in a refusal, so a client can tell which edit failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
    },
    /// Delete a message (yours, or any in a private room you own).
    DeleteMessage {
        /// The room.
        #[serde(flatten)]
        room: RoomRef,
        /// The message.
        seq: u64,
    },
    /// Add or remove your reaction to a message.
    React {
        /// The room.
        #[serde(flatten)]
        room: RoomRef,
        /// The message.
        seq: u64,
        /// One emoji (one grapheme cluster, at most 32 bytes, not plain ASCII).
        emoji: String,
        /// Add (`true`) or remove (`false`).
        add: bool,
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
        /// The context of message `around`: up to `limit / 2` messages before it, then it and
        /// the messages after it ([`HistoryRange::Around`](crate::HistoryRange::Around)).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        around: Option<u64>,
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
    /// A page of the public room directory, sorted by name.
    ListRooms(DirectoryQuery),
    /// A page of known users with their presence (for starting DMs), sorted by name.
    ListUsers(DirectoryQuery),
    /// The full member list of a room the caller belongs to (answered by `room_users_update`).
    RoomUsers {
        /// The room.
        #[serde(flatten)]
        room: RoomRef,
    },
    /// Full-text search of the messages of the rooms the caller is a member of now (answered
    /// by `search_results`; see [`SearchFrame`](crate::SearchFrame)).
    Search(crate::SearchFrame),
    /// A page of the caller's own rooms as summaries (answered by `rooms`), in room-key order.
    MyRooms {
        /// Rooms with a key after this one (the last key of the previous page).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<String>,
        /// At most this many (1–100, default 100).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
}

/// Which page of a directory (`list_rooms`, `list_users`) to answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryQuery {
    /// Only names that start with this (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Only names after this one (the `next` of the previous page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// At most this many (1–1,000, default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
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
    /// The last event (`rev`) the client saw in the room: changes after it to messages the
    /// client holds come back as `message_updates`. Without it, changes after the creation of
    /// message `last_seq` do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_rev: Option<u64>,
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
    /// Members and presence: full in `room_joined`, empty in `connected`, `room_summaries`
    /// and `rooms` (ask `room_users` for the room you open).
    #[serde(default)]
    pub users: Vec<UserPresence>,
    /// The other members' read cursors (for "seen by" after a reload; live changes arrive as
    /// `read_receipt`): in `room_joined` only, like `users`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read_receipts: Vec<MemberRead>,
    /// Whether this member may invite others (public rooms: any member; private: the owner).
    #[serde(default)]
    pub can_invite: bool,
    /// Whether this member may leave (not a DM, not the owner of a private room).
    #[serde(default)]
    pub can_leave: bool,
    /// Whether this member may remove others (the owner of a private room).
    #[serde(default)]
    pub can_remove: bool,
    /// Whether this member may delete other members' messages (the owner of a private room;
    /// everyone may delete their own).
    #[serde(default)]
    pub can_delete: bool,
}

/// A pending invitation to a room, until the invitee accepts or declines it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    /// The room key.
    pub room: RoomKey,
    /// Public or private.
    pub kind: RoomKind,
    /// Who invited.
    pub inviter: UserName,
    /// When.
    pub timestamp: Timestamp,
}

/// Why a pending invitation went away without the invitee accepting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum InvitationRemovedReason {
    /// The invitee declined it.
    Declined,
    /// The owner of the private room withdrew it (with `remove`).
    Revoked,
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
        /// Rooms the user is a member of: at most [`SUMMARY_PAGE`], without member lists.
        rooms: Vec<RoomSummary>,
        /// `true` when more rooms follow as `room_summaries` pages (in the same burst).
        #[serde(default)]
        more_rooms: bool,
        /// Pending invitations.
        #[serde(default)]
        invitations: Vec<Invitation>,
        /// Unread notifications.
        unread_notifications: u32,
    },
    /// More of the user's rooms after `connected` (`more_rooms: true`), without member lists.
    RoomSummaries {
        /// At most [`SUMMARY_PAGE`].
        rooms: Vec<RoomSummary>,
        /// `true` when another page follows.
        more: bool,
    },
    /// The answer to `my_rooms`: a page of the caller's rooms.
    Rooms {
        /// At most the requested limit, in room-key order, without member lists.
        rooms: Vec<RoomSummary>,
        /// Unread notifications.
        unread_notifications: u32,
        /// `true` when more rooms follow (ask again with `after` = the last room's key).
        more: bool,
    },
    /// A user who shares a room with you came online (first session) or went offline (last).
    Presence {
        /// The user.
        username: UserName,
        /// Online now?
        online: bool,
    },
    /// Someone became a member of one of your rooms.
    MemberJoined {
        /// The room key.
        room: RoomKey,
        /// The new member.
        username: UserName,
        /// Whether they are online.
        online: bool,
    },
    /// Someone stopped being a member of one of your rooms.
    MemberLeft {
        /// The room key.
        room: RoomKey,
        /// The former member.
        username: UserName,
        /// Left or removed.
        reason: LeaveReason,
    },
    /// You were invited to a room (accept with `accept_invite`, decline with `decline_invite`).
    Invitation(Invitation),
    /// Your invitation was recorded; the invitee decides.
    InviteSent {
        /// The room key.
        room: RoomKey,
        /// The invitee.
        username: UserName,
    },
    /// A pending invitation of yours went away (declined on another device, or withdrawn).
    InvitationRemoved {
        /// The room key.
        room: RoomKey,
        /// Why.
        reason: InvitationRemovedReason,
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
    /// A message's text changed (its sender edited it).
    MessageEdited {
        /// The room key.
        room: RoomKey,
        /// The message.
        seq: u64,
        /// This event's position among the room's events.
        rev: u64,
        /// The new text.
        content: String,
        /// The new mentions.
        mentions: Vec<UserName>,
        /// When.
        edited_at: Timestamp,
    },
    /// A message was deleted: show a tombstone (its content, mentions and reactions are gone).
    MessageDeleted {
        /// The room key.
        room: RoomKey,
        /// The message.
        seq: u64,
        /// This event's position among the room's events.
        rev: u64,
        /// When.
        deleted_at: Timestamp,
    },
    /// A reaction was added to or removed from a message.
    Reaction {
        /// The room key.
        room: RoomKey,
        /// The message.
        seq: u64,
        /// This event's position among the room's events.
        rev: u64,
        /// The emoji.
        emoji: String,
        /// Who reacted.
        username: UserName,
        /// Added (`true`) or removed.
        add: bool,
    },
    /// The current state of messages the client holds that changed while it was away (a page of
    /// the answer to `resume`, before the missed messages), or of one message (the answer to a
    /// lifecycle request that changed nothing). Replace your copies by `seq`.
    MessageUpdates {
        /// The room key.
        room: RoomKey,
        /// Messages in their current state, ascending by `seq`.
        messages: Vec<Message>,
        /// `true` when another `message_updates` page follows.
        #[serde(default)]
        more: bool,
        /// `true` on a page of the answer to `resume`; `false` on the answer to a lifecycle
        /// request that changed nothing (which ends no catch-up).
        #[serde(default)]
        resume: bool,
    },
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
    /// Members of a room and who is online (the answer to `room_users`, `remove`).
    RoomUsersUpdate {
        /// The room key.
        room: RoomKey,
        /// Members with presence.
        users: Vec<UserPresence>,
        /// The other members' read cursors.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        read_receipts: Vec<MemberRead>,
    },
    /// A new notification (you were mentioned, or got a DM).
    MentionNotification(Notification),
    /// The live count of unread notifications, and the notifications retracted (their message
    /// was deleted, or an edit removed the mention).
    NotificationUpdate {
        /// Unread notifications.
        unread: u32,
        /// Ids of notifications that are gone (absent when none).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        removed: Vec<u64>,
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
        /// `true` when the page was cut short and more messages are available in its direction.
        #[serde(default)]
        more: bool,
    },
    /// The client missed more than the server resends: reload the room from `latest_seq`.
    ResumeReset {
        /// The room key.
        room: RoomKey,
        /// The room's latest `seq` when the session connected.
        latest_seq: u64,
    },
    /// A page of the public room directory, sorted by name.
    RoomList {
        /// Public rooms.
        rooms: Vec<RoomInfo>,
        /// Present when more follow: pass it as `after` to get the next page.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<String>,
    },
    /// A page of known users, sorted by name.
    UserList {
        /// Users with presence.
        users: Vec<UserPresence>,
        /// Present when more follow: pass it as `after` to get the next page.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<String>,
    },
    /// The answer to `search`: a page of hits, each in a room the caller is a member of.
    SearchResults(crate::SearchResults),
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
