//! Typing indicators: ephemeral, expiring through `poll_timeout`.

use std::collections::BTreeSet;

use crate::hash::FxHashMap;
use crate::name::UserName;
use crate::room::RoomKey;
use crate::time::Timestamp;

/// Who is typing where, and until when. Deadlines are kept sorted so the next one is O(log n).
#[derive(Debug, Default, Clone)]
pub(crate) struct Typing {
    until: FxHashMap<(RoomKey, UserName), Timestamp>,
    deadlines: BTreeSet<(Timestamp, RoomKey, UserName)>,
}

impl Typing {
    /// Starts or extends; returns whether the user was not typing there before.
    pub(crate) fn start(&mut self, room: &RoomKey, user: &UserName, deadline: Timestamp) -> bool {
        let key = (room.clone(), user.clone());
        let fresh = match self.until.insert(key, deadline) {
            Some(old) => {
                self.deadlines.remove(&(old, room.clone(), user.clone()));
                false
            }
            None => true,
        };
        self.deadlines.insert((deadline, room.clone(), user.clone()));
        fresh
    }

    /// Stops; returns whether the user was typing there.
    pub(crate) fn stop(&mut self, room: &RoomKey, user: &UserName) -> bool {
        match self.until.remove(&(room.clone(), user.clone())) {
            Some(old) => {
                self.deadlines.remove(&(old, room.clone(), user.clone()));
                true
            }
            None => false,
        }
    }

    /// Whether anyone is typing (fast check for the hot path).
    pub(crate) fn is_empty(&self) -> bool {
        self.until.is_empty()
    }

    /// The earliest deadline.
    pub(crate) fn next_deadline(&self) -> Option<Timestamp> {
        self.deadlines.first().map(|(t, _, _)| *t)
    }

    /// Removes and returns every indicator whose deadline is at or before `now`.
    pub(crate) fn expire(&mut self, now: Timestamp) -> Vec<(RoomKey, UserName)> {
        let mut expired = Vec::new();
        while let Some((t, _, _)) = self.deadlines.first() {
            if *t > now {
                break;
            }
            if let Some((_, room, user)) = self.deadlines.pop_first() {
                self.until.remove(&(room.clone(), user.clone()));
                expired.push((room, user));
            }
        }
        expired
    }

    /// Rooms where `user` is typing.
    pub(crate) fn rooms_of(&self, user: &UserName) -> Vec<RoomKey> {
        let mut rooms: Vec<RoomKey> = self.until.keys().filter(|(_, u)| u == user).map(|(r, _)| r.clone()).collect();
        rooms.sort();
        rooms
    }
}
