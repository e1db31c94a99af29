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

/// One stored chat message in its current state. Also the body of the `message` event and of
/// `history` and `message_updates` items on the wire.
///
/// A new message has no `edited_at`, `deleted_at`, reactions or `deleted` flag; a journal keeps
/// the current state ([`Message::apply_change`]) and answers history with it. A deleted message
/// is a tombstone: `seq`, `rev`, `sender`, `timestamp`, `reply_to` and `deleted_at` stay, the
/// content, mentions, reactions, client id and edit time are gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The room key.
    pub room: RoomKey,
    /// Position among the room's messages: gap-free, starting at 1.
    pub seq: u64,
    /// Position among the room's events (messages, edits, deletions, reactions): the event that
    /// created this message. Gap-free per room, starting at 1.
    #[serde(default)]
    pub rev: u64,
    /// The `rev` of the latest event that changed this message (an edit, the deletion, a
    /// reaction); 0, and absent on the wire, while none has. A journal's history items carry it
    /// ([`Message::apply_change`] sets it), so a client holding a newer copy from a live event
    /// can tell a page's copy is older (docs/protocol.md, "Pages and live events").
    #[serde(default, skip_serializing_if = "is_zero")]
    pub changed_rev: u64,
    /// Server time of acceptance, ms since the Unix epoch.
    pub timestamp: Timestamp,
    /// Who sent it.
    pub sender: UserName,
    /// The text, as last edited (empty once deleted).
    pub content: String,
    /// Users this message mentions now (resolved: room members only, sender excluded, each once,
    /// `@room`/`@here` expanded).
    #[serde(default)]
    pub mentions: Vec<UserName>,
    /// The sender's idempotency key, if the client gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// When it was last edited; absent unless edited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<Timestamp>,
    /// `true` once deleted (absent otherwise).
    #[serde(default, skip_serializing_if = "is_false")]
    pub deleted: bool,
    /// When it was deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<Timestamp>,
    /// The earlier message of the same room this one replies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<Box<ReplyTo>>,
    /// Reactions, in order of each emoji's first reaction (absent when none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<Reactions>,
    /// Files the message carries, as the driver resolved them when it was sent (absent when
    /// none; emptied when the message is deleted, which releases them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<crate::attachment::Attachment>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What a reply quotes of the message it answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyTo {
    /// The answered message.
    pub seq: u64,
    /// Its sender.
    pub sender: UserName,
    /// The start of its current text (at most [`REPLY_PREVIEW_CHARS`] characters); empty when it
    /// is deleted. A journal fills it from the target's current state when it reads history.
    #[serde(default)]
    pub preview: String,
}

/// Characters of the answered message's text a [`ReplyTo`] quotes.
pub const REPLY_PREVIEW_CHARS: usize = 120;

impl ReplyTo {
    /// The quote of `target` as it is now.
    pub fn of(target: &Message) -> ReplyTo {
        let preview = if target.deleted { String::new() } else { preview(&target.content, REPLY_PREVIEW_CHARS) };
        ReplyTo { seq: target.seq, sender: target.sender.clone(), preview }
    }
}

/// The first `chars` characters of `text`.
pub(crate) fn preview(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((end, _)) => text[..end].to_owned(),
        None => text.to_owned(),
    }
}

/// One emoji on a message and who reacted with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reactions {
    /// The emoji (one grapheme cluster).
    pub emoji: String,
    /// Who reacted, in order of reacting.
    pub users: Vec<UserName>,
}

impl Message {
    /// Applies a change entry ([`LogEntry::Edited`], [`LogEntry::Deleted`], [`LogEntry::Reacted`])
    /// of this message to its stored state; returns whether it changed anything. Entries of other
    /// messages and other kinds change nothing. This is the one interpreter of message changes:
    /// every journal keeps its stored messages with it (as it keeps the fold with
    /// [`Snapshot::apply`](crate::Snapshot::apply)).
    pub fn apply_change(&mut self, entry: &LogEntry) -> bool {
        match entry {
            LogEntry::Edited(e) if e.room == self.room && e.seq == self.seq && !self.deleted => {
                self.content.clone_from(&e.content);
                self.mentions.clone_from(&e.mentions);
                self.edited_at = Some(e.edited_at);
                self.changed_rev = e.rev;
                true
            }
            LogEntry::Deleted(d) if d.room == self.room && d.seq == self.seq && !self.deleted => {
                self.deleted = true;
                self.deleted_at = Some(d.deleted_at);
                self.content = String::new();
                self.mentions = Vec::new();
                self.reactions = Vec::new();
                self.attachments = Vec::new();
                self.client_id = None;
                self.edited_at = None;
                self.changed_rev = d.rev;
                true
            }
            LogEntry::Reacted(r) if r.room == self.room && r.seq == self.seq && !self.deleted => {
                let at = self.reactions.iter().position(|g| g.emoji == r.emoji);
                let changed = match (r.add, at) {
                    (true, Some(i)) if !self.reactions[i].users.contains(&r.user) => {
                        self.reactions[i].users.push(r.user.clone());
                        true
                    }
                    (true, None) => {
                        self.reactions.push(Reactions { emoji: r.emoji.clone(), users: vec![r.user.clone()] });
                        true
                    }
                    (false, Some(i)) => {
                        let users = &mut self.reactions[i].users;
                        let before = users.len();
                        users.retain(|u| u != &r.user);
                        let changed = users.len() != before;
                        if users.is_empty() {
                            self.reactions.remove(i);
                        }
                        changed
                    }
                    _ => false,
                };
                if changed {
                    self.changed_rev = r.rev;
                }
                changed
            }
            _ => false,
        }
    }
}

/// A message's text was edited (by its sender). Carries everything the fold needs: the mentions
/// before and after (to move highlights and notifications), the sender and the message's time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edit {
    /// The room.
    pub room: RoomKey,
    /// The edited message.
    pub seq: u64,
    /// This event's position among the room's events.
    pub rev: u64,
    /// The message's sender.
    pub sender: UserName,
    /// When the message was sent (notification time for a newly mentioned member).
    pub timestamp: Timestamp,
    /// The new text.
    pub content: String,
    /// The new mentions (resolved as for a new message).
    pub mentions: Vec<UserName>,
    /// The mentions before this edit.
    pub previous_mentions: Vec<UserName>,
    /// When.
    pub edited_at: Timestamp,
}

/// A message was deleted. Carries the deleted message's sender and its current mentions, so
/// the fold can drop highlights and retract notifications without the message body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deletion {
    /// The room.
    pub room: RoomKey,
    /// The deleted message.
    pub seq: u64,
    /// This event's position among the room's events.
    pub rev: u64,
    /// The message's sender.
    pub sender: UserName,
    /// Its mentions when it was deleted.
    pub mentions: Vec<UserName>,
    /// When.
    pub deleted_at: Timestamp,
}

/// A reaction was added to or removed from a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    /// The room.
    pub room: RoomKey,
    /// The message.
    pub seq: u64,
    /// This event's position among the room's events.
    pub rev: u64,
    /// Who reacted.
    pub user: UserName,
    /// The emoji.
    pub emoji: String,
    /// Added (`true`) or removed.
    pub add: bool,
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
    /// A message was accepted (its `rev` is the room's next event). Also moves the sender's read cursor to it, raises highlights and
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
    /// A message was edited. Moves highlights and notifications with its mentions.
    Edited(Box<Edit>),
    /// A message was deleted: its content is gone, it stops counting as unread, its highlights
    /// and notifications go.
    Deleted(Box<Deletion>),
    /// A reaction was added or removed (counts never change).
    Reacted(Box<Reaction>),
    /// Some of a user's notifications were marked read.
    NotificationsRead {
        /// The user.
        user: UserName,
        /// Notification ids; `None` marks all of them read.
        ids: Option<Vec<u64>>,
    },
}

impl LogEntry {
    /// The message a change entry ([`LogEntry::Edited`], [`LogEntry::Deleted`],
    /// [`LogEntry::Reacted`]) acts on, with the entry's `rev`; `None` for other entries.
    pub fn changed_message(&self) -> Option<(&RoomKey, u64, u64)> {
        match self {
            LogEntry::Edited(e) => Some((&e.room, e.seq, e.rev)),
            LogEntry::Deleted(d) => Some((&d.room, d.seq, d.rev)),
            LogEntry::Reacted(r) => Some((&r.room, r.seq, r.rev)),
            _ => None,
        }
    }
}
