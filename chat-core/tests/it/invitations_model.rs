//! Invitations against a naive model (issue 11, item 1): random traces of invites, accepts,
//! declines, removals, joins, leaves, reconnects and restarts. After every operation:
//! - each user's pending invitations in the live state equal a naive fold of the committed log
//!   (in order), are at most the cap, and never name a room the user is a member of;
//! - nobody becomes a member of a private room without its owner creating it or a pending
//!   invitation being accepted;
//! - `invitation` and `invitation_removed` reach each live session of the invitee exactly once
//!   (and nobody else);
//! - after a restart, `connected` lists exactly the pending invitations.

use std::collections::{BTreeMap, BTreeSet};

use chat_core::testing::sim::Event;
use chat_core::{ClientMsg, Config, LogEntry, RoomKey, RoomKind, ServerMsg, SessionId, UserName};
use proptest::prelude::*;

use crate::sim::*;

const USERS: [&str; 4] = ["ann", "ben", "cat", "dan"];
/// Two private rooms and one public one.
const ROOMS: [(&str, bool); 3] = [("p0", true), ("p1", true), ("o0", false)];
const CAP: usize = 2;

#[derive(Debug, Clone)]
enum Op {
    Connect(usize),
    Disconnect(usize),
    Create(usize, usize),
    Join(usize, usize),
    Invite(usize, usize, usize),
    Accept(usize, usize),
    Decline(usize, usize),
    Remove(usize, usize, usize),
    Leave(usize, usize),
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    let (u, r) = (0..USERS.len(), 0..ROOMS.len());
    prop_oneof![
        2 => u.clone().prop_map(Op::Connect),
        1 => u.clone().prop_map(Op::Disconnect),
        2 => (u.clone(), r.clone()).prop_map(|(u, r)| Op::Create(u, r)),
        1 => (u.clone(), r.clone()).prop_map(|(u, r)| Op::Join(u, r)),
        5 => (u.clone(), u.clone(), r.clone()).prop_map(|(u, v, r)| Op::Invite(u, v, r)),
        3 => (u.clone(), r.clone()).prop_map(|(u, r)| Op::Accept(u, r)),
        2 => (u.clone(), r.clone()).prop_map(|(u, r)| Op::Decline(u, r)),
        2 => (u.clone(), u.clone(), r.clone()).prop_map(|(u, v, r)| Op::Remove(u, v, r)),
        1 => (u.clone(), r.clone()).prop_map(|(u, r)| Op::Leave(u, r)),
        1 => Just(Op::Restart),
    ]
}

fn key(r: usize) -> String {
    format!("group:{}", ROOMS[r].0)
}

/// The naive model: a fold of the committed log, and the live sessions.
#[derive(Default)]
struct Naive {
    sessions: BTreeMap<SessionId, UserName>,
    rooms: BTreeMap<RoomKey, (RoomKind, Option<UserName>)>,
    members: BTreeSet<(RoomKey, UserName)>,
    /// Pending invitations per user, oldest first.
    pending: BTreeMap<UserName, Vec<RoomKey>>,
    /// Invitation events of the current operation: who was told, on which sessions.
    told: BTreeMap<(String, UserName), BTreeSet<SessionId>>,
    processed: usize,
}

impl Naive {
    fn sessions_of(&self, user: &UserName) -> BTreeSet<SessionId> {
        self.sessions.iter().filter(|(_, u)| *u == user).map(|(s, _)| *s).collect()
    }

    fn is_pending(&self, user: &UserName, room: &RoomKey) -> bool {
        self.pending.get(user).is_some_and(|p| p.contains(room))
    }

    /// The one user all of `sessions` belong to.
    fn owner_of(&self, sessions: &[SessionId], what: &ServerMsg) -> UserName {
        let users: BTreeSet<&UserName> = sessions.iter().map(|s| &self.sessions[s]).collect();
        assert_eq!(users.len(), 1, "{what:?} went to the sessions of {users:?}");
        (*users.first().unwrap()).clone()
    }

    /// Records one delivery of an invitation event to `user`'s sessions.
    fn told(&mut self, what: String, user: UserName, sessions: &[SessionId]) {
        let seen = self.told.entry((what.clone(), user)).or_default();
        for s in sessions {
            assert!(seen.insert(*s), "{s:?} told twice: {what}");
        }
    }

    /// Every invitation event of the last operation reached each live session of its invitee
    /// exactly once.
    fn check_told(&mut self) {
        for ((what, user), sessions) in std::mem::take(&mut self.told) {
            assert_eq!(sessions, self.sessions_of(&user), "recipients of {what}");
        }
    }

    fn observe(&mut self, trace: &[Event]) {
        for event in &trace[self.processed..] {
            match event {
                Event::Persist(entry) => self.apply(entry),
                Event::Deliver(sessions, msg) => match &**msg {
                    ServerMsg::Invitation(invitation) => {
                        let user = self.owner_of(sessions, msg);
                        assert!(self.is_pending(&user, &invitation.room), "told of an invitation not pending");
                        self.told(format!("{msg:?}"), user, sessions);
                    }
                    ServerMsg::InvitationRemoved { room, .. } => {
                        let user = self.owner_of(sessions, msg);
                        assert!(!self.is_pending(&user, room), "told of a removal, still pending");
                        self.told(format!("{msg:?}"), user, sessions);
                    }
                    _ => {}
                },
                Event::Close(session) => {
                    self.sessions.remove(session);
                }
                Event::Reply(..) => {}
            }
        }
        self.processed = trace.len();
    }

    fn apply(&mut self, entry: &LogEntry) {
        match entry {
            LogEntry::RoomCreated { room, kind, owner, .. } => {
                self.rooms.insert(room.clone(), (*kind, owner.clone()));
            }
            LogEntry::Invited { user, invitation } => {
                assert!(!self.members.contains(&(invitation.room.clone(), user.clone())), "invited a member");
                assert!(!self.is_pending(user, &invitation.room), "invited twice");
                self.pending.entry(user.clone()).or_default().push(invitation.room.clone());
            }
            LogEntry::InvitationRemoved { user, room } => {
                assert!(self.is_pending(user, room), "removed an invitation that was not pending");
                self.pending.entry(user.clone()).or_default().retain(|r| r != room);
            }
            LogEntry::MemberAdded { room, user } => {
                if let Some((RoomKind::Private, owner)) = self.rooms.get(room) {
                    let creating = owner.as_ref() == Some(user) && !self.members.iter().any(|(r, _)| r == room);
                    assert!(
                        creating || self.is_pending(user, room),
                        "{user} joined private {room} without an invitation"
                    );
                }
                self.pending.entry(user.clone()).or_default().retain(|r| r != room);
                self.members.insert((room.clone(), user.clone()));
            }
            LogEntry::MemberRemoved { room, user } => {
                self.members.remove(&(room.clone(), user.clone()));
            }
            _ => {}
        }
    }

    fn check(&self, sim: &Sim) {
        let snapshot = sim.chat().snapshot();
        for name in USERS {
            let user = user(name);
            let naive = self.pending.get(&user).cloned().unwrap_or_default();
            let live: Vec<RoomKey> = snapshot
                .user(&user)
                .map(|state| state.invitations().iter().map(|i| i.room.clone()).collect())
                .unwrap_or_default();
            assert_eq!(live, naive, "pending invitations of {name}");
            assert!(live.len() <= CAP, "{name} holds {} invitations", live.len());
            for room in &live {
                assert!(!snapshot.room(room).is_some_and(|r| r.has_member(&user)), "{name} invited to own room");
            }
        }
    }
}

fn run(ops: &[Op]) {
    let mut config = Config::default();
    config.max_invitations_per_user = CAP;
    config.op_burst = 10_000;
    let mut sim = Sim::with_config(config);
    let mut naive = Naive::default();
    let session_of = |sim: &mut Sim, naive: &mut Naive, u: usize| -> SessionId {
        let user = user(USERS[u]);
        if let Some(s) = naive.sessions_of(&user).first() {
            return *s;
        }
        let s = sim.connect(USERS[u]);
        naive.sessions.insert(s, user);
        naive.observe(sim.trace());
        s
    };
    for op in ops {
        match op {
            Op::Connect(u) => {
                let s = sim.connect(USERS[*u]);
                naive.sessions.insert(s, user(USERS[*u]));
            }
            Op::Disconnect(u) => {
                if let Some(s) = naive.sessions_of(&user(USERS[*u])).last().copied() {
                    naive.sessions.remove(&s);
                    sim.disconnect(s);
                }
            }
            Op::Create(u, r) => {
                let s = session_of(&mut sim, &mut naive, *u);
                let (name, private) = ROOMS[*r];
                sim.recv(s, ClientMsg::CreateRoom { room_name: name.into(), private });
            }
            Op::Join(u, r) => {
                let s = session_of(&mut sim, &mut naive, *u);
                sim.recv(s, join(&key(*r)));
            }
            Op::Invite(u, v, r) => {
                let s = session_of(&mut sim, &mut naive, *u);
                sim.recv(s, ClientMsg::Invite { room: room(&key(*r)), username: USERS[*v].into() });
            }
            Op::Accept(u, r) => {
                let s = session_of(&mut sim, &mut naive, *u);
                sim.recv(s, ClientMsg::AcceptInvite { room: room(&key(*r)) });
            }
            Op::Decline(u, r) => {
                let s = session_of(&mut sim, &mut naive, *u);
                sim.recv(s, ClientMsg::DeclineInvite { room: room(&key(*r)) });
            }
            Op::Remove(u, v, r) => {
                let s = session_of(&mut sim, &mut naive, *u);
                sim.recv(s, ClientMsg::Remove { room: room(&key(*r)), username: USERS[*v].into() });
            }
            Op::Leave(u, r) => {
                let s = session_of(&mut sim, &mut naive, *u);
                sim.recv(s, ClientMsg::LeaveRoom { room: room(&key(*r)) });
            }
            Op::Restart => {
                naive.observe(sim.trace());
                naive.check_told();
                sim.restart();
                naive.sessions.clear();
                // Durable: each user's `connected` lists exactly the pending invitations.
                for name in USERS {
                    let s = sim.connect(name);
                    naive.sessions.insert(s, user(name));
                    let frames = sim.take(s);
                    let Some(ServerMsg::Connected { invitations, .. }) = frames.first() else {
                        panic!("{name}'s first frame: {frames:?}")
                    };
                    let listed: Vec<RoomKey> = invitations.iter().map(|i| i.room.clone()).collect();
                    assert_eq!(listed, naive.pending.get(&user(name)).cloned().unwrap_or_default(), "{name}");
                }
            }
        }
        naive.observe(sim.trace());
        naive.check_told();
        naive.check(&sim);
    }
}

proptest! {
    #[test]
    fn invitations_follow_the_naive_model(ops in prop::collection::vec(op(), 1..60)) {
        run(&ops);
    }
}

#[test]
fn an_invited_user_accepts_into_a_private_room() {
    run(&[
        Op::Create(0, 0),
        Op::Invite(0, 1, 0),
        Op::Accept(1, 0),
        Op::Invite(0, 2, 0),
        Op::Restart,
        Op::Decline(2, 0),
    ]);
}
