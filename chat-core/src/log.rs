//! The log: every durable change the core makes, as a [`LogEntry`].
//!
//! The core emits entries as [`Output::Persist`](crate::Output::Persist); a journal stores them;
//! [`Snapshot::apply`](crate::Snapshot::apply) folds them into the state the core needs at start-up.
//! Entries are self-contained: folding never needs a clock, a random number or ephemeral state
//! (for example, `@here` is resolved to user names before the entry is written).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::name::UserName;
use crate::room::{RoomKey, RoomKind};
use crate::time::Timestamp;

/// One stored chat message. Also the body of the `message` event on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The room key.
    pub room: RoomKey,
    /// Position in the room: gap-free, starting at 1.
    pub seq: u64,
    /// Server time of acceptance, ms since the Unix epoch.
    pub timestamp: Timestamp,
    /// Who sent it.
    pub sender: UserName,
    /// The text as sent.
    pub content: String,
    /// Users this message mentions (resolved: room members only, sender excluded, each once,
    /// `@room`/`@here` expanded).
    #[serde(default)]
    pub mentions: Vec<UserName>,
    /// The sender's idempotency key, if the client gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// A durable change. Folding a log of these with [`Snapshot::apply`](crate::Snapshot::apply)
/// gives the core's persistent state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum LogEntry {
    /// A user became known (registered, or first connected).
    UserAdded {
        /// The user.
        user: UserName,
    },
    /// A room was created.
    RoomCreated {
        /// The room.
        room: RoomKey,
        /// Public, private or DM.
        kind: RoomKind,
        /// The owner of a private room (its creator); `None` otherwise.
        owner: Option<UserName>,
        /// Creation time.
        timestamp: Timestamp,
    },
    /// A user became a member of a room (join, invite, or DM creation). Their read cursor starts
    /// at the room's latest message: earlier history is not unread.
    MemberAdded {
        /// The room.
        room: RoomKey,
        /// The new member.
        user: UserName,
    },
    /// A user was invited to a room; the invitation is pending in their user state until they
    /// accept it (a `MemberAdded` for that room drops it) or it is removed.
    Invited {
        /// The invitee.
        user: UserName,
        /// The invitation.
        invitation: Box<crate::protocol::Invitation>,
    },
    /// A pending invitation went away (declined, or withdrawn by the room's owner).
    InvitationRemoved {
        /// The invitee.
        user: UserName,
        /// The room.
        room: RoomKey,
    },
    /// A user stopped being a member (leave or removal).
    MemberRemoved {
        /// The room.
        room: RoomKey,
        /// The former member.
        user: UserName,
    },
    /// A message was accepted. Also moves the sender's read cursor to it, raises highlights and
    /// adds a notification for each mentioned user (and for the other participant of a DM).
    ///
    /// Shared with the `message` event that delivers it ([`ServerMsg::Message`]), so the text is
    /// stored once.
    ///
    /// [`ServerMsg::Message`]: crate::ServerMsg::Message
    Message(Arc<Message>),
    /// A user's read cursor in a room moved forward.
    ReadCursor {
        /// The reader.
        user: UserName,
        /// The room.
        room: RoomKey,
        /// The new cursor (only ever larger than the old one).
        seq: u64,
    },
    /// Some of a user's notifications were marked read.
    NotificationsRead {
        /// The user.
        user: UserName,
        /// Notification ids; `None` marks all of them read.
        ids: Option<Vec<u64>>,
    },
}
