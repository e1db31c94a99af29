//! The recipient cache: each room's member sessions as one shared list, so a message to a room
//! is one `Deliver` with no per-message list building.

use std::sync::Arc;

use super::Chat;
use crate::hash::FxHashMap;
use crate::room::RoomKey;
use crate::session::{SessionId, Sessions};
use crate::snapshot::Snapshot;

/// Member sessions per room, built on first use and dropped when the room's membership or the
/// presence of one of its members changes.
///
/// Invariant: a cached list is exactly the live sessions of the room's members (members in name
/// order, each user's sessions in connect order), each once. Whoever changes membership or
/// sessions calls [`Recipients::invalidate`] for every room concerned.
#[derive(Debug, Default)]
pub(crate) struct Recipients {
    by_room: FxHashMap<RoomKey, Arc<[SessionId]>>,
}

impl Recipients {
    /// The room's member sessions (empty for an unknown room).
    pub(crate) fn of(&mut self, room: &RoomKey, state: &Snapshot, sessions: &Sessions) -> Arc<[SessionId]> {
        if let Some(cached) = self.by_room.get(room) {
            return cached.clone();
        }
        let list: Arc<[SessionId]> = match state.rooms.get(room) {
            Some(r) => r.members.iter().flat_map(|m| sessions.of(m).iter().copied()).collect(),
            None => Arc::from([]),
        };
        self.by_room.insert(room.clone(), list.clone());
        list
    }

    /// Forgets the room's list (after a membership or presence change).
    pub(crate) fn invalidate(&mut self, room: &RoomKey) {
        self.by_room.remove(room);
    }
}

impl Chat {
    /// Member sessions of a room (cached until membership or presence changes).
    pub(crate) fn room_sessions(&mut self, room: &RoomKey) -> Arc<[SessionId]> {
        self.recipients.of(room, &self.state, &self.sessions)
    }

    /// Forgets cached recipients of a room (after a membership change).
    pub(crate) fn invalidate_room(&mut self, room: &RoomKey) {
        self.recipients.invalidate(room);
    }
}
