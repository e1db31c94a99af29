//! Model-based property tests: random operation sequences against a naive reference model.
//!
//! The model is deliberately simple and independent of `Snapshot`: it replays the persisted log
//! naively (membership, cursors, messages) and tracks live sessions itself. After every operation
//! it checks that
//! - every `message` event reaches exactly the live sessions of the room's members, once, and
//!   each session sees a room's messages in increasing `seq` order (DM privacy included);
//! - room-scoped events (typing, receipts, presence) reach members only;
//! - each room's `seq` is gap-free from 1;
//! - a send the model expects to succeed stores exactly one message with the expected mentions;
//! - unread/highlight counts equal a naive recount from the log;
//! - the journal's fold equals the live state (`restore(fold(log))` starts from the live state).
//!
//! At the end, the live machine and one restored from the journal answer the same probe inputs
//! identically, and the whole trace replayed on a fresh machine gives identical outputs.

use std::collections::{BTreeMap, BTreeSet};

use chat_core::{ClientMsg, Config, Input, LogEntry, RoomKey, ServerMsg, SessionId, Snapshot, UserName};
use proptest::prelude::*;

use crate::sim::{Event, Sim, room as room_ref, user};

const USERS: [&str; 4] = ["ann", "bob", "cy", "dee"];
const SLOTS: usize = 3;

#[derive(Debug, Clone)]
enum Target {
    Group(u8), // group:g0, g1 public; g2 private
    Dm(u8),    // dm with USERS[i]
}

#[derive(Debug, Clone)]
enum Text {
    Plain,
    Mention(u8),
    AtRoom,
    AtHere,
    Email(u8),
    Code(u8),
    Blank,
}

#[derive(Debug, Clone)]
enum Op {
    Connect { slot: usize, user: u8 },
    Disconnect { slot: usize },
    Join { slot: usize, target: Target },
    Leave { slot: usize, group: u8 },
    CreatePrivate { slot: usize },
    Invite { slot: usize, user: u8 },
    Remove { slot: usize, user: u8 },
    Send { slot: usize, target: Target, text: Text, client_id: Option<u8> },
    MarkRead { slot: usize, target: Target, seq: Option<u64> },
    Typing { slot: usize, target: Target },
    History { slot: usize, target: Target, before: Option<u64> },
    Advance { ms: u64 },
    Restart,
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        6 => Just(Target::Group(0)),
        1 => Just(Target::Group(1)),
        2 => Just(Target::Group(2)),
        3 => (0u8..4).prop_map(Target::Dm),
    ]
}

fn text() -> impl Strategy<Value = Text> {
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

fn op() -> impl Strategy<Value = Op> {
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
        1 => (slot.clone(), target(), proptest::option::of(0u64..12)).prop_map(|(slot, target, before)| Op::History { slot, target, before }),
        1 => (0u64..8_000).prop_map(|ms| Op::Advance { ms }),
        1 => Just(Op::Restart),
    ]
}

/// The naive reference model.
#[derive(Default)]
struct Model {
    slots: BTreeMap<usize, (SessionId, UserName)>,
    members: BTreeMap<RoomKey, BTreeSet<UserName>>,
    cursors: BTreeMap<(UserName, RoomKey), u64>,
    messages: BTreeMap<RoomKey, Vec<chat_core::Message>>,
    /// Last seq each session saw per room.
    seen: BTreeMap<(SessionId, RoomKey), u64>,
    client_ids: BTreeSet<(UserName, String)>,
    processed: usize,
}

impl Model {
    fn online_sessions(&self, users: &BTreeSet<UserName>) -> BTreeSet<SessionId> {
        self.slots.values().filter(|(_, u)| users.contains(u)).map(|(s, _)| *s).collect()
    }

    fn last_seq(&self, room: &RoomKey) -> u64 {
        self.messages.get(room).and_then(|m| m.last()).map_or(0, |m| m.seq)
    }

    /// Replays new trace events, checking deliveries as they happened.
    fn observe(&mut self, trace: &[Event]) {
        for event in &trace[self.processed..] {
            match event {
                Event::Persist(entry) => self.apply(entry),
                Event::Deliver(sessions, msg) => {
                    let set: BTreeSet<SessionId> = sessions.iter().copied().collect();
                    assert_eq!(set.len(), sessions.len(), "a session listed twice: {msg:?}");
                    match &**msg {
                        ServerMsg::Message(m) => {
                            let members = self.members.get(&m.room).cloned().unwrap_or_default();
                            assert_eq!(set, self.online_sessions(&members), "recipients of {m:?}");
                            for s in sessions.iter() {
                                let last = self.seen.entry((*s, m.room.clone())).or_insert(0);
                                assert!(m.seq > *last, "session {s:?} saw seq {} after {}", m.seq, last);
                                *last = m.seq;
                            }
                        }
                        ServerMsg::Typing { room, .. }
                        | ServerMsg::ReadReceipt { room, .. }
                        | ServerMsg::RoomUsersUpdate { room, .. } => {
                            let members = self.members.get(room).cloned().unwrap_or_default();
                            let allowed = self.online_sessions(&members);
                            assert!(set.is_subset(&allowed), "{msg:?} to non-members");
                        }
                        _ => {}
                    }
                }
                Event::Close(session) => {
                    self.slots.retain(|_, (s, _)| s != session);
                }
                Event::Reply(..) => {}
            }
        }
        self.processed = trace.len();
    }

    fn apply(&mut self, entry: &LogEntry) {
        match entry {
            LogEntry::MemberAdded { room, user } => {
                self.members.entry(room.clone()).or_default().insert(user.clone());
                self.cursors.insert((user.clone(), room.clone()), self.last_seq(room));
            }
            LogEntry::MemberRemoved { room, user } => {
                self.members.entry(room.clone()).or_default().remove(user);
                self.cursors.remove(&(user.clone(), room.clone()));
            }
            LogEntry::Message(m) => {
                assert_eq!(m.seq, self.last_seq(&m.room) + 1, "seq must be gap-free");
                if let Some(id) = &m.client_id {
                    assert!(self.client_ids.insert((m.sender.clone(), id.clone())), "client id stored twice");
                }
                if let Some(c) = self.cursors.get_mut(&(m.sender.clone(), m.room.clone())) {
                    *c = (*c).max(m.seq);
                }
                self.messages.entry(m.room.clone()).or_default().push(chat_core::Message::clone(m));
            }
            LogEntry::ReadCursor { user, room, seq } => {
                let c = self.cursors.get_mut(&(user.clone(), room.clone())).expect("cursor of a member");
                assert!(*seq > *c, "cursor moved backwards");
                *c = *seq;
            }
            _ => {}
        }
    }

    /// Naive recount of unread/highlight for every member.
    fn check_counts(&self, chat: &chat_core::Chat) {
        for (room, members) in &self.members {
            for member in members {
                let cursor = self.cursors[&(member.clone(), room.clone())];
                let after: Vec<&chat_core::Message> = self
                    .messages
                    .get(room)
                    .map(|ms| ms.iter().filter(|m| m.seq > cursor && &m.sender != member).collect())
                    .unwrap_or_default();
                let highlight = after.iter().filter(|m| room.is_dm() || m.mentions.contains(member)).count() as u64;
                let got = chat.unread(member, room).expect("member has counts");
                assert_eq!(
                    (got.read_seq, got.unread, got.highlight),
                    (cursor, after.len() as u64, highlight),
                    "{member} in {room}"
                );
            }
        }
    }
}

fn key(target: &Target, me: &UserName) -> String {
    match target {
        Target::Group(g) => format!("group:g{g}"),
        Target::Dm(u) => {
            let other = USERS[*u as usize];
            let (a, b) = if me.as_str() < other { (me.as_str(), other) } else { (other, me.as_str()) };
            format!("dm:{a}:{b}")
        }
    }
}

fn content(text: &Text) -> String {
    let name = |i: &u8| USERS.get(*i as usize).copied().unwrap_or("nobody");
    match text {
        Text::Plain => "hello there".into(),
        Text::Mention(i) => format!("hey @{}!", name(i).to_uppercase()),
        Text::AtRoom => "@room meeting".into(),
        Text::AtHere => "anyone @here?".into(),
        Text::Email(i) => format!("mail {}@example.com", name(i)),
        Text::Code(i) => format!("run `@{} --help`", name(i)),
        Text::Blank => "  ".into(),
    }
}

/// The mentions the model expects, as a set.
fn expected_mentions(model: &Model, room: &RoomKey, sender: &UserName, text: &Text) -> BTreeSet<UserName> {
    let members = model.members.get(room).cloned().unwrap_or_default();
    let online: BTreeSet<UserName> = model.slots.values().map(|(_, u)| u.clone()).collect();
    let mut out: BTreeSet<UserName> = match text {
        Text::Mention(i) => {
            USERS.get(*i as usize).map(|u| user(u)).filter(|u| members.contains(u)).into_iter().collect()
        }
        Text::AtRoom => members.clone(),
        Text::AtHere => members.intersection(&online).cloned().collect(),
        _ => BTreeSet::new(),
    };
    out.remove(sender);
    out
}

fn run(ops: &[Op]) -> Vec<Event> {
    let mut config = Config::default();
    config.send_burst = 1_000;
    config.op_burst = 1_000;
    let mut sim = Sim::with_config(config.clone());
    let mut model = Model::default();
    for op in ops {
        step(&mut sim, &mut model, op);
        model.observe(&sim.trace);
        model.check_counts(&sim.chat);
        assert_eq!(sim.journal.state(), sim.chat.snapshot(), "journal fold == live state after {op:?}");
        chat_core::testing::assert_fold_invariants(sim.chat.snapshot());
        for (room, ms) in &model.messages {
            let seqs: Vec<u64> = ms.iter().map(|m| m.seq).collect();
            assert_eq!(seqs, (1..=ms.len() as u64).collect::<Vec<_>>(), "gap-free seq in {room}");
        }
    }
    assert_eq!(&Snapshot::from_log(sim.journal.entries()), sim.chat.snapshot(), "fold of the whole log");

    // Restore equivalence: the live machine (sessions dropped) and one restored from the fold
    // answer the same probe identically.
    let slots: Vec<SessionId> = model.slots.values().map(|(s, _)| *s).collect();
    for s in slots {
        sim.chat.handle(sim.now, Input::Disconnect { session: s });
    }
    while sim.chat.poll_output().is_some() {}
    let mut restored = chat_core::Chat::restore(config, sim.journal.snapshot_clone());
    let probe_now = sim.now.plus_millis(60_000);
    for (i, name) in USERS.iter().enumerate() {
        let session = SessionId(10_000 + i as u64);
        let probes = [
            Input::Connect { session, user: user(name) },
            Input::Receive { session, msg: ClientMsg::Notifications { limit: Some(100) } },
            Input::Receive { session, msg: ClientMsg::ListRooms(Default::default()) },
        ];
        for input in probes {
            sim.chat.handle(probe_now, input.clone());
            restored.handle(probe_now, input);
            let live: Vec<_> = std::iter::from_fn(|| sim.chat.poll_output()).collect();
            let again: Vec<_> = std::iter::from_fn(|| restored.poll_output()).collect();
            assert_eq!(live, again, "restored machine diverged");
        }
    }
    sim.trace
}

trait SnapshotClone {
    fn snapshot_clone(&self) -> Snapshot;
}

impl SnapshotClone for chat_core::MemoryJournal {
    fn snapshot_clone(&self) -> Snapshot {
        self.state().clone()
    }
}

fn step(sim: &mut Sim, model: &mut Model, op: &Op) {
    let session_of = |model: &Model, slot: &usize| model.slots.get(slot).cloned();
    match op {
        Op::Connect { slot, user: u } => {
            if model.slots.contains_key(slot) {
                return;
            }
            let name = USERS[*u as usize];
            // Track the slot before the connect's outputs are observed.
            let s = SessionId(sim_next_session(sim));
            model.slots.insert(*slot, (s, user(name)));
            let got = sim.connect(name);
            assert_eq!(got, s);
            for room in model.members.iter().filter(|(_, m)| m.contains(&user(name))).map(|(r, _)| r.clone()) {
                // A new session starts seeing a room from its current end.
                model.seen.insert((s, room.clone()), model.last_seq(&room));
            }
        }
        Op::Disconnect { slot } => {
            if let Some((s, _)) = model.slots.remove(slot) {
                sim.disconnect(s);
            }
        }
        Op::Restart => {
            sim.restart();
            model.observe(&sim.trace);
            model.slots.clear();
        }
        Op::Advance { ms } => sim.advance(*ms),
        op => {
            let slot = match op {
                Op::Join { slot, .. }
                | Op::Leave { slot, .. }
                | Op::CreatePrivate { slot }
                | Op::Invite { slot, .. }
                | Op::Remove { slot, .. }
                | Op::Send { slot, .. }
                | Op::MarkRead { slot, .. }
                | Op::Typing { slot, .. }
                | Op::History { slot, .. } => slot,
                _ => unreachable!(),
            };
            let Some((s, me)) = session_of(model, slot) else { return };
            let msg = match op {
                Op::Join { target, .. } => ClientMsg::JoinRoom { room: room_ref(&key(target, &me)) },
                Op::Leave { group, .. } => ClientMsg::LeaveRoom { room: room_ref(&format!("group:g{group}")) },
                Op::CreatePrivate { .. } => ClientMsg::CreateRoom { room_name: "g2".into(), private: true },
                Op::Invite { user: u, .. } => {
                    ClientMsg::Invite { room: room_ref("group:g2"), username: USERS[*u as usize].into() }
                }
                Op::Remove { user: u, .. } => {
                    ClientMsg::Remove { room: room_ref("group:g2"), username: USERS[*u as usize].into() }
                }
                Op::Send { target, text, client_id, .. } => {
                    let k = key(target, &me);
                    let client_id = client_id.map(|c| format!("{me}-{c}"));
                    let room: Result<RoomKey, _> = k.parse();
                    let before = sim.journal.entries().len();
                    let msg = ClientMsg::SendMessage {
                        room: room_ref(&k),
                        content: content(text),
                        client_id: client_id.clone(),
                    };
                    // Predict success: a member of an existing room (a DM is created on demand
                    // when the peer is known), non-blank text, a new client id.
                    let expect = room.as_ref().ok().filter(|r| {
                        let member = model.members.get(*r).is_some_and(|m| m.contains(&me));
                        let dm_ok = r.dm_peer(&me).is_some_and(|p| sim.chat.snapshot().user(p).is_some());
                        (member || (!model.members.contains_key(*r) && dm_ok))
                            && !matches!(text, Text::Blank)
                            && client_id.as_ref().is_none_or(|c| !model.client_ids.contains(&(me.clone(), c.clone())))
                    });
                    sim.recv(s, msg);
                    let stored: Vec<&chat_core::Message> = sim.journal.entries()[before..]
                        .iter()
                        .filter_map(|e| match e {
                            LogEntry::Message(m) => Some(&**m),
                            _ => None,
                        })
                        .collect();
                    match expect {
                        Some(r) => {
                            assert_eq!(stored.len(), 1, "send by a member stores one message");
                            model.observe(&sim.trace);
                            let want = expected_mentions(model, r, &me, text);
                            let got: BTreeSet<UserName> = stored[0].mentions.iter().cloned().collect();
                            assert_eq!(got.len(), stored[0].mentions.len(), "mentions listed once");
                            assert_eq!(got, want, "mentions of {:?}", stored[0].content);
                        }
                        None => assert!(stored.is_empty(), "refused send stored {stored:?}"),
                    }
                    return;
                }
                Op::MarkRead { target, seq, .. } => {
                    ClientMsg::MarkRead { room: room_ref(&key(target, &me)), seq: *seq }
                }
                Op::Typing { target, .. } => ClientMsg::Typing { room: room_ref(&key(target, &me)), active: true },
                Op::History { target, before, .. } => ClientMsg::History {
                    room: room_ref(&key(target, &me)),
                    before: *before,
                    after: None,
                    limit: Some(5),
                },
                _ => unreachable!(),
            };
            sim.recv(s, msg);
        }
    }
}

/// The id the simulator will give the next session.
fn sim_next_session(sim: &Sim) -> u64 {
    sim.peek_next_session()
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn invariants_hold_for_random_operation_sequences(ops in proptest::collection::vec(op(), 1..120)) {
        run(&ops);
    }

    #[test]
    fn the_same_trace_gives_the_same_outputs(ops in proptest::collection::vec(op(), 1..40)) {
        let first = run(&ops);
        let second = run(&ops);
        prop_assert_eq!(first, second);
    }
}
