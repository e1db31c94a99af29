//! A user's durable state: rooms, counters of their notification inbox and client-id window,
//! pending invitations.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::Snapshot;
use crate::name::UserName;
use crate::room::RoomKey;

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

impl Snapshot {
    /// A known user's durable state.
    pub fn user(&self, user: &UserName) -> Option<&UserState> {
        self.users.get(user)
    }

    /// Known users, in no particular order.
    pub fn users(&self) -> impl ExactSizeIterator<Item = &UserName> {
        self.users.keys()
    }
}

pub(crate) fn new_user() -> UserState {
    UserState { next_notification: 1, oldest_notification: 1, ..UserState::default() }
}
