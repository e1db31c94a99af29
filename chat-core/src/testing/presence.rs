//! Presence and membership as deltas, checked against the truth.
//!
//! A client that applies what it received ([`View::apply`]: `room_joined`'s member list, then
//! `member_joined`, `member_left`, `presence`, `room_left`, `room_users_update`) must always know
//! exactly who is in each of its rooms and who of them is online; and a connect or disconnect
//! costs each other session at most one event. [`run`] checks both after every op of a trace.

use std::collections::{BTreeMap, BTreeSet};

use super::sim::{Sim, join, room, user};
use super::strategy::{PresenceOp, USERS};
use crate::{ClientMsg, Config, Input, ServerMsg, SessionId, UserName};

/// The rooms of a presence trace: two public groups and `p2`, private, owned by `ann`.
pub const ROOMS: [&str; 3] = ["group:g0", "group:g1", "group:p2"];

/// What one session believes: per room (by key), the members and whether each is online.
#[derive(Default, Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// Room key → member → online.
    pub rooms: BTreeMap<String, BTreeMap<UserName, bool>>,
}

impl View {
    /// Applies one received event, as a client does. Panics on a delta about a room the view
    /// does not hold, or a departure of someone it did not know.
    pub fn apply(&mut self, msg: &ServerMsg) {
        match msg {
            ServerMsg::RoomJoined(s) => {
                let users = s.users.iter().map(|u| (u.username.clone(), u.online)).collect();
                self.rooms.insert(s.room.to_string(), users);
            }
            ServerMsg::RoomLeft { room, .. } => {
                self.rooms.remove(&room.to_string());
            }
            ServerMsg::MemberJoined { room, username, online } => {
                let r = self.rooms.get_mut(&room.to_string()).expect("member_joined for a room I am in");
                r.insert(username.clone(), *online);
            }
            ServerMsg::MemberLeft { room, username, .. } => {
                let r = self.rooms.get_mut(&room.to_string()).expect("member_left for a room I am in");
                assert!(r.remove(username).is_some(), "member_left for someone I did not know");
            }
            ServerMsg::Presence { username, online } => {
                for r in self.rooms.values_mut() {
                    if let Some(o) = r.get_mut(username) {
                        *o = *online;
                    }
                }
            }
            ServerMsg::RoomUsersUpdate { room, users, .. } => {
                let users = users.iter().map(|u| (u.username.clone(), u.online)).collect();
                self.rooms.insert(room.to_string(), users);
            }
            _ => {}
        }
    }
}

fn group(r: u8) -> &'static str {
    ROOMS[usize::from(r) % ROOMS.len()]
}

fn name(u: u8) -> &'static str {
    USERS[usize::from(u) % USERS.len()]
}

/// Plays `ops` (every user registered, `p2` created by `ann`), checking after every op that each
/// live session's [`View`] equals the truth and that a connect or disconnect sent every other
/// session at most one event.
pub fn run(ops: &[PresenceOp]) {
    let mut sim = Sim::with_config(Config { op_burst: 10_000, ..Config::default() });
    for u in USERS {
        sim.input(Input::AddUser { user: user(u) });
    }
    // The private room p2, owned by ann (no session left behind).
    let owner = sim.connect("ann");
    sim.recv(owner, ClientMsg::CreateRoom { room_name: "p2".into(), private: true });
    sim.disconnect(owner);
    let mut live: BTreeMap<u8, SessionId> = BTreeMap::new();
    let mut views: BTreeMap<SessionId, View> = BTreeMap::new();
    let pending = |sim: &Sim, s: &SessionId| sim.received(*s).map_or(0, <[ServerMsg]>::len);
    for op in ops {
        let before: BTreeMap<SessionId, usize> = live.values().map(|s| (*s, pending(&sim, s))).collect();
        let mut connecting = None;
        match op {
            PresenceOp::Connect(u) if !live.contains_key(u) => {
                let s = sim.connect(name(*u));
                live.insert(*u, s);
                connecting = Some(s);
                // Summaries carry no member lists: the client asks for each room it shows.
                let mut view = View::default();
                for msg in sim.take(s) {
                    if let ServerMsg::Connected { rooms, .. } | ServerMsg::RoomSummaries { rooms, .. } = &msg {
                        for r in rooms {
                            view.rooms.insert(r.room.to_string(), BTreeMap::new());
                            sim.recv(s, ClientMsg::RoomUsers { room: room(&r.room.to_string()) });
                        }
                    }
                    view.apply(&msg);
                }
                views.insert(s, view);
            }
            PresenceOp::Connect(_) => {}
            PresenceOp::Disconnect(u) => {
                if let Some(s) = live.remove(u) {
                    sim.disconnect(s);
                    views.remove(&s);
                }
            }
            PresenceOp::Join(u, r) => {
                if let Some(s) = live.get(u) {
                    sim.recv(*s, join(group(*r)));
                }
            }
            PresenceOp::Leave(u, r) => {
                if let Some(s) = live.get(u) {
                    sim.recv(*s, ClientMsg::LeaveRoom { room: room(group(*r)) });
                }
            }
            PresenceOp::Invite(u, v, r) => {
                if let Some(s) = live.get(u) {
                    sim.recv(*s, ClientMsg::Invite { room: room(group(*r)), username: name(*v).into() });
                }
            }
            PresenceOp::Remove(u, v) => {
                if let Some(s) = live.get(u) {
                    sim.recv(*s, ClientMsg::Remove { room: room("group:p2"), username: name(*v).into() });
                }
            }
        }
        // Connect and disconnect: at most one event for every other session.
        if matches!(op, PresenceOp::Connect(_) | PresenceOp::Disconnect(_)) {
            for (s, n) in &before {
                if Some(*s) != connecting && sim.received(*s).is_some() {
                    let sent = pending(&sim, s) - n;
                    assert!(sent <= 1, "{op:?} sent {s:?} {sent} events");
                }
            }
        }
        for (s, view) in views.iter_mut() {
            for msg in sim.take(*s) {
                view.apply(&msg);
            }
        }
        // Each live session's view is the truth.
        let online: BTreeSet<UserName> = live.keys().map(|u| user(name(*u))).collect();
        for (u, s) in &live {
            let me = user(name(*u));
            let view = &views[s];
            for key in ROOMS {
                let room_key = key.parse().expect("fixture room keys are valid");
                let truth: Option<BTreeMap<UserName, bool>> = sim
                    .chat()
                    .room(&room_key)
                    .filter(|_| sim.chat().is_member(&me, &room_key))
                    .map(|state| state.members().map(|m| (m.clone(), online.contains(m))).collect());
                assert_eq!(view.rooms.get(key), truth.as_ref(), "{me}'s view of {key} after {op:?}");
            }
        }
    }
}
