//! The naive reference model, and [`run`]: a trace played on a [`Sim`], checked against the model
//! after every operation.
//!
//! The model is deliberately simple and independent of [`Snapshot`]: it replays the committed
//! log naively (membership, cursors, messages) and tracks live sessions itself. After every
//! operation [`Model::check`] asserts that
//! - every `message` event reaches exactly the live sessions of the room's members, once, and
//!   each session sees a room's messages in increasing `seq` order (DM privacy included);
//! - room-scoped events (typing, receipts, member lists) reach members only;
//! - each room's `seq` is gap-free from 1;
//! - a send the model expects to succeed stores exactly one message with the expected mentions,
//!   and a send it expects to be refused stores nothing;
//! - unread/highlight counts equal a naive recount from the log;
//! - the journal's fold equals the live state, and the live state holds the fold's invariants.
//!
//! At the end of [`run`], the live machine and one restored from the journal answer the same
//! probe inputs identically, and the fold of the whole committed log is the live state.
//!
//! ```
//! use chat_core::testing::model;
//! use chat_core::testing::strategy::{Op, Target, Text};
//!
//! let trace = [
//!     Op::Connect { slot: 0, user: 0 },
//!     Op::Join { slot: 0, target: Target::Group(0) },
//!     Op::Send { slot: 0, target: Target::Group(0), text: Text::AtRoom, client_id: Some(1) },
//! ];
//! model::run(&trace);
//! ```

use std::collections::{BTreeMap, BTreeSet};

use super::sim::{Event, Sim, user};
use super::strategy::{Op, Text, USERS};
use crate::{
    Chat, ClientMsg, Config, Input, Journal, LogEntry, Message, RoomKey, ServerMsg, SessionId, Snapshot, UserName,
};

/// The naive reference model: what the committed log and the live sessions imply.
#[derive(Debug, Default)]
pub struct Model {
    slots: BTreeMap<usize, (SessionId, UserName)>,
    members: BTreeMap<RoomKey, BTreeSet<UserName>>,
    cursors: BTreeMap<(UserName, RoomKey), u64>,
    messages: BTreeMap<RoomKey, Vec<Message>>,
    /// Last seq each session saw per room.
    seen: BTreeMap<(SessionId, RoomKey), u64>,
    client_ids: BTreeSet<(UserName, String)>,
    /// The committed log, in order.
    log: Vec<LogEntry>,
    /// How much of the simulator's trace was observed.
    processed: usize,
}

/// The config [`run`] uses: the default, with rate limits out of the way.
pub fn config() -> Config {
    Config { send_burst: 1_000, op_burst: 1_000, ..Config::default() }
}

impl Model {
    /// A model of an empty chat.
    pub fn new() -> Model {
        Model::default()
    }

    /// The committed log the model saw, in order.
    pub fn log(&self) -> &[LogEntry] {
        &self.log
    }

    fn online_sessions(&self, users: &BTreeSet<UserName>) -> BTreeSet<SessionId> {
        self.slots.values().filter(|(_, u)| users.contains(u)).map(|(s, _)| *s).collect()
    }

    fn last_seq(&self, room: &RoomKey) -> u64 {
        self.messages.get(room).and_then(|m| m.last()).map_or(0, |m| m.seq)
    }

    /// Replays the simulator's trace from where the last call stopped, checking deliveries as
    /// they happened.
    pub fn observe(&mut self, trace: &[Event]) {
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
        self.log.push(entry.clone());
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
                self.messages.entry(m.room.clone()).or_default().push(Message::clone(m));
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
    fn check_counts(&self, chat: &Chat) {
        for (room, members) in &self.members {
            for member in members {
                let cursor = self.cursors[&(member.clone(), room.clone())];
                let after: Vec<&Message> = self
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

    /// Observes what the simulator did since the last call, then compares its live state with
    /// the model: counts, gap-free seq, the journal's fold, the fold's invariants. Panics,
    /// naming the property, on the first difference.
    pub fn check<J: Journal>(&mut self, sim: &Sim<J>) {
        assert!(sim.failed_commits().is_empty(), "the model does not follow failed commits");
        self.observe(sim.trace());
        self.check_counts(sim.chat());
        let fold = sim.journal().snapshot().unwrap_or_else(|e| panic!("the journal's snapshot: {e}"));
        assert!(&fold == sim.chat().snapshot(), "the journal's fold differs from the live state");
        super::assert_fold_invariants(sim.chat().snapshot());
        for (room, ms) in &self.messages {
            let seqs: Vec<u64> = ms.iter().map(|m| m.seq).collect();
            assert_eq!(seqs, (1..=ms.len() as u64).collect::<Vec<_>>(), "gap-free seq in {room}");
        }
    }

    /// The mentions the model expects, as a set.
    fn expected_mentions(&self, room: &RoomKey, sender: &UserName, text: &Text) -> BTreeSet<UserName> {
        let members = self.members.get(room).cloned().unwrap_or_default();
        let online: BTreeSet<UserName> = self.slots.values().map(|(_, u)| u.clone()).collect();
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

    /// Plays one op on the simulator (checking what the model can predict of a send on the
    /// spot); call [`Model::check`] after.
    pub fn step<J: Journal>(&mut self, sim: &mut Sim<J>, op: &Op) {
        match op {
            Op::Connect { slot, user: u } => {
                if self.slots.contains_key(slot) {
                    return;
                }
                let name = USERS[*u as usize % USERS.len()];
                // Track the slot before the connect's outputs are observed.
                let s = SessionId(sim.peek_next_session());
                self.slots.insert(*slot, (s, user(name)));
                let got = sim.connect(name);
                assert_eq!(got, s);
                let mine: Vec<RoomKey> =
                    self.members.iter().filter(|(_, m)| m.contains(&user(name))).map(|(r, _)| r.clone()).collect();
                for room in mine {
                    // A new session starts seeing a room from its current end.
                    self.seen.insert((s, room.clone()), self.last_seq(&room));
                }
            }
            Op::Disconnect { slot } => {
                if let Some((s, _)) = self.slots.remove(slot) {
                    sim.disconnect(s);
                }
            }
            Op::Restart => {
                sim.restart();
                self.observe(sim.trace());
                self.slots.clear();
            }
            Op::Advance { ms } => sim.advance(*ms),
            Op::Send { slot, target, text, client_id } => {
                let Some((s, me)) = self.slots.get(slot).cloned() else { return };
                let room: Result<RoomKey, _> = target.key(&me).parse();
                let client_id = client_id.map(|c| format!("{me}-{c}"));
                // Predict success: a member of an existing room (a DM is created on demand
                // when the peer is known), non-blank text, a new client id.
                let expect = room.as_ref().ok().filter(|r| {
                    let member = self.members.get(*r).is_some_and(|m| m.contains(&me));
                    let dm_ok = r.dm_peer(&me).is_some_and(|p| sim.chat().snapshot().user(p).is_some());
                    (member || (!self.members.contains_key(*r) && dm_ok))
                        && !matches!(text, Text::Blank)
                        && client_id.as_ref().is_none_or(|c| !self.client_ids.contains(&(me.clone(), c.clone())))
                });
                let before = sim.trace().len();
                sim.recv(s, op.to_client(&me).expect("a send is a frame"));
                let stored: Vec<Message> = sim.trace()[before..]
                    .iter()
                    .filter_map(|e| match e {
                        Event::Persist(LogEntry::Message(m)) => Some(Message::clone(m)),
                        _ => None,
                    })
                    .collect();
                match expect {
                    Some(r) => {
                        assert_eq!(stored.len(), 1, "send by a member stores one message");
                        self.observe(sim.trace());
                        let want = self.expected_mentions(r, &me, text);
                        let got: BTreeSet<UserName> = stored[0].mentions.iter().cloned().collect();
                        assert_eq!(got.len(), stored[0].mentions.len(), "mentions listed once");
                        assert_eq!(got, want, "mentions of {:?}", stored[0].content);
                    }
                    None => assert!(stored.is_empty(), "refused send stored {stored:?}"),
                }
            }
            op => {
                let Some((s, me)) = op.slot().and_then(|slot| self.slots.get(&slot).cloned()) else { return };
                if let Some(msg) = op.to_client(&me) {
                    sim.recv(s, msg);
                }
            }
        }
    }
}

/// Plays `ops` on a fresh simulator (a [`MemoryJournal`](crate::MemoryJournal), [`config`]),
/// checking the model after every op and restore equivalence at the end; returns the trace (the
/// same ops give the same trace).
pub fn run(ops: &[Op]) -> Vec<Event> {
    let mut sim = Sim::with_config(config());
    run_on(&mut sim, ops);
    sim.trace().to_vec()
}

/// [`run`] on a simulator of your own (your journal, your config), which must start empty.
pub fn run_on<J: Journal>(sim: &mut Sim<J>, ops: &[Op]) {
    let mut model = Model::new();
    for op in ops {
        model.step(sim, op);
        model.check(sim);
    }
    assert!(&Snapshot::from_log(model.log()) == sim.chat().snapshot(), "the fold of the whole log");

    // Restore equivalence: the live machine (sessions dropped) and one restored from the fold
    // answer the same probe identically.
    let now = sim.now();
    let slots: Vec<SessionId> = model.slots.values().map(|(s, _)| *s).collect();
    for s in slots {
        sim.chat_mut().handle(now, Input::Disconnect { session: s });
    }
    while sim.chat_mut().poll_output().is_some() {}
    let snapshot = sim.journal().snapshot().unwrap_or_else(|e| panic!("the journal's snapshot: {e}"));
    let mut restored = Chat::restore(sim.config().clone(), snapshot);
    let probe_now = now.plus_millis(60_000);
    for (i, name) in USERS.iter().enumerate() {
        let session = SessionId(10_000 + i as u64);
        let probes = [
            Input::Connect { session, user: user(name) },
            Input::Receive { session, msg: ClientMsg::Notifications { limit: Some(100) } },
            Input::Receive { session, msg: ClientMsg::ListRooms(Default::default()) },
        ];
        for input in probes {
            let live = sim.chat_mut();
            live.handle(probe_now, input.clone());
            restored.handle(probe_now, input);
            let live: Vec<_> = std::iter::from_fn(|| live.poll_output()).collect();
            let again: Vec<_> = std::iter::from_fn(|| restored.poll_output()).collect();
            assert_eq!(live, again, "restored machine diverged");
        }
    }
}
