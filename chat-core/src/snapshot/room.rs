//! A room's durable state and its membership (each member has a read cursor, [`super::read`]).

use std::collections::{BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use super::read::ReadState;
use super::user::new_user;
use super::{Snapshot, Touched, Tracker};
use crate::name::UserName;
use crate::room::{RoomKey, RoomKind};
use crate::time::Timestamp;

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

impl Snapshot {
    /// A room's durable state.
    pub fn room(&self, room: &RoomKey) -> Option<&RoomState> {
        self.rooms.get(room)
    }

    /// Every room with its state, in no particular order.
    pub fn rooms(&self) -> impl ExactSizeIterator<Item = (&RoomKey, &RoomState)> {
        self.rooms.iter()
    }

    /// Whether `user` is a member of `room` (they have a read cursor there).
    pub fn is_member(&self, user: &UserName, room: &RoomKey) -> bool {
        self.reads.contains_key(&(user.clone(), room.clone()))
    }

    pub(super) fn add_member(&mut self, room: &RoomKey, user: &UserName, touched: &mut impl Tracker) {
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

    pub(super) fn remove_member(&mut self, room: &RoomKey, user: &UserName, touched: &mut impl Tracker) {
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
}
