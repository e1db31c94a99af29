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
use std::hash::Hasher;

use serde::{Deserialize, Serialize};

use crate::hash::{FxBuild, FxHasher};
use crate::log::{LogEntry, Message};
use crate::name::UserName;
use crate::room::{RoomKey, RoomKind};
use crate::time::Timestamp;

mod lifecycle;

/// The most notifications kept per user; older ones are dropped, oldest first.
pub const NOTIFICATION_INBOX_CAP: u64 = 500;
/// The most recent client ids remembered per user for idempotent sends.
pub const CLIENT_ID_WINDOW: u64 = 1_000;
/// Characters of message text kept in a notification's preview.
pub const NOTIFICATION_PREVIEW_CHARS: usize = 120;

/// Everything durable about one user. Also the value of a user row ([`crate::fold`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserState {
    /// Rooms the user is a member of.
    pub(crate) rooms: BTreeSet<RoomKey>,
    /// Id the next notification gets (ids start at 1).
    pub(crate) next_notification: u64,
    /// Smallest notification id still kept.
    pub(crate) oldest_notification: u64,
    /// Notifications kept and not yet read.
    pub(crate) unread_notifications: u32,
    /// Position the next remembered client id gets.
    pub(crate) next_client_id: u64,
    /// Position of the oldest client id still remembered.
    pub(crate) oldest_client_id: u64,
    /// Pending invitations, oldest first, at most one per room (absent from rows that have
    /// none, so rows written before invitations existed read back unchanged).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) invitations: Vec<crate::protocol::Invitation>,
}

impl UserState {
    /// Rooms the user is a member of, sorted.
    pub fn rooms(&self) -> impl ExactSizeIterator<Item = &RoomKey> {
        self.rooms.iter()
    }

    /// Whether the user is a member of `room`.
    pub fn in_room(&self, room: &RoomKey) -> bool {
        self.rooms.contains(room)
    }

    /// Notifications kept and not yet read.
    pub fn unread_notifications(&self) -> u32 {
        self.unread_notifications
    }

    /// Pending invitations, oldest first.
    pub fn invitations(&self) -> &[crate::protocol::Invitation] {
        &self.invitations
    }

    /// The pending invitation to `room`, if any.
    pub fn invitation(&self, room: &RoomKey) -> Option<&crate::protocol::Invitation> {
        self.invitations.iter().find(|i| &i.room == room)
    }
}

/// Everything durable about one room. Also the value of a room row ([`crate::fold`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomState {
    /// Public, private or DM.
    pub(crate) kind: RoomKind,
    /// Owner of a private room.
    pub(crate) owner: Option<UserName>,
    /// Creation time.
    pub(crate) created: Timestamp,
    /// Members (persistent; presence is separate).
    pub(crate) members: BTreeSet<UserName>,
    /// `seq` of the latest message, 0 for none.
    pub(crate) last_seq: u64,
    /// Time of the latest message (creation time before any).
    pub(crate) last_timestamp: Timestamp,
    /// `rev` of the latest event (message, edit, deletion, reaction), 0 for none. Absent from
    /// rows written before events were numbered (schema v2 migrates it to `last_seq`).
    #[serde(default)]
    pub(crate) last_rev: u64,
}

impl RoomState {
    /// Public, private or DM.
    pub fn kind(&self) -> RoomKind {
        self.kind
    }

    /// The owner of a private room (its creator); `None` otherwise.
    pub fn owner(&self) -> Option<&UserName> {
        self.owner.as_ref()
    }

    /// Creation time.
    pub fn created(&self) -> Timestamp {
        self.created
    }

    /// Members, sorted (persistent membership; presence is separate).
    pub fn members(&self) -> impl ExactSizeIterator<Item = &UserName> {
        self.members.iter()
    }

    /// Whether `user` is a member.
    pub fn has_member(&self, user: &UserName) -> bool {
        self.members.contains(user)
    }

    /// `seq` of the latest message, 0 for none.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Time of the latest message (creation time before any).
    pub fn last_timestamp(&self) -> Timestamp {
        self.last_timestamp
    }

    /// `rev` of the latest event (message, edit, deletion or reaction), 0 for none.
    pub fn last_rev(&self) -> u64 {
        self.last_rev
    }
}

/// One member's read position in one room (a journal stores it as a read row and one
/// highlight row per highlight, [`crate::fold`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ReadState {
    /// Everything up to and including this `seq` is read.
    pub(crate) seq: u64,
    /// `seq`s after the cursor that mention this member, ascending (group rooms only: in a DM
    /// every unread message is a highlight).
    pub(crate) highlights: VecDeque<u64>,
}

/// Why a notification was raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// The user was @mentioned in a group room.
    Mention,
    /// The user received a direct message.
    Dm,
}

/// An entry in a user's notification inbox. Also the body of `mention_notification`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Per-user id, increasing from 1.
    pub id: u64,
    /// Why.
    pub kind: NotificationKind,
    /// Where.
    pub room: RoomKey,
    /// Which message.
    pub seq: u64,
    /// Who sent it.
    pub sender: UserName,
    /// The start of the message text.
    pub preview: String,
    /// When the message was sent.
    pub timestamp: Timestamp,
    /// Whether the user marked it read.
    pub read: bool,
}

/// What a remembered client id maps to. Also the value of a client-id row ([`crate::fold`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientIdRecord {
    /// The room of the original message.
    pub room: RoomKey,
    /// Its `seq`.
    pub seq: u64,
    /// Its timestamp.
    pub timestamp: Timestamp,
    /// Position in the user's window (for eviction).
    pub position: u64,
}

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

/// One user's most recent client ids, in the order they were remembered (internal: a journal
/// sees them as rows, [`crate::fold::Row::ClientId`]).
///
/// Entries sit in a ring, oldest first, each with its id's hash; the index holds positions only.
/// A lookup borrows the caller's `&str` and touches the index and one entry; remembering and
/// forgetting touch the ring's two ends; the index rehashes from the stored hashes, never
/// re-reading an id.
#[derive(Clone, Default)]
pub(crate) struct ClientIdWindow {
    /// Oldest first; `entries[k].record.position == entries[0].record.position + k`.
    entries: VecDeque<Remembered>,
    /// Positions, hashed by their entry's `hash`.
    index: hashbrown::HashTable<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Remembered {
    hash: u64,
    id: Box<str>,
    record: ClientIdRecord,
}

fn hash_client_id(id: &str) -> u64 {
    let mut h = FxHasher::default();
    h.write(id.as_bytes());
    h.finish()
}

/// Why [`ClientIdWindow::push`] refused an entry.
enum PushError {
    /// The id is already remembered.
    Known,
    /// The position does not follow the newest entry's.
    OutOfStep(ClientIdRecord),
}

impl PartialEq for ClientIdWindow {
    fn eq(&self, other: &ClientIdWindow) -> bool {
        self.entries == other.entries // the index is derived from them
    }
}

impl Eq for ClientIdWindow {}

impl std::fmt::Debug for ClientIdWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Why a client-id row was refused ([`crate::fold::Builder::client_id`]): a journal rebuilds each
/// window from its rows, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientIdWindowError {
    /// The id is already in the window.
    #[error("client id {client_id:?} is already remembered")]
    Repeated {
        /// The refused id.
        client_id: String,
    },
    /// The position does not follow the newest entry's.
    #[error("client id {client_id:?} at position {position} does not follow the window (next is {expected})")]
    OutOfOrder {
        /// The refused id.
        client_id: String,
        /// Its position.
        position: u64,
        /// The position that would have been accepted.
        expected: u64,
    },
}

impl ClientIdWindow {
    /// The record of `client_id`, if remembered.
    pub(crate) fn get(&self, client_id: &str) -> Option<&ClientIdRecord> {
        self.find(hash_client_id(client_id), client_id)
    }

    fn find(&self, hash: u64, client_id: &str) -> Option<&ClientIdRecord> {
        let first = self.oldest_position()?;
        let entry = |p: u64| &self.entries[(p - first) as usize];
        let position = self.index.find(hash, |&p| entry(p).hash == hash && &*entry(p).id == client_id)?;
        Some(&entry(*position).record)
    }

    /// The id remembered at `position`, with its record.
    pub(crate) fn at(&self, position: u64) -> Option<(&str, &ClientIdRecord)> {
        let first = self.oldest_position()?;
        let e = self.entries.get(usize::try_from(position.checked_sub(first)?).ok()?)?;
        Some((&e.id, &e.record))
    }

    /// Remembered ids with their records, oldest first.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = (&str, &ClientIdRecord)> {
        self.entries.iter().map(|e| (&*e.id, &e.record))
    }

    /// Number of remembered ids.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Appends the next id (how a journal rebuilds a window, oldest first). Its position must be
    /// the one after the newest entry's (any position for the first), and the id must be new.
    pub(crate) fn append(&mut self, client_id: &str, record: ClientIdRecord) -> Result<(), ClientIdWindowError> {
        let expected = self.entries.back().map_or(record.position, |e| e.record.position + 1);
        let client_id_owned = || client_id.to_owned();
        self.push(client_id, record).map_err(|e| match e {
            PushError::Known => ClientIdWindowError::Repeated { client_id: client_id_owned() },
            PushError::OutOfStep(record) => {
                ClientIdWindowError::OutOfOrder { client_id: client_id_owned(), position: record.position, expected }
            }
        })
    }

    fn push(&mut self, client_id: &str, record: ClientIdRecord) -> Result<(), PushError> {
        let expected = self.entries.back().map_or(record.position, |e| e.record.position + 1);
        let hash = hash_client_id(client_id);
        if self.find(hash, client_id).is_some() {
            return Err(PushError::Known);
        }
        if record.position != expected {
            return Err(PushError::OutOfStep(record));
        }
        let position = record.position;
        self.entries.push_back(Remembered { hash, id: client_id.into(), record });
        let ClientIdWindow { entries, index } = self;
        let first = entries[0].record.position;
        index.insert_unique(hash, position, |&p| entries[(p - first) as usize].hash);
        Ok(())
    }

    fn oldest_position(&self) -> Option<u64> {
        self.entries.front().map(|e| e.record.position)
    }

    /// Forgets the oldest id.
    fn pop_oldest(&mut self) -> Option<u64> {
        let oldest = self.entries.front()?;
        let position = oldest.record.position;
        if let Ok(slot) = self.index.find_entry(oldest.hash, |&p| p == position) {
            slot.remove();
        }
        self.entries.pop_front();
        Some(position)
    }
}

/// Unread state of one member in one room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Unread {
    /// The read cursor.
    pub read_seq: u64,
    /// Messages from others after the cursor.
    pub unread: u64,
    /// Those of them that mention the member (in a DM: all of them).
    pub highlight: u64,
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

    /// Unread counts of `user` in `room`, if they are a member.
    pub fn unread(&self, user: &UserName, room: &RoomKey) -> Option<Unread> {
        let state = self.rooms.get(room)?;
        let read = self.reads.get(&(user.clone(), room.clone()))?;
        // Every message after the cursor is someone else's (a sender's cursor moves to their own
        // message); the deleted ones among them do not count.
        let unread = state.last_seq.saturating_sub(read.seq).saturating_sub(self.deleted_after(room, read.seq));
        let highlight = if room.is_dm() { unread } else { read.highlights.len() as u64 };
        Some(Unread { read_seq: read.seq, unread, highlight })
    }

    /// Whether `user` is a member of `room` (they have a read cursor there).
    pub fn is_member(&self, user: &UserName, room: &RoomKey) -> bool {
        self.reads.contains_key(&(user.clone(), room.clone()))
    }

    /// The user's notifications, newest first, at most `limit`.
    pub fn notifications_of(&self, user: &UserName, limit: usize) -> Vec<Notification> {
        self.notifications.get(user).map_or_else(Vec::new, |inbox| inbox.iter().rev().take(limit).cloned().collect())
    }

    /// The user's notification `id`, if kept.
    pub fn notification(&self, user: &UserName, id: u64) -> Option<&Notification> {
        let inbox = self.notifications.get(user)?;
        inbox.binary_search_by_key(&id, |n| n.id).ok().map(|i| &inbox[i])
    }

    /// The user's newest notification, if they have one.
    pub fn newest_notification(&self, user: &UserName) -> Option<&Notification> {
        self.notifications.get(user)?.back()
    }

    /// The original message a `(user, client_id)` pair stored, if remembered.
    pub fn client_id(&self, user: &UserName, client_id: &str) -> Option<&ClientIdRecord> {
        self.client_ids.get(user)?.get(client_id)
    }

    /// How many client ids `user` has remembered (at most [`CLIENT_ID_WINDOW`]).
    pub fn client_id_count(&self, user: &UserName) -> usize {
        self.client_ids.get(user).map_or(0, ClientIdWindow::len)
    }

    /// How many notifications `user` has kept (at most [`NOTIFICATION_INBOX_CAP`]).
    pub fn notification_count(&self, user: &UserName) -> usize {
        self.notifications.get(user).map_or(0, VecDeque::len)
    }

    /// The user's unread notifications (0 for an unknown user).
    pub fn unread_notifications(&self, user: &UserName) -> u32 {
        self.users.get(user).map_or(0, |u| u.unread_notifications)
    }

    /// A known user's durable state.
    pub fn user(&self, user: &UserName) -> Option<&UserState> {
        self.users.get(user)
    }

    /// Known users, in no particular order.
    pub fn users(&self) -> impl ExactSizeIterator<Item = &UserName> {
        self.users.keys()
    }

    /// A room's durable state.
    pub fn room(&self, room: &RoomKey) -> Option<&RoomState> {
        self.rooms.get(room)
    }

    /// Every room with its state, in no particular order.
    pub fn rooms(&self) -> impl ExactSizeIterator<Item = (&RoomKey, &RoomState)> {
        self.rooms.iter()
    }

    fn add_member(&mut self, room: &RoomKey, user: &UserName, touched: &mut impl Tracker) {
        let Some(state) = self.rooms.get_mut(room) else { return };
        if !state.members.insert(user.clone()) {
            return;
        }
        let last_seq = state.last_seq;
        touched.touch(|| Touched::Room(room.clone()));
        let u = self.users.entry(user.clone()).or_insert_with(new_user);
        u.rooms.insert(room.clone());
        u.invitations.retain(|i| &i.room != room); // accepted (or made a member otherwise)
        touched.touch(|| Touched::User(user.clone()));
        let read = ReadState { seq: last_seq, highlights: VecDeque::new() };
        self.reads.insert((user.clone(), room.clone()), read);
        touched.touch(|| Touched::Read(user.clone(), room.clone()));
    }

    fn remove_member(&mut self, room: &RoomKey, user: &UserName, touched: &mut impl Tracker) {
        let Some(state) = self.rooms.get_mut(room) else { return };
        if !state.members.remove(user) {
            return;
        }
        touched.touch(|| Touched::Room(room.clone()));
        if let Some(u) = self.users.get_mut(user) {
            u.rooms.remove(room);
            touched.touch(|| Touched::User(user.clone()));
        }
        if self.reads.remove(&(user.clone(), room.clone())).is_some_and(|read| !read.highlights.is_empty()) {
            touched.touch(|| Touched::HighlightsThrough(user.clone(), room.clone(), u64::MAX));
        }
        touched.touch(|| Touched::Read(user.clone(), room.clone()));
    }

    fn apply_message(&mut self, m: &Message, touched: &mut impl Tracker) {
        let Some(state) = self.rooms.get_mut(&m.room) else { return };
        // A message written before events were numbered (rev 0) is its room's next event.
        if m.rev != 0 {
            state.last_rev = state.last_rev.max(m.rev);
        } else if m.seq > state.last_seq {
            state.last_rev += 1;
        }
        state.last_seq = state.last_seq.max(m.seq);
        state.last_timestamp = state.last_timestamp.max(m.timestamp);
        touched.touch(|| Touched::Room(m.room.clone()));
        let is_dm = m.room.is_dm();

        // The sender has read everything up to their own message.
        if let Some(read) = self.reads.get_mut(&(m.sender.clone(), m.room.clone())) {
            advance_cursor(read, m.seq, &m.sender, &m.room, touched);
        }

        // Highlights and notifications: each mentioned member once, and the DM peer.
        let dm_peer = m.room.dm_peer(&m.sender).cloned();
        for user in m.mentions.iter().chain(dm_peer.iter()) {
            if *user == m.sender {
                continue;
            }
            let Some(read) = self.reads.get_mut(&(user.clone(), m.room.clone())) else { continue };
            if !is_dm && m.seq > read.seq {
                // Entries arrive in seq order, so this inserts at the end: the deque stays
                // sorted, and a repeated entry finds its seq already there.
                if let Err(at) = read.highlights.binary_search(&m.seq) {
                    read.highlights.insert(at, m.seq);
                    touched.touch(|| Touched::Highlight(user.clone(), m.room.clone(), m.seq));
                }
            }
            let already = self.newest_notification(user).is_some_and(|n| n.room == m.room && n.seq == m.seq);
            if !already {
                let kind = if is_dm { NotificationKind::Dm } else { NotificationKind::Mention };
                let notice = Notice::of(m);
                self.push_notification(user, &notice, kind, touched);
            }
        }

        if let Some(client_id) = &m.client_id {
            self.remember_client_id(m, client_id, touched);
        }
    }

    pub(crate) fn push_notification(
        &mut self,
        user: &UserName,
        m: &Notice<'_>,
        kind: NotificationKind,
        touched: &mut impl Tracker,
    ) {
        let u = self.users.entry(user.clone()).or_insert_with(new_user);
        let id = u.next_notification;
        u.next_notification += 1;
        u.unread_notifications += 1;
        let preview = crate::log::preview(m.content, NOTIFICATION_PREVIEW_CHARS);
        let n = Notification {
            id,
            kind,
            room: m.room.clone(),
            seq: m.seq,
            sender: m.sender.clone(),
            preview,
            timestamp: m.timestamp,
            read: false,
        };
        let inbox = self.notifications.entry(user.clone()).or_default();
        inbox.push_back(n);
        touched.touch(|| Touched::Notification(user.clone(), id));
        while u.next_notification - u.oldest_notification > NOTIFICATION_INBOX_CAP {
            let old = u.oldest_notification;
            u.oldest_notification += 1;
            if inbox.front().is_some_and(|n| n.id == old)
                && let Some(evicted) = inbox.pop_front()
            {
                if !evicted.read {
                    u.unread_notifications = u.unread_notifications.saturating_sub(1);
                }
                touched.touch(|| Touched::Notification(user.clone(), old));
            }
        }
        touched.touch(|| Touched::User(user.clone()));
    }

    fn remember_client_id(&mut self, m: &Message, client_id: &str, touched: &mut impl Tracker) {
        let window = self.client_ids.entry(m.sender.clone()).or_default();
        let u = self.users.entry(m.sender.clone()).or_insert_with(new_user);
        let position = u.next_client_id;
        let record = ClientIdRecord { room: m.room.clone(), seq: m.seq, timestamp: m.timestamp, position };
        match window.push(client_id, record) {
            Ok(()) => {}
            Err(PushError::Known) => return,
            Err(PushError::OutOfStep(record)) => {
                // Only a window out of step with its user's counters gets here (a journal that
                // rebuilt one from damaged rows): start it over from this id.
                *window = ClientIdWindow::default();
                let _ = window.push(client_id, record);
            }
        }
        u.next_client_id += 1;
        touched.touch(|| Touched::ClientId(m.sender.clone(), position));
        while u.next_client_id - u.oldest_client_id > CLIENT_ID_WINDOW {
            let old = u.oldest_client_id;
            u.oldest_client_id += 1;
            if window.oldest_position() == Some(old) && window.pop_oldest().is_some() {
                touched.touch(|| Touched::ClientId(m.sender.clone(), old));
            }
        }
        touched.touch(|| Touched::User(m.sender.clone()));
    }

    fn read_notifications(&mut self, user: &UserName, ids: Option<&[u64]>, touched: &mut impl Tracker) {
        let Some(u) = self.users.get_mut(user) else { return };
        let Some(inbox) = self.notifications.get_mut(user) else { return };
        let mut changed = false;
        let mut mark = |n: &mut Notification| {
            if !n.read {
                n.read = true;
                u.unread_notifications = u.unread_notifications.saturating_sub(1);
                touched.touch(|| Touched::Notification(user.clone(), n.id));
                changed = true;
            }
        };
        match ids {
            None => inbox.iter_mut().for_each(&mut mark),
            Some(ids) => {
                for id in ids {
                    if let Ok(i) = inbox.binary_search_by_key(id, |n| n.id) {
                        mark(&mut inbox[i]);
                    }
                }
            }
        }
        if changed {
            touched.touch(|| Touched::User(user.clone()));
        }
    }
}

/// What a notification is about: a message, or a message as an edit left it.
pub(crate) struct Notice<'a> {
    pub(crate) room: &'a RoomKey,
    pub(crate) seq: u64,
    pub(crate) sender: &'a UserName,
    pub(crate) content: &'a str,
    pub(crate) timestamp: Timestamp,
}

impl<'a> Notice<'a> {
    fn of(m: &'a Message) -> Notice<'a> {
        Notice { room: &m.room, seq: m.seq, sender: &m.sender, content: &m.content, timestamp: m.timestamp }
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

pub(crate) fn new_user() -> UserState {
    UserState { next_notification: 1, oldest_notification: 1, ..UserState::default() }
}

/// Moves `user`'s cursor in `room` forward (never back) and drops the highlights it passes,
/// reporting the read row and, when highlights were dropped, their range.
pub(crate) fn advance_cursor(
    read: &mut ReadState,
    seq: u64,
    user: &UserName,
    room: &RoomKey,
    touched: &mut impl Tracker,
) {
    if seq <= read.seq {
        return;
    }
    read.seq = seq;
    touched.touch(|| Touched::Read(user.clone(), room.clone()));
    if read.highlights.front().is_some_and(|&h| h <= seq) {
        while read.highlights.front().is_some_and(|&h| h <= seq) {
            read.highlights.pop_front();
        }
        touched.touch(|| Touched::HighlightsThrough(user.clone(), room.clone(), seq));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(position: u64) -> ClientIdRecord {
        ClientIdRecord { room: "group:lobby".parse().unwrap(), seq: position + 10, timestamp: Timestamp(7), position }
    }

    #[test]
    fn client_id_window_appends_in_order_and_finds_by_id_and_position() {
        let mut w = ClientIdWindow::default();
        for p in 5..8 {
            w.append(&format!("id-{p}"), record(p)).unwrap();
        }
        assert_eq!(w.len(), 3);
        assert_eq!(w.get("id-6").map(|r| r.seq), Some(16));
        assert_eq!(w.get("id-9"), None);
        assert_eq!(w.at(7).map(|(id, _)| id), Some("id-7"));
        assert_eq!(w.at(4), None);
        assert_eq!(w.at(8), None);
        assert_eq!(
            w.append("id-10", record(10)),
            Err(ClientIdWindowError::OutOfOrder { client_id: "id-10".into(), position: 10, expected: 8 })
        );
        assert_eq!(
            w.append("id-5", record(8)),
            Err(ClientIdWindowError::Repeated { client_id: "id-5".into() }),
            "a remembered id is refused"
        );
        assert_eq!(w.pop_oldest(), Some(5));
        assert_eq!(w.get("id-5"), None);
        assert_eq!(w.get("id-7").map(|r| r.position), Some(7));
        assert_eq!(w.iter().map(|(id, _)| id).collect::<Vec<_>>(), ["id-6", "id-7"]);
    }

    #[test]
    fn client_id_window_rebuilds_in_order_only() {
        let mut w = ClientIdWindow::default();
        w.append("b", record(2)).unwrap();
        assert!(w.append("a", record(1)).is_err(), "positions must follow the newest entry");
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn notifications_are_found_by_id_newest_and_page() {
        let mut s = Snapshot::default();
        let bob: UserName = "bob".parse().unwrap();
        let inbox: VecDeque<Notification> = (3..6)
            .map(|id| Notification {
                id,
                kind: NotificationKind::Mention,
                room: "group:lobby".parse().unwrap(),
                seq: id,
                sender: "alice".parse().unwrap(),
                preview: String::new(),
                timestamp: Timestamp(1),
                read: false,
            })
            .collect();
        s.notifications.insert(bob.clone(), inbox);
        assert_eq!(s.notification(&bob, 4).map(|n| n.id), Some(4));
        assert_eq!(s.notification(&bob, 2), None);
        assert_eq!(s.notification(&bob, 6), None);
        assert_eq!(s.newest_notification(&bob).map(|n| n.id), Some(5));
        assert_eq!(s.notifications_of(&bob, 2).iter().map(|n| n.id).collect::<Vec<_>>(), [5, 4]);
    }
}
