//! Operation traces and their proptest strategies.
//!
//! An [`Op`] names users, rooms and sessions by small indexes so that random traces collide
//! (the same room joined twice, a mention of a member, a retry with a used client id, an edit
//! of someone else's message, a reaction to a deleted one).
//! [`model::run`](super::model::run) plays a trace on a simulator and checks it against the
//! reference model; [`Op::to_client`] gives the frame an op sends, for drivers of your own.
//!
//! Compose the strategies with your own:
//!
//! ```
//! use chat_core::testing::strategy::{Op, op, trace};
//! use proptest::prelude::*;
//!
//! // Mostly sends, sometimes anything else.
//! let sends = prop_oneof![4 => op().prop_filter("sends", |o| matches!(o, Op::Send { .. })), 1 => op()];
//! let _mine = proptest::collection::vec(sends, 1..50);
//! let _theirs = trace(1..120);
//! ```

use proptest::prelude::*;

use crate::protocol::ResumePoint;
use crate::{ClientMsg, RoomRef, UserName};

/// The users of a trace; ops name them by index.
pub const USERS: [&str; 4] = ["ann", "bob", "cy", "dee"];
/// The emoji of [`Op::React`]; an index past them names `"x"`, which is not an emoji (refused).
pub const EMOJI: [&str; 3] = ["👍", "🎉", "😀"];
/// Session slots of a trace: at most this many sessions are live at once.
pub const SLOTS: usize = 3;

/// A room, relative to the session that names it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Target {
    /// `group:g0`, `group:g1` (public, joined on demand), `group:g2` (private, created by
    /// [`Op::CreatePrivate`]).
    Group(u8),
    /// The DM of the caller with `USERS[i]` (with themselves: refused).
    Dm(u8),
}

/// The text of a message, by what it tests.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Text {
    /// No mention.
    Plain,
    /// `@NAME` of `USERS[i]`, upper-cased (mentions are case-insensitive); an index past the
    /// users names nobody.
    Mention(u8),
    /// `@room`: every member.
    AtRoom,
    /// `@here`: every online member.
    AtHere,
    /// `name@example.com`: not a mention.
    Email(u8),
    /// A mention inside inline code: not a mention.
    Code(u8),
    /// Whitespace only: refused.
    Blank,
}

/// One operation of a trace.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[non_exhaustive]
pub enum Op {
    /// A session of `USERS[user]` connects in `slot` (nothing when the slot is taken).
    Connect {
        /// Which slot.
        slot: usize,
        /// Which user.
        user: u8,
    },
    /// The session in `slot` goes away.
    Disconnect {
        /// Which slot.
        slot: usize,
    },
    /// `join_room`.
    Join {
        /// Whose session.
        slot: usize,
        /// Which room.
        target: Target,
    },
    /// `leave_room` of `group:g<group>`.
    Leave {
        /// Whose session.
        slot: usize,
        /// Which group.
        group: u8,
    },
    /// `create_room` of the private `group:g2`.
    CreatePrivate {
        /// Whose session.
        slot: usize,
    },
    /// `invite` of `USERS[user]` to `group:g2`.
    Invite {
        /// Whose session.
        slot: usize,
        /// Whom.
        user: u8,
    },
    /// `remove` of `USERS[user]` from `group:g2`.
    Remove {
        /// Whose session.
        slot: usize,
        /// Whom.
        user: u8,
    },
    /// `send_message`.
    Send {
        /// Whose session.
        slot: usize,
        /// Where.
        target: Target,
        /// What.
        text: Text,
        /// A client id `<user>-<n>`, for idempotent retries.
        client_id: Option<u8>,
    },
    /// `mark_read` (up to `seq`, or everything).
    MarkRead {
        /// Whose session.
        slot: usize,
        /// Where.
        target: Target,
        /// Up to which message.
        seq: Option<u64>,
    },
    /// `typing` (active).
    Typing {
        /// Whose session.
        slot: usize,
        /// Where.
        target: Target,
    },
    /// `history` (a page of 5).
    History {
        /// Whose session.
        slot: usize,
        /// Where.
        target: Target,
        /// Before which message (the newest page without).
        before: Option<u64>,
    },
    /// `send_message` with `reply_to`: a reply to message `to` of the room.
    Reply {
        /// Whose session.
        slot: usize,
        /// Where.
        target: Target,
        /// What.
        text: Text,
        /// The answered message (0 or past the latest: refused).
        to: u64,
    },
    /// `edit_message` of message `seq` to [`Text::edited`].
    Edit {
        /// Whose session.
        slot: usize,
        /// Where.
        target: Target,
        /// Which message.
        seq: u64,
        /// The new text.
        text: Text,
    },
    /// `delete_message` of message `seq`.
    Delete {
        /// Whose session.
        slot: usize,
        /// Where.
        target: Target,
        /// Which message.
        seq: u64,
    },
    /// `delete_message` of message `seq` by `USERS[user]` as a server administrator
    /// ([`Input::AdminRequest`](crate::Input::AdminRequest), no session, no membership needed).
    AdminDelete {
        /// Which user.
        user: u8,
        /// Where (relative to that user).
        target: Target,
        /// Which message.
        seq: u64,
    },
    /// `react` with `EMOJI[emoji]` to message `seq`.
    React {
        /// Whose session.
        slot: usize,
        /// Where.
        target: Target,
        /// Which message.
        seq: u64,
        /// Which emoji ([`EMOJI`]).
        emoji: u8,
        /// Add or remove.
        add: bool,
    },
    /// A new session of `USERS[user]` resumes `target` as a client that saw the room up to its
    /// event `rev` (clamped to the room's latest), sending that `last_rev` or, without
    /// `with_rev`, only the `last_seq` it holds. The model checks that the client's copy of the
    /// room then equals the current state, then the session goes away.
    Resume {
        /// Which user.
        user: u8,
        /// Where (relative to that user).
        target: Target,
        /// The last event the client saw.
        rev: u64,
        /// Whether the resume names `last_rev`.
        with_rev: bool,
    },
    /// Virtual time passes (ticking on the way).
    Advance {
        /// How long.
        ms: u64,
    },
    /// The chat restarts from the journal; every session is gone.
    Restart,
}

impl Op {
    /// The session slot this op acts through, if any.
    pub fn slot(&self) -> Option<usize> {
        match self {
            Op::Connect { slot, .. }
            | Op::Disconnect { slot }
            | Op::Join { slot, .. }
            | Op::Leave { slot, .. }
            | Op::CreatePrivate { slot }
            | Op::Invite { slot, .. }
            | Op::Remove { slot, .. }
            | Op::Send { slot, .. }
            | Op::MarkRead { slot, .. }
            | Op::Typing { slot, .. }
            | Op::History { slot, .. }
            | Op::Reply { slot, .. }
            | Op::Edit { slot, .. }
            | Op::Delete { slot, .. }
            | Op::React { slot, .. } => Some(*slot),
            Op::AdminDelete { .. } | Op::Resume { .. } | Op::Advance { .. } | Op::Restart => None,
        }
    }

    /// The frame this op has the session of `me` send (for [`Op::AdminDelete`], the frame of the
    /// administrator's request); `None` for the ops that are not frames (connect, disconnect,
    /// time, restart) and for [`Op::Resume`], whose frame depends on the room ([`resume`]).
    pub fn to_client(&self, me: &UserName) -> Option<ClientMsg> {
        let msg = match self {
            Op::Join { target, .. } => ClientMsg::JoinRoom { room: target.to_ref(me) },
            Op::Leave { group, .. } => ClientMsg::LeaveRoom { room: by_key(&format!("group:g{group}")) },
            Op::CreatePrivate { .. } => ClientMsg::CreateRoom { room_name: "g2".into(), private: true },
            Op::Invite { user, .. } => {
                ClientMsg::Invite { room: by_key("group:g2"), username: user_name(*user).into() }
            }
            Op::Remove { user, .. } => {
                ClientMsg::Remove { room: by_key("group:g2"), username: user_name(*user).into() }
            }
            Op::Send { target, text, client_id, .. } => ClientMsg::SendMessage {
                attachments: Vec::new(),
                room: target.to_ref(me),
                content: text.content(),
                client_id: client_id.map(|c| format!("{me}-{c}")),
                reply_to: None,
            },
            Op::MarkRead { target, seq, .. } => ClientMsg::MarkRead { room: target.to_ref(me), seq: *seq },
            Op::Typing { target, .. } => ClientMsg::Typing { room: target.to_ref(me), active: true },
            Op::History { target, before, .. } => ClientMsg::History {
                room: target.to_ref(me),
                before: *before,
                after: None,
                limit: Some(5),
                around: None,
            },
            Op::Reply { target, text, to, .. } => ClientMsg::SendMessage {
                attachments: Vec::new(),
                room: target.to_ref(me),
                content: text.content(),
                client_id: None,
                reply_to: Some(*to),
            },
            Op::Edit { target, seq, text, .. } => {
                ClientMsg::EditMessage { room: target.to_ref(me), seq: *seq, content: text.edited(), client_id: None }
            }
            Op::Delete { target, seq, .. } | Op::AdminDelete { target, seq, .. } => {
                ClientMsg::DeleteMessage { room: target.to_ref(me), seq: *seq }
            }
            Op::React { target, seq, emoji, add, .. } => {
                ClientMsg::React { room: target.to_ref(me), seq: *seq, emoji: emoji_of(*emoji).into(), add: *add }
            }
            Op::Connect { .. } | Op::Disconnect { .. } | Op::Resume { .. } | Op::Advance { .. } | Op::Restart => {
                return None;
            }
        };
        Some(msg)
    }
}

/// The `resume` frame of a client that holds `room` up to message `last_seq` and saw its events
/// up to `last_rev`.
pub fn resume(room: &str, last_seq: u64, last_rev: Option<u64>) -> ClientMsg {
    ClientMsg::Resume { rooms: vec![ResumePoint { room: room.into(), last_seq, last_rev }] }
}

fn user_name(i: u8) -> &'static str {
    USERS.get(usize::from(i)).copied().unwrap_or("nobody")
}

/// `EMOJI[i]`, or `"x"` (not an emoji) past them.
pub fn emoji_of(i: u8) -> &'static str {
    EMOJI.get(usize::from(i)).copied().unwrap_or("x")
}

fn by_key(key: &str) -> RoomRef {
    RoomRef { room: Some(key.into()), ..RoomRef::default() }
}

impl Target {
    /// The room key this target names for `me` (`group:g0`, `dm:ann:bob`).
    pub fn key(&self, me: &UserName) -> String {
        match self {
            Target::Group(g) => format!("group:g{g}"),
            Target::Dm(u) => {
                let other = user_name(*u);
                let (a, b) = if me.as_str() < other { (me.as_str(), other) } else { (other, me.as_str()) };
                format!("dm:{a}:{b}")
            }
        }
    }

    /// A reference to the room by its key.
    pub fn to_ref(&self, me: &UserName) -> RoomRef {
        by_key(&self.key(me))
    }
}

impl Text {
    /// The message text.
    pub fn content(&self) -> String {
        let name = |i: &u8| user_name(*i);
        match self {
            Text::Plain => "hello there".into(),
            Text::Mention(i) => format!("hey @{}!", name(i).to_uppercase()),
            Text::AtRoom => "@room meeting".into(),
            Text::AtHere => "anyone @here?".into(),
            Text::Email(i) => format!("mail {}@example.com", name(i)),
            Text::Code(i) => format!("run `@{} --help`", name(i)),
            Text::Blank => "  ".into(),
        }
    }

    /// The text an [`Op::Edit`] sets: the content with ` (edited)` after it (whitespace only
    /// for [`Text::Blank`], refused), so an edit changes the text unless it repeats an edit.
    pub fn edited(&self) -> String {
        match self {
            Text::Blank => self.content(),
            _ => format!("{} (edited)", self.content()),
        }
    }
}

/// A room: mostly the busy public one, sometimes the others and DMs.
pub fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        6 => Just(Target::Group(0)),
        1 => Just(Target::Group(1)),
        2 => Just(Target::Group(2)),
        3 => (0u8..4).prop_map(Target::Dm),
    ]
}

/// A message text.
pub fn text() -> impl Strategy<Value = Text> {
    prop_oneof![
        4 => Just(Text::Plain),
        3 => (0u8..5).prop_map(Text::Mention),
        1 => Just(Text::AtRoom),
        1 => Just(Text::AtHere),
        1 => (0u8..4).prop_map(Text::Email),
        1 => (0u8..4).prop_map(Text::Code),
        1 => Just(Text::Blank),
    ]
}

/// One operation, weighted towards the ones that build state (connects, joins, sends, reads).
pub fn op() -> impl Strategy<Value = Op> {
    let slot = 0..SLOTS;
    prop_oneof![
        3 => (slot.clone(), 0u8..4).prop_map(|(slot, user)| Op::Connect { slot, user }),
        1 => slot.clone().prop_map(|slot| Op::Disconnect { slot }),
        3 => (slot.clone(), target()).prop_map(|(slot, target)| Op::Join { slot, target }),
        1 => (slot.clone(), 0u8..3).prop_map(|(slot, group)| Op::Leave { slot, group }),
        1 => slot.clone().prop_map(|slot| Op::CreatePrivate { slot }),
        1 => (slot.clone(), 0u8..4).prop_map(|(slot, user)| Op::Invite { slot, user }),
        1 => (slot.clone(), 0u8..4).prop_map(|(slot, user)| Op::Remove { slot, user }),
        8 => (slot.clone(), target(), text(), proptest::option::of(0u8..3))
            .prop_map(|(slot, target, text, client_id)| Op::Send { slot, target, text, client_id }),
        6 => (slot.clone(), target(), proptest::option::weighted(0.5, 0u64..12))
            .prop_map(|(slot, target, seq)| Op::MarkRead { slot, target, seq }),
        1 => (slot.clone(), target()).prop_map(|(slot, target)| Op::Typing { slot, target }),
        1 => (slot.clone(), target(), proptest::option::of(0u64..12))
            .prop_map(|(slot, target, before)| Op::History { slot, target, before }),
        2 => (slot.clone(), target(), text(), 0u64..12).prop_map(|(slot, target, text, to)| Op::Reply { slot, target, text, to }),
        3 => (slot.clone(), target(), 0u64..12, text()).prop_map(|(slot, target, seq, text)| Op::Edit { slot, target, seq, text }),
        2 => (slot.clone(), target(), 0u64..12).prop_map(|(slot, target, seq)| Op::Delete { slot, target, seq }),
        1 => (0u8..4, target(), 0u64..12).prop_map(|(user, target, seq)| Op::AdminDelete { user, target, seq }),
        3 => (slot.clone(), target(), 0u64..12, 0u8..4, proptest::bool::weighted(0.7))
            .prop_map(|(slot, target, seq, emoji, add)| Op::React { slot, target, seq, emoji, add }),
        1 => (0u8..4, target(), 0u64..40, any::<bool>())
            .prop_map(|(user, target, rev, with_rev)| Op::Resume { user, target, rev, with_rev }),
        1 => (0u64..8_000).prop_map(|ms| Op::Advance { ms }),
        1 => Just(Op::Restart),
    ]
}

/// A trace of [`op`]s, its length in `len`.
pub fn trace(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(op(), len)
}

/// One operation of the presence check ([`presence::run`](super::presence::run)): users by index
/// into [`USERS`], rooms by index into [`presence::ROOMS`](super::presence::ROOMS).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[non_exhaustive]
pub enum PresenceOp {
    /// A session of the user connects (nothing when one is live).
    Connect(u8),
    /// The user's session goes away.
    Disconnect(u8),
    /// The user joins the room.
    Join(u8, u8),
    /// The user leaves the room.
    Leave(u8, u8),
    /// The first user invites the second to the room.
    Invite(u8, u8, u8),
    /// The first user removes the second from the private room.
    Remove(u8, u8),
}

/// One presence operation.
pub fn presence_op() -> impl Strategy<Value = PresenceOp> {
    prop_oneof![
        3 => (0u8..4).prop_map(PresenceOp::Connect),
        2 => (0u8..4).prop_map(PresenceOp::Disconnect),
        4 => (0u8..4, 0u8..3).prop_map(|(u, r)| PresenceOp::Join(u, r)),
        2 => (0u8..4, 0u8..3).prop_map(|(u, r)| PresenceOp::Leave(u, r)),
        2 => (0u8..4, 0u8..4, 0u8..3).prop_map(|(u, v, r)| PresenceOp::Invite(u, v, r)),
        1 => (0u8..4, 0u8..4).prop_map(|(u, v)| PresenceOp::Remove(u, v)),
    ]
}
