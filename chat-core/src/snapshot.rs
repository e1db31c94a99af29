//! The persistent state of the chat as a pure fold of the log.
//!
//! [`Snapshot::apply`] is the only code that interprets a [`LogEntry`]. The live [`Chat`] applies
//! every entry it emits to its own snapshot, a journal applies the same entries when it commits,
//! and start-up restores from the journal's snapshot: so `restore(fold(log))` is the live state by
//! construction. The fold is total: an entry that does not fit the state (a message for an unknown
//! room, say) changes nothing, and no entry panics.
//!
//! Its layout is private: callers ask it questions ([`Snapshot::unread`], [`Snapshot::room`],
//! …). A journal that materialises the fold in tables reads and writes it as rows through
//! [`crate::fold`], whose shape is versioned.
//!
//! [`Chat`]: crate::Chat

use std::collections::{BTreeSet, HashMap, VecDeque};

use crate::hash::FxBuild;
use crate::log::LogEntry;
use crate::name::UserName;
use crate::room::RoomKey;

mod client_id;
mod lifecycle;
mod message;
mod notification;
mod read;
mod room;
mod user;

pub(crate) use client_id::ClientIdWindow;
pub use client_id::{CLIENT_ID_WINDOW, ClientIdRecord, ClientIdWindowError};
pub(crate) use notification::Notice;
pub use notification::{NOTIFICATION_INBOX_CAP, NOTIFICATION_PREVIEW_CHARS, Notification, NotificationKind};
pub use read::Unread;
pub(crate) use read::{ReadState, advance_cursor};
pub use room::RoomState;
pub use user::UserState;
pub(crate) use user::new_user;

/// A key of the snapshot that an entry changed: what a store must rewrite (or delete, when the
/// key is no longer present) to keep its materialised tables equal to the fold. The row under a
/// key is [`Snapshot::row`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Touched {
    /// The user row of `user`.
    User(UserName),
    /// The room row of `room`.
    Room(RoomKey),
    /// The read row of `(user, room)`: present while `user` is a member.
    Read(UserName, RoomKey),
    /// A range, not a row: every highlight row of `(user, room)` with `seq` at most this one is
    /// gone (the cursor passed them, or, with `u64::MAX`, the user left). Sorts before
    /// [`Touched::Highlight`], and a journal applies it first: the highlight rows of the same
    /// batch are then written from the final state.
    HighlightsThrough(UserName, RoomKey, u64),
    /// The highlight row `(user, room, seq)`: present while `seq` mentions `user` after their
    /// cursor (group rooms only).
    Highlight(UserName, RoomKey, u64),
    /// The notification `id` of `user` ([`Snapshot::notification`]).
    Notification(UserName, u64),
    /// The client id `user` remembered at this window position.
    ClientId(UserName, u64),
    /// The deletion row `(room, seq)`: present once message `seq` is deleted.
    Deleted(RoomKey, u64),
}

/// The state a [`Chat`](crate::Chat) needs at start-up: a pure fold of the log.
///
/// Build it with [`Snapshot::from_log`] / [`Snapshot::apply`], or from a journal's rows with
/// [`fold::Builder`](crate::fold::Builder); ask it with the query methods. Two snapshots are
/// equal when they hold the same state.
//
// Every map is a hash map with the deterministic Fx hasher: the core looks keys up on every
// message and lists them only rarely (sorted, when it does), and a B-tree costs a chain of key
// comparisons and cache misses per lookup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Known users.
    pub(crate) users: HashMap<UserName, UserState, FxBuild>,
    /// Rooms.
    pub(crate) rooms: HashMap<RoomKey, RoomState, FxBuild>,
    /// Read cursors: exactly one per (member, room), added and removed with the membership
    /// (so [`Snapshot::is_member`] is one hash lookup rather than a B-tree walk).
    pub(crate) reads: HashMap<(UserName, RoomKey), ReadState, FxBuild>,
    /// Notification inboxes: each user's kept notifications, oldest first, ids ascending
    /// (eviction drops the oldest; a retraction removes one from anywhere), found by binary
    /// search.
    pub(crate) notifications: HashMap<UserName, VecDeque<Notification>, FxBuild>,
    /// Deleted messages per room, `seq`s ascending: unread counts subtract those after a
    /// cursor (one binary search).
    pub(crate) deleted: HashMap<RoomKey, Vec<u64>, FxBuild>,
    /// Each user's remembered client ids (for idempotent sends), at most `CLIENT_ID_WINDOW`.
    pub(crate) client_ids: HashMap<UserName, ClientIdWindow, FxBuild>,
}

impl Snapshot {
    /// The fold of a whole log.
    pub fn from_log<'a>(entries: impl IntoIterator<Item = &'a LogEntry>) -> Snapshot {
        let mut snapshot = Snapshot::default();
        for entry in entries {
            snapshot.apply(entry);
        }
        snapshot
    }

    /// Applies one entry.
    pub fn apply(&mut self, entry: &LogEntry) {
        self.apply_tracked(entry, &mut NoTrack);
    }

    /// Applies one entry, reporting every key it changed to `touched` (possibly more than once).
    pub fn apply_with(&mut self, entry: &LogEntry, touched: &mut impl FnMut(Touched)) {
        self.apply_tracked(entry, &mut Track(touched));
    }

    fn apply_tracked(&mut self, entry: &LogEntry, touched: &mut impl Tracker) {
        match entry {
            LogEntry::UserAdded { user } => {
                if !self.users.contains_key(user) {
                    self.users.insert(user.clone(), new_user());
                    touched.touch(|| Touched::User(user.clone()));
                }
            }
            LogEntry::RoomCreated { room, kind, owner, timestamp } => {
                if !self.rooms.contains_key(room) {
                    let state = RoomState {
                        kind: *kind,
                        owner: owner.clone(),
                        created: *timestamp,
                        members: BTreeSet::new(),
                        last_seq: 0,
                        last_timestamp: *timestamp,
                        last_rev: 0,
                    };
                    self.rooms.insert(room.clone(), state);
                    touched.touch(|| Touched::Room(room.clone()));
                }
            }
            LogEntry::MemberAdded { room, user } => self.add_member(room, user, touched),
            LogEntry::MemberRemoved { room, user } => self.remove_member(room, user, touched),
            LogEntry::Invited { user, invitation } => {
                let u = self.users.entry(user.clone()).or_insert_with(new_user);
                if !u.rooms.contains(&invitation.room) && u.invitation(&invitation.room).is_none() {
                    u.invitations.push(crate::protocol::Invitation::clone(invitation));
                    touched.touch(|| Touched::User(user.clone()));
                }
            }
            LogEntry::InvitationRemoved { user, room } => {
                if let Some(u) = self.users.get_mut(user)
                    && u.invitation(room).is_some()
                {
                    u.invitations.retain(|i| &i.room != room);
                    touched.touch(|| Touched::User(user.clone()));
                }
            }
            LogEntry::Message(message) => self.apply_message(message, touched),
            LogEntry::ReadCursor { user, room, seq } => {
                if let Some(read) = self.reads.get_mut(&(user.clone(), room.clone())) {
                    advance_cursor(read, *seq, user, room, touched);
                }
            }
            LogEntry::NotificationsRead { user, ids } => self.read_notifications(user, ids.as_deref(), touched),
            LogEntry::Edited(edit) => self.apply_edit(edit, touched),
            LogEntry::Deleted(deletion) => self.apply_deletion(deletion, touched),
            LogEntry::Reacted(reaction) => self.apply_reaction(reaction, touched),
        }
    }
}

/// Where the fold reports touched keys. `NoTrack` skips building them (the live core's path).
pub(crate) trait Tracker {
    fn touch(&mut self, key: impl FnOnce() -> Touched);
}

struct NoTrack;

impl Tracker for NoTrack {
    #[inline]
    fn touch(&mut self, _key: impl FnOnce() -> Touched) {}
}

struct Track<'a, F: FnMut(Touched)>(&'a mut F);

impl<F: FnMut(Touched)> Tracker for Track<'_, F> {
    #[inline]
    fn touch(&mut self, key: impl FnOnce() -> Touched) {
        (self.0)(key())
    }
}
