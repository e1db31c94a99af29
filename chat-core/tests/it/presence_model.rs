//! Presence and membership as deltas, checked against the truth: a session that applies what it
//! received (`room_joined`'s member list, then `member_joined`, `member_left`, `presence`,
//! `room_left`) always knows exactly who is in each of its rooms and who of them is online; and
//! a connect or disconnect costs each other session at most one event.

use std::collections::{BTreeMap, BTreeSet};

use chat_core::{ClientMsg, Config, ServerMsg, SessionId, UserName};
use proptest::prelude::*;

use crate::sim::*;

const USERS: [&str; 4] = ["ann", "bob", "cy", "dee"];

#[derive(Debug, Clone)]
enum Op {
    Connect(u8),
    Disconnect(u8),
    Join(u8, u8),
    Leave(u8, u8),
    Invite(u8, u8, u8),
    Remove(u8, u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u8..4).prop_map(Op::Connect),
        2 => (0u8..4).prop_map(Op::Disconnect),
        4 => (0u8..4, 0u8..3).prop_map(|(u, r)| Op::Join(u, r)),
        2 => (0u8..4, 0u8..3).prop_map(|(u, r)| Op::Leave(u, r)),
        2 => (0u8..4, 0u8..4, 0u8..3).prop_map(|(u, v, r)| Op::Invite(u, v, r)),
        1 => (0u8..4, 0u8..4).prop_map(|(u, v)| Op::Remove(u, v)),
    ]
}

/// What one session believes: per room, members and their presence.
#[derive(Default, Debug)]
struct View {
    rooms: BTreeMap<String, BTreeMap<UserName, bool>>,
}

impl View {
    fn apply(&mut self, msg: &ServerMsg) {
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

fn group(r: u8) -> String {
    ["group:g0", "group:g1", "group:p2"][r as usize].to_owned()
}

fn run(ops: &[Op]) {
    let mut config = Config::default();
    config.op_burst = 10_000;
    let mut sim = Sim::with_config(config);
    for u in USERS {
        sim.input(chat_core::Input::AddUser { user: user(u) });
    }
    // The private room p2, owned by ann (no session left behind).
    let owner = sim.connect("ann");
    sim.recv(owner, ClientMsg::CreateRoom { room_name: "p2".into(), private: true });
    sim.disconnect(owner);
    let mut live: BTreeMap<u8, SessionId> = BTreeMap::new();
    let mut views: BTreeMap<SessionId, View> = BTreeMap::new();
    for op in ops {
        let before: BTreeMap<SessionId, usize> = live.values().map(|s| (*s, sim.inbox[s].len())).collect();
        let mut connecting = None;
        match op {
            Op::Connect(u) if !live.contains_key(u) => {
                let s = sim.connect(USERS[*u as usize]);
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
            Op::Disconnect(u) => {
                if let Some(s) = live.remove(u) {
                    sim.disconnect(s);
                    views.remove(&s);
                }
            }
            Op::Join(u, r) => {
                if let Some(s) = live.get(u) {
                    sim.recv(*s, join(&group(*r)));
                }
            }
            Op::Leave(u, r) => {
                if let Some(s) = live.get(u) {
                    sim.recv(*s, ClientMsg::LeaveRoom { room: room(&group(*r)) });
                }
            }
            Op::Invite(u, v, r) => {
                if let Some(s) = live.get(u) {
                    let msg = ClientMsg::Invite { room: room(&group(*r)), username: USERS[*v as usize].into() };
                    sim.recv(*s, msg);
                }
            }
            Op::Remove(u, v) => {
                if let Some(s) = live.get(u) {
                    let msg = ClientMsg::Remove { room: room("group:p2"), username: USERS[*v as usize].into() };
                    sim.recv(*s, msg);
                }
            }
            Op::Connect(_) => {}
        }
        // Connect and disconnect: at most one event for every other session.
        if matches!(op, Op::Connect(_) | Op::Disconnect(_)) {
            for (s, n) in &before {
                if Some(*s) != connecting && sim.inbox.contains_key(s) {
                    assert!(sim.inbox[s].len() - n <= 1, "{op:?} sent {s:?} {} events", sim.inbox[s].len() - n);
                }
            }
        }
        for (s, view) in views.iter_mut() {
            for msg in sim.take(*s) {
                view.apply(&msg);
            }
        }
        // Each live session's view is the truth.
        let online: BTreeSet<UserName> = live.keys().map(|u| user(USERS[*u as usize])).collect();
        for (u, s) in &live {
            let me = user(USERS[*u as usize]);
            let view = &views[s];
            for r in 0..3 {
                let key = group(r).parse().unwrap();
                let truth: Option<BTreeMap<UserName, bool>> = sim
                    .chat
                    .room(&key)
                    .filter(|_| sim.chat.is_member(&me, &key))
                    .map(|state| state.members().map(|m| (m.clone(), online.contains(m))).collect());
                assert_eq!(view.rooms.get(&group(r)), truth.as_ref(), "{me}'s view of {} after {op:?}", group(r));
            }
        }
    }
}

proptest! {
    #[test]
    fn every_session_knows_exactly_who_is_in_its_rooms_and_online(ops in proptest::collection::vec(op(), 1..60)) {
        run(&ops);
    }
}
