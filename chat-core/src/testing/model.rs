//! The naive reference model, and [`run`]: a trace played on a [`Sim`], checked against the model
//! after every operation.
//!
//! The model is deliberately simple and independent of [`Snapshot`]: it replays the committed
//! log naively (membership, cursors, messages) and tracks live sessions itself. After every
//! operation [`Model::check`] asserts that
//! - every `message` event reaches exactly the live sessions of the room's members, once, and
//!   each session sees a room's messages in increasing `seq` order (DM privacy included);
//! - room-scoped events (typing, receipts, member lists) reach members only;
//! - each room's `seq` is gap-free from 1, and so is its `rev` (messages, edits, deletions and
//!   reactions; a no-op takes none);
//! - a send (or reply, edit, deletion, admin deletion, reaction) the model expects to succeed
//!   stores exactly the one expected entry (mentions, reply target, previous mentions…), and
//!   one it expects to be refused or to change nothing stores nothing;
//! - unread/highlight counts equal a naive recount from the log: messages from others after the
//!   cursor that are not deleted, and those of them that mention the member now (after edits);
//! - the journal's history of every room equals the naive current state of its messages
//!   (content, mentions, edit and deletion times, tombstones, reactions, reply quotes);
//! - every kept notification is about a live message that still mentions its owner (or a DM),
//!   with the message's current text as its preview;
//! - the journal's fold equals the live state, and the live state holds the fold's invariants.
//!
//! [`Op::Resume`] checks that a client that saw a room up to any earlier event and resumes
//! ends up with exactly the current state. At the end of [`run`], every member resumes every
//! room from its start and from half-way, the live machine and one restored from the journal
//! answer the same probe inputs identically (history pages and reactions included), and the
//! fold of the whole committed log is the live state.
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
use super::strategy::{self, EMOJI, Op, Text, USERS};
use crate::log::{Reactions, ReplyTo};
use crate::{
    Chat, ClientMsg, Config, HistoryQuery, HistoryRange, Input, Journal, LoadError, LogEntry, Message, Output, RoomKey,
    RoomKind, ServerMsg, SessionId, Snapshot, Timestamp, UserName,
};

/// Where [`Op::Resume`]'s short-lived session looks for a free slot, downwards.
const RESUME_SLOT: usize = usize::MAX;

/// The naive reference model: what the committed log and the live sessions imply.
#[derive(Debug, Default)]
pub struct Model {
    slots: BTreeMap<usize, (SessionId, UserName)>,
    members: BTreeMap<RoomKey, BTreeSet<UserName>>,
    cursors: BTreeMap<(UserName, RoomKey), u64>,
    /// Each room's messages in their current state (`reply_to` as sent).
    messages: BTreeMap<RoomKey, Vec<Message>>,
    /// Each room's latest `rev`.
    revs: BTreeMap<RoomKey, u64>,
    /// Rooms that exist.
    rooms: BTreeSet<RoomKey>,
    /// Owners of private rooms.
    owners: BTreeMap<RoomKey, UserName>,
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

    fn is_member(&self, room: &RoomKey, user: &UserName) -> bool {
        self.members.get(room).is_some_and(|m| m.contains(user))
    }

    /// Message `seq` of `room` in its current state, if sent.
    fn message(&self, room: &RoomKey, seq: u64) -> Option<&Message> {
        let ms = self.messages.get(room)?;
        ms.get(usize::try_from(seq.checked_sub(1)?).ok()?)
    }

    /// Message `seq` of `room` if sent and not deleted.
    fn live_message(&self, room: &RoomKey, seq: u64) -> Option<&Message> {
        self.message(room, seq).filter(|m| !m.deleted)
    }

    /// Counts an event of `room`: its `rev` must be the room's next.
    fn count_rev(&mut self, room: &RoomKey, rev: u64) {
        let last = self.revs.entry(room.clone()).or_insert(0);
        assert_eq!(rev, *last + 1, "rev must be gap-free in {room}");
        *last = rev;
    }

    /// What a client holds of `room` after seeing its events up to `rev`: the messages created
    /// by then, each with the changes made by then.
    fn state_at(&self, room: &RoomKey, rev: u64) -> BTreeMap<u64, Message> {
        let mut held: BTreeMap<u64, Message> = BTreeMap::new();
        for entry in &self.log {
            match entry {
                LogEntry::Message(m) if &m.room == room && m.rev <= rev => {
                    held.insert(m.seq, Message::clone(m));
                }
                LogEntry::Edited(e) if &e.room == room && e.rev <= rev => change(held.get_mut(&e.seq), entry),
                LogEntry::Deleted(d) if &d.room == room && d.rev <= rev => change(held.get_mut(&d.seq), entry),
                LogEntry::Reacted(r) if &r.room == room && r.rev <= rev => change(held.get_mut(&r.seq), entry),
                _ => {}
            }
        }
        held
    }

    /// The naive current state of `room`'s messages as history returns them: each reply quotes
    /// its target as it is now.
    fn current(&self, room: &RoomKey) -> Vec<Message> {
        let held: BTreeMap<u64, Message> =
            self.messages.get(room).into_iter().flatten().map(|m| (m.seq, m.clone())).collect();
        quoted(&held)
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
            LogEntry::RoomCreated { room, kind, owner, .. } => {
                self.rooms.insert(room.clone());
                if let (RoomKind::Private, Some(owner)) = (kind, owner) {
                    self.owners.insert(room.clone(), owner.clone());
                }
            }
            LogEntry::Message(m) => {
                assert_eq!(m.seq, self.last_seq(&m.room) + 1, "seq must be gap-free");
                self.count_rev(&m.room, m.rev);
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
            LogEntry::Edited(e) => {
                self.count_rev(&e.room, e.rev);
                let m = self.message(&e.room, e.seq).unwrap_or_else(|| panic!("an edit of no message: {e:?}"));
                assert!(!m.deleted, "an edit of a deleted message: {e:?}");
                assert_eq!(m.mentions, e.previous_mentions, "an edit's previous mentions are the message's");
                assert_ne!(m.content, e.content, "an edit to the same text is a no-op");
                self.change(entry, &e.room, e.seq);
            }
            LogEntry::Deleted(d) => {
                self.count_rev(&d.room, d.rev);
                let m = self.message(&d.room, d.seq).unwrap_or_else(|| panic!("a deletion of no message: {d:?}"));
                assert!(!m.deleted, "a deletion of a deleted message: {d:?}");
                assert_eq!(
                    (&m.sender, &m.mentions),
                    (&d.sender, &d.mentions),
                    "a deletion names the message's sender and mentions"
                );
                self.change(entry, &d.room, d.seq);
            }
            LogEntry::Reacted(r) => {
                self.count_rev(&r.room, r.rev);
                let m = self.message(&r.room, r.seq).unwrap_or_else(|| panic!("a reaction to no message: {r:?}"));
                assert!(!m.deleted, "a reaction to a deleted message: {r:?}");
                let holds = m.reactions.iter().any(|g| g.emoji == r.emoji && g.users.contains(&r.user));
                assert_ne!(holds, r.add, "a reaction that changes nothing is a no-op: {r:?}");
                self.change(entry, &r.room, r.seq);
            }
            _ => {}
        }
    }

    fn change(&mut self, entry: &LogEntry, room: &RoomKey, seq: u64) {
        let m = self.messages.get_mut(room).and_then(|ms| ms.get_mut(seq as usize - 1));
        change(m, entry);
    }

    /// Naive recount of unread/highlight for every member.
    fn check_counts(&self, chat: &Chat) {
        for (room, members) in &self.members {
            for member in members {
                let cursor = self.cursors[&(member.clone(), room.clone())];
                let after: Vec<&Message> = self
                    .messages
                    .get(room)
                    .map(|ms| ms.iter().filter(|m| m.seq > cursor && &m.sender != member && !m.deleted).collect())
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
            let query = HistoryQuery { room: room.clone(), range: HistoryRange::Latest, limit: u32::MAX };
            let page = sim.journal().history(&query).unwrap_or_else(|e| panic!("history of {room}: {e}"));
            assert_eq!(page, self.current(room), "the journal's history of {room} is the naive current state");
        }
        for name in USERS {
            for n in sim.chat().snapshot().notifications_of(&user(name), usize::MAX) {
                let m = self.message(&n.room, n.seq).unwrap_or_else(|| panic!("{name}'s notification {n:?}"));
                assert!(!m.deleted, "{name} keeps a notification about deleted {} #{}", n.room, n.seq);
                assert!(
                    n.room.is_dm() || m.mentions.contains(&user(name)),
                    "{name} keeps a notification without a mention: {n:?}"
                );
                let preview: String = m.content.chars().take(crate::NOTIFICATION_PREVIEW_CHARS).collect();
                assert_eq!(n.preview, preview, "{name}'s notification shows the current text");
            }
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
                self.send(sim, op, *slot, text, client_id.map(|c| c.to_string()), None, target)
            }
            Op::Reply { slot, target, text, to } => self.send(sim, op, *slot, text, None, Some(*to), target),
            Op::Edit { slot, target, seq, text } => {
                let Some((s, me)) = self.slots.get(slot).cloned() else { return };
                let room = target.key(&me).parse::<RoomKey>().ok();
                // Only the sender edits a live message, to a valid text that differs.
                let expect = room.clone().filter(|r| self.is_member(r, &me)).and_then(|r| {
                    let m = self.live_message(&r, *seq)?;
                    let ok = m.sender == me && !matches!(text, Text::Blank) && m.content != text.edited();
                    ok.then(|| (m.mentions.clone(), self.expected_mentions(&r, &me, text)))
                });
                let stored = changes(self.play(sim, s, &me, op));
                match expect {
                    Some((previous, want)) => {
                        let [LogEntry::Edited(e)] = &stored[..] else {
                            panic!("{op:?} stores one edit, not {stored:?}")
                        };
                        assert_eq!((e.seq, &e.content, &e.previous_mentions), (*seq, &text.edited(), &previous));
                        let got: BTreeSet<UserName> = e.mentions.iter().cloned().collect();
                        assert_eq!(got.len(), e.mentions.len(), "mentions listed once");
                        assert_eq!(got, want, "mentions of the edit {:?}", e.content);
                    }
                    None => assert!(stored.is_empty(), "{op:?} stored {stored:?}"),
                }
            }
            Op::Delete { slot, target, seq } => {
                let Some((s, me)) = self.slots.get(slot).cloned() else { return };
                let room = target.key(&me).parse::<RoomKey>().ok();
                // The sender, or the owner of a private room, deletes a live message.
                let expect = room.filter(|r| self.is_member(r, &me)).is_some_and(|r| {
                    self.live_message(&r, *seq).is_some_and(|m| m.sender == me || self.owners.get(&r) == Some(&me))
                });
                let stored = changes(self.play(sim, s, &me, op));
                self.expect_deletion(op, *seq, expect, &stored);
            }
            Op::AdminDelete { user: u, target, seq } => {
                let name = USERS[*u as usize % USERS.len()];
                let me = user(name);
                let room = target.key(&me).parse::<RoomKey>().ok();
                // An administrator deletes any live message of any room.
                let expect = room.is_some_and(|r| self.rooms.contains(&r) && self.live_message(&r, *seq).is_some());
                let before = sim.trace().len();
                let reply = sim.admin_request(name, op.to_client(&me).expect("an admin deletion is a frame"));
                let stored = changes(persisted(&sim.trace()[before..]));
                if expect {
                    assert!(matches!(reply, ServerMsg::MessageDeleted { .. }), "{op:?} answered {reply:?}");
                }
                self.expect_deletion(op, *seq, expect, &stored);
            }
            Op::React { slot, target, seq, emoji, add } => {
                let Some((s, me)) = self.slots.get(slot).cloned() else { return };
                let room = target.key(&me).parse::<RoomKey>().ok();
                let emoji = strategy::emoji_of(*emoji);
                // Any member reacts to a live message with an emoji, if that changes anything.
                let expect = room.filter(|r| self.is_member(r, &me)).is_some_and(|r| {
                    self.live_message(&r, *seq).is_some_and(|m| {
                        let holds = m.reactions.iter().any(|g| g.emoji == emoji && g.users.contains(&me));
                        EMOJI.contains(&emoji) && holds != *add
                    })
                });
                let stored = changes(self.play(sim, s, &me, op));
                if expect {
                    let [LogEntry::Reacted(r)] = &stored[..] else {
                        panic!("{op:?} stores one reaction, not {stored:?}")
                    };
                    assert_eq!((r.seq, r.emoji.as_str(), &r.user, r.add), (*seq, emoji, &me, *add));
                } else {
                    assert!(stored.is_empty(), "{op:?} stored {stored:?}");
                }
            }
            Op::Resume { user: u, target, rev, with_rev } => self.resume(sim, *u, target, *rev, *with_rev),
            op => {
                let Some((s, me)) = op.slot().and_then(|slot| self.slots.get(&slot).cloned()) else { return };
                if let Some(msg) = op.to_client(&me) {
                    sim.recv(s, msg);
                }
            }
        }
    }

    /// Has the session `s` of `me` send `op`'s frame; returns the entries it stored.
    fn play<J: Journal>(&mut self, sim: &mut Sim<J>, s: SessionId, me: &UserName, op: &Op) -> Vec<LogEntry> {
        let before = sim.trace().len();
        sim.recv(s, op.to_client(me).expect("a lifecycle op is a frame"));
        persisted(&sim.trace()[before..])
    }

    fn expect_deletion(&self, op: &Op, seq: u64, expect: bool, stored: &[LogEntry]) {
        if expect {
            let [LogEntry::Deleted(d)] = stored else { panic!("{op:?} stores one deletion, not {stored:?}") };
            assert_eq!(d.seq, seq);
        } else {
            assert!(stored.is_empty(), "{op:?} stored {stored:?}");
        }
    }

    /// `send_message`, a reply when `reply_to` is set.
    #[allow(clippy::too_many_arguments)]
    fn send<J: Journal>(
        &mut self,
        sim: &mut Sim<J>,
        op: &Op,
        slot: usize,
        text: &Text,
        client_id: Option<String>,
        reply_to: Option<u64>,
        target: &strategy::Target,
    ) {
        let Some((s, me)) = self.slots.get(&slot).cloned() else { return };
        let room: Result<RoomKey, _> = target.key(&me).parse();
        let client_id = client_id.map(|c| format!("{me}-{c}"));
        // Predict success: a member of an existing room (a DM is created on demand
        // when the peer is known), non-blank text, a new client id; a reply names a
        // message of the room (a deleted one too).
        let expect = room.as_ref().ok().filter(|r| {
            let member = self.members.get(*r).is_some_and(|m| m.contains(&me));
            let dm_ok = r.dm_peer(&me).is_some_and(|p| sim.chat().snapshot().user(p).is_some());
            (member || (!self.members.contains_key(*r) && dm_ok))
                && !matches!(text, Text::Blank)
                && client_id.as_ref().is_none_or(|c| !self.client_ids.contains(&(me.clone(), c.clone())))
                && reply_to.is_none_or(|to| self.message(r, to).is_some())
        });
        let quote = expect.zip(reply_to).and_then(|(r, to)| self.message(r, to)).map(ReplyTo::of);
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
                assert_eq!(stored[0].reply_to.as_deref(), quote.as_ref(), "the quote of {op:?}");
            }
            None => assert!(stored.is_empty(), "refused send stored {stored:?}"),
        }
    }

    /// [`Op::Resume`]: a new session of `USERS[u]` resumes `target` as a client that saw it up
    /// to event `rev`; its copy must then be the current state.
    fn resume<J: Journal>(&mut self, sim: &mut Sim<J>, u: u8, target: &strategy::Target, rev: u64, with_rev: bool) {
        let me = user(USERS[u as usize % USERS.len()]);
        let Ok(room) = target.key(&me).parse::<RoomKey>() else { return };
        if !self.is_member(&room, &me) {
            return;
        }
        // A slot of its own: the trace may use any slot number, RESUME_SLOT included (the
        // fuzzer found that a trace's session there made this resume another user's).
        let slot = (0..=RESUME_SLOT).rev().find(|k| !self.slots.contains_key(k)).expect("a free slot");
        self.step(sim, &Op::Connect { slot, user: u });
        let (s, _) = self.slots[&slot].clone();
        sim.take(s);
        let seen = rev.min(self.revs.get(&room).copied().unwrap_or(0));
        let mut held = self.state_at(&room, seen);
        let last_seq = held.keys().next_back().copied().unwrap_or(0);
        let last_rev = if with_rev {
            Some(seen)
        } else {
            // Naming no rev, the client saw the room as it was when its last message was new.
            let created = held.values().next_back().map_or(0, |m| m.rev);
            held = self.state_at(&room, created);
            None
        };
        sim.recv(s, strategy::resume(&room.to_string(), last_seq, last_rev));
        let mut reset = false;
        for frame in sim.take(s) {
            match frame {
                ServerMsg::MessageUpdates { room: r, messages, .. } | ServerMsg::History { room: r, messages, .. }
                    if r == room =>
                {
                    held.extend(messages.into_iter().map(|m| (m.seq, m)));
                }
                ServerMsg::ResumeReset { room: r, .. } if r == room => reset = true,
                ServerMsg::Error { .. } => panic!("a member's resume of {room} refused: {frame:?}"),
                _ => {}
            }
        }
        if reset {
            let limit = sim.config().resume_limit;
            let missed_events = self.revs.get(&room).copied().unwrap_or(0) - last_rev.unwrap_or(0);
            assert!(
                self.last_seq(&room) - last_seq > limit || missed_events > limit,
                "resume_reset of {room} after a few events"
            );
        } else {
            assert_eq!(quoted(&held), self.current(&room), "{me} resumed {room} from rev {seen} ({last_rev:?})");
        }
        self.step(sim, &Op::Disconnect { slot });
    }
}

/// The entries the events of a trace committed.
fn persisted(events: &[Event]) -> Vec<LogEntry> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Persist(entry) => Some(entry.clone()),
            _ => None,
        })
        .collect()
}

/// The change entries (edits, deletions, reactions) and messages among `entries`.
fn changes(entries: Vec<LogEntry>) -> Vec<LogEntry> {
    entries
        .into_iter()
        .filter(|e| {
            matches!(e, LogEntry::Message(_) | LogEntry::Edited(_) | LogEntry::Deleted(_) | LogEntry::Reacted(_))
        })
        .collect()
}

/// A change entry applied naively to the message it names (the model's own reading of the
/// rules, independent of [`Message::apply_change`]).
fn change(m: Option<&mut Message>, entry: &LogEntry) {
    let Some(m) = m else { return };
    if m.deleted {
        return;
    }
    match entry {
        LogEntry::Edited(e) => {
            m.content.clone_from(&e.content);
            m.mentions.clone_from(&e.mentions);
            m.edited_at = Some(e.edited_at);
            m.changed_rev = e.rev;
        }
        LogEntry::Deleted(d) => {
            *m = Message {
                changed_rev: d.rev,
                content: String::new(),
                mentions: Vec::new(),
                client_id: None,
                edited_at: None,
                deleted: true,
                deleted_at: Some(d.deleted_at),
                reactions: Vec::new(),
                ..m.clone()
            };
        }
        LogEntry::Reacted(r) => {
            m.changed_rev = r.rev;
            let group = m.reactions.iter().position(|g| g.emoji == r.emoji);
            match (group, r.add) {
                (Some(i), true) if !m.reactions[i].users.contains(&r.user) => m.reactions[i].users.push(r.user.clone()),
                (None, true) => m.reactions.push(Reactions { emoji: r.emoji.clone(), users: vec![r.user.clone()] }),
                (Some(i), false) => {
                    m.reactions[i].users.retain(|u| u != &r.user);
                    if m.reactions[i].users.is_empty() {
                        m.reactions.remove(i);
                    }
                }
                _ => {}
            }
        }
        _ => {}
    }
}

/// `held` as history shows it: ascending, each reply quoting its target as held.
fn quoted(held: &BTreeMap<u64, Message>) -> Vec<Message> {
    held.values()
        .map(|m| {
            let mut m = m.clone();
            if let Some(r) = &m.reply_to
                && let Some(target) = held.get(&r.seq)
            {
                m.reply_to = Some(Box::new(ReplyTo::of(target)));
            }
            m
        })
        .collect()
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
    // Every member resumes every room from its start and from half-way.
    let rooms: Vec<(RoomKey, BTreeSet<UserName>)> = model.members.iter().map(|(r, m)| (r.clone(), m.clone())).collect();
    for (room, members) in rooms {
        let rev = model.revs.get(&room).copied().unwrap_or(0);
        for (u, name) in USERS.iter().enumerate().filter(|(_, n)| members.contains(&user(n))) {
            let target = target_of(&room, &user(name));
            for (rev, with_rev) in [(0, true), (rev / 2, true), (rev / 2, false)] {
                model.step(sim, &Op::Resume { user: u as u8, target: target.clone(), rev, with_rev });
                model.check(sim);
            }
        }
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
    // The live machine, taken out to answer its loads from the simulator's journal.
    let empty = Chat::restore(sim.config().clone(), Snapshot::default());
    let mut live_chat = std::mem::replace(sim.chat_mut(), empty);
    for (i, name) in USERS.iter().enumerate() {
        let session = SessionId(10_000 + i as u64);
        let mut probes = vec![
            Input::Connect { session, user: user(name) },
            Input::Receive { session, msg: ClientMsg::Notifications { limit: Some(100) } },
            Input::Receive { session, msg: ClientMsg::ListRooms(Default::default()) },
        ];
        // History pages, a reaction and a resume in each of the user's rooms (their loads
        // answered from the journal, the same for both machines).
        for (room, _) in model.members.iter().filter(|(_, m)| m.contains(&user(name))) {
            let r = crate::RoomRef::key(room);
            let last_seq = model.last_seq(room);
            probes.push(Input::Receive {
                session,
                msg: ClientMsg::History { room: r.clone(), before: None, after: None, limit: Some(100), around: None },
            });
            if last_seq > 0 {
                let msg = ClientMsg::React { room: r.clone(), seq: last_seq, emoji: EMOJI[0].into(), add: true };
                probes.push(Input::Receive { session, msg });
            }
            probes.push(Input::Receive { session, msg: strategy::resume(&room.to_string(), last_seq / 2, None) });
        }
        for input in probes {
            let live = probe(&mut live_chat, sim.journal(), probe_now, input.clone());
            let again = probe(&mut restored, sim.journal(), probe_now, input);
            assert_eq!(live, again, "restored machine diverged");
        }
    }
    *sim.chat_mut() = live_chat;
}

/// Hands `chat` one input and returns every output, answering its loads from `journal`.
fn probe<J: Journal>(chat: &mut Chat, journal: &J, now: Timestamp, input: Input) -> Vec<Output> {
    chat.handle(now, input);
    let mut out = Vec::new();
    loop {
        let batch: Vec<Output> = std::iter::from_fn(|| chat.poll_output()).collect();
        if batch.is_empty() {
            return out;
        }
        let loads: Vec<_> = batch
            .iter()
            .filter_map(|o| match o {
                Output::Load { load, query } => Some((*load, query.clone())),
                _ => None,
            })
            .collect();
        // Load ids are the machine's own counter: compare what is read, not the id.
        out.extend(batch.into_iter().map(|o| match o {
            Output::Load { query, .. } => Output::Load { load: crate::LoadId(0), query },
            o => o,
        }));
        for (load, query) in loads {
            let result = journal.history(&query).map_err(LoadError::journal);
            chat.handle(now, Input::Loaded { load, result });
        }
    }
}

/// The [`strategy::Target`] that names `room` for `me`.
fn target_of(room: &RoomKey, me: &UserName) -> strategy::Target {
    let key = room.to_string();
    if let Some(g) = key.strip_prefix("group:g").and_then(|g| g.parse().ok()) {
        return strategy::Target::Group(g);
    }
    let peer = room.dm_peer(me).map(UserName::as_str).unwrap_or_default();
    strategy::Target::Dm(USERS.iter().position(|u| *u == peer).unwrap_or(usize::MAX) as u8)
}
