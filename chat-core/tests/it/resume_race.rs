//! A history or resume page read from storage before a change, but delivered after that
//! change's live event, must not undo it. History and `message_updates` items carry
//! `changed_rev` (the `rev` of their latest change), and a client that applies again the live
//! changes a copy predates (`ClientRoom`, the rule of docs/protocol.md, "Pages and live events")
//! shows exactly the current state, for any interleaving of page reads, page deliveries, live
//! changes and a reconnect with `resume`.

use std::collections::BTreeMap;

use chat_core::protocol::ResumePoint;
use chat_core::{
    Chat, ClientMsg, Config, HistoryQuery, HistoryRange, Input, Journal, LoadError, LoadId, MemoryJournal, Message,
    Output, RoomKey, RoomRef, ServerMsg, SessionId, Timestamp, UserName,
};
use proptest::prelude::*;

const LOBBY: &str = "group:lobby";
const EMOJI: [&str; 2] = ["👍", "🎉"];
const ALICE: SessionId = SessionId(1);
const BOB: SessionId = SessionId(2);

/// What a client holds of the room, kept by the rule of docs/protocol.md: a live change is
/// applied to the held copy and remembered; a copy from a page (history, `message_updates`)
/// gets the remembered changes with a `rev` above its `changed_rev` applied again.
#[derive(Debug, Default)]
struct ClientRoom {
    held: BTreeMap<u64, Message>,
    /// Live changes, oldest first: (seq, rev, event).
    recent: Vec<(u64, u64, ServerMsg)>,
    /// The `rev` up to which every held message is known current (`resume`'s `last_rev`);
    /// while a resume catches up it stays put, and the revs seen meanwhile wait in `rev_seen`
    /// (store.js's `noteRev`/`endCatchUp`).
    last_rev: u64,
    catching_up: bool,
    rev_seen: u64,
}

/// A live change applied to a copy (which then is as of the change's `rev`).
fn change(m: &mut Message, event: &ServerMsg) {
    if m.deleted {
        return;
    }
    if let ServerMsg::MessageEdited { rev, .. }
    | ServerMsg::MessageDeleted { rev, .. }
    | ServerMsg::Reaction { rev, .. } = event
    {
        m.changed_rev = *rev;
    }
    match event {
        ServerMsg::MessageEdited { content, mentions, edited_at, .. } => {
            m.content.clone_from(content);
            m.mentions.clone_from(mentions);
            m.edited_at = Some(*edited_at);
        }
        ServerMsg::MessageDeleted { deleted_at, .. } => {
            m.deleted = true;
            m.deleted_at = Some(*deleted_at);
            m.content.clear();
            m.mentions.clear();
            m.reactions.clear();
            m.client_id = None;
            m.edited_at = None;
        }
        ServerMsg::Reaction { emoji, username, add, .. } => {
            let at = m.reactions.iter().position(|g| &g.emoji == emoji);
            match (at, add) {
                (Some(i), true) if !m.reactions[i].users.contains(username) => {
                    m.reactions[i].users.push(username.clone())
                }
                (None, true) => {
                    m.reactions.push(chat_core::log::Reactions { emoji: emoji.clone(), users: vec![username.clone()] })
                }
                (Some(i), false) => {
                    m.reactions[i].users.retain(|u| u != username);
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

impl ClientRoom {
    fn note_rev(&mut self, rev: u64) {
        if !self.catching_up {
            self.last_rev = self.last_rev.max(rev);
            return;
        }
        self.rev_seen = self.rev_seen.max(rev);
        if rev == self.last_rev + 1 {
            self.end_catch_up(); // nothing happened between our last sync and this connection
        }
    }

    fn end_catch_up(&mut self) {
        if self.catching_up {
            self.catching_up = false;
            self.last_rev = self.last_rev.max(self.rev_seen);
            self.rev_seen = 0;
        }
    }

    fn up_to_date(&self, mut m: Message) -> Message {
        let since = m.rev.max(m.changed_rev);
        for (seq, rev, event) in &self.recent {
            if *seq == m.seq && *rev > since {
                change(&mut m, event);
            }
        }
        m
    }

    fn receive(&mut self, frame: &ServerMsg) {
        match frame {
            ServerMsg::Message(m) => {
                self.note_rev(m.rev);
                self.held.entry(m.seq).or_insert_with(|| Message::clone(m));
            }
            ServerMsg::MessageEdited { seq, rev, .. }
            | ServerMsg::MessageDeleted { seq, rev, .. }
            | ServerMsg::Reaction { seq, rev, .. } => {
                self.note_rev(*rev);
                self.recent.push((*seq, *rev, frame.clone()));
                if let Some(m) = self.held.get_mut(seq) {
                    change(m, frame);
                }
            }
            // A page inserts what is not held; `message_updates` replaces what is.
            ServerMsg::History { messages, resume, more, .. } => {
                for m in messages {
                    if !self.held.contains_key(&m.seq) {
                        self.held.insert(m.seq, self.up_to_date(m.clone()));
                    }
                    // A page's items prove nothing about events in between: only live
                    // events end a catch-up early.
                    if !self.catching_up {
                        self.last_rev = self.last_rev.max(m.rev);
                    }
                }
                if *resume && !*more {
                    self.end_catch_up();
                }
            }
            ServerMsg::MessageUpdates { messages, more, resume, .. } => {
                for m in messages {
                    if self.held.contains_key(&m.seq) {
                        self.held.insert(m.seq, self.up_to_date(m.clone()));
                    }
                }
                if *resume && !*more {
                    self.end_catch_up();
                }
            }
            _ => {}
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    /// Alice (0) or bob (1) sends.
    Send(usize),
    Edit(usize, u64),
    Delete(usize, u64),
    React(usize, u64, usize, bool),
    /// Carol asks for the latest page (its read happens now, its delivery later).
    CarolHistory,
    /// The oldest (or a later) page read but not delivered reaches its client now.
    Deliver(usize),
    /// Carol's connection drops; she reconnects later and resumes.
    CarolDrops,
    CarolResumes,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..2usize).prop_map(Op::Send),
        3 => (0..2usize, 1..8u64).prop_map(|(u, s)| Op::Edit(u, s)),
        2 => (0..2usize, 1..8u64).prop_map(|(u, s)| Op::Delete(u, s)),
        4 => (0..2usize, 1..8u64, 0..2usize, any::<bool>()).prop_map(|(u, s, e, a)| Op::React(u, s, e, a)),
        2 => Just(Op::CarolHistory),
        3 => (0..4usize).prop_map(Op::Deliver),
        1 => Just(Op::CarolDrops),
        1 => Just(Op::CarolResumes),
    ]
}

/// A driver that keeps the contract (commit, then carry out) but answers history and resume
/// loads late: each is read from the journal when asked and handed to the core later. A
/// lifecycle op's target (`At`) is answered at once (the core runs one op per message, so no
/// change to it can land in between anyway).
struct Driver {
    chat: Chat,
    journal: MemoryJournal,
    now: u64,
    late: Vec<(LoadId, Result<Vec<Message>, LoadError>)>,
    carol: Option<SessionId>,
    next_session: u64,
    view: ClientRoom,
}

impl Driver {
    fn input(&mut self, input: Input) {
        self.now += 10;
        self.chat.handle(Timestamp(self.now), input);
        self.run();
    }

    fn run(&mut self) {
        loop {
            let drain = self.chat.drain();
            if drain.is_empty() {
                return;
            }
            let mut now_loads = Vec::new();
            for output in drain.commit(&mut self.journal).expect("commit") {
                match output {
                    Output::Deliver { sessions, msg } if self.carol.is_some_and(|c| sessions.contains(&c)) => {
                        self.view.receive(&msg);
                    }
                    Output::Load { load, query } => {
                        let page = self.journal.history(&query).map_err(LoadError::journal);
                        if matches!(query.range, HistoryRange::At(_)) {
                            now_loads.push((load, page));
                        } else {
                            self.late.push((load, page));
                        }
                    }
                    _ => {}
                }
            }
            for (load, result) in now_loads {
                self.chat.handle(Timestamp(self.now), Input::Loaded { load, result });
            }
        }
    }

    fn deliver(&mut self, k: usize) {
        if self.late.is_empty() {
            return;
        }
        let (load, result) = self.late.remove(k % self.late.len());
        self.chat.handle(Timestamp(self.now), Input::Loaded { load, result });
        self.run();
    }

    fn connect_carol(&mut self) -> SessionId {
        let session = SessionId(self.next_session);
        self.next_session += 1;
        self.carol = Some(session);
        self.input(Input::Connect { session, user: "carol".parse().unwrap() });
        session
    }
}

fn room() -> RoomRef {
    RoomRef { room: Some(LOBBY.into()), ..RoomRef::default() }
}

/// `held` with every reply quoting its target as held (the view draws quotes from the held
/// target, so the page's preview does not matter).
fn quoted(held: &BTreeMap<u64, Message>) -> Vec<Message> {
    held.values()
        .map(|m| {
            let mut m = m.clone();
            if let Some(r) = &mut m.reply_to {
                r.preview = String::new();
            }
            m
        })
        .collect()
}

fn play(ops: &[Op]) -> Result<(), TestCaseError> {
    let mut config = Config::default();
    config.send_burst = 10_000;
    config.op_burst = 10_000;
    let mut d = Driver {
        chat: Chat::new(config),
        journal: MemoryJournal::new(),
        now: 1_700_000_000_000,
        late: Vec::new(),
        carol: None,
        next_session: 3,
        view: ClientRoom::default(),
    };
    let alice: UserName = "alice".parse().unwrap();
    d.input(Input::Connect { session: ALICE, user: alice });
    d.input(Input::Connect { session: BOB, user: "bob".parse().unwrap() });
    let carol = d.connect_carol();
    for s in [ALICE, BOB, carol] {
        d.input(Input::Receive { session: s, msg: ClientMsg::JoinRoom { room: room() } });
    }
    let sessions = [ALICE, BOB];
    for (step, op) in ops.iter().enumerate() {
        let msg = match op {
            Op::Send(u) => Some((
                u,
                ClientMsg::SendMessage {
                    attachments: Vec::new(),
                    room: room(),
                    content: format!("m{step}"),
                    client_id: None,
                    reply_to: None,
                },
            )),
            Op::Edit(u, seq) => Some((
                u,
                ClientMsg::EditMessage { room: room(), seq: *seq, content: format!("e{step}"), client_id: None },
            )),
            Op::Delete(u, seq) => Some((u, ClientMsg::DeleteMessage { room: room(), seq: *seq })),
            Op::React(u, seq, e, add) => {
                Some((u, ClientMsg::React { room: room(), seq: *seq, emoji: EMOJI[*e].into(), add: *add }))
            }
            _ => None,
        };
        if let Some((u, msg)) = msg {
            d.input(Input::Receive { session: sessions[*u], msg });
            continue;
        }
        match op {
            Op::CarolHistory => {
                if let Some(c) = d.carol {
                    let msg =
                        ClientMsg::History { room: room(), before: None, after: None, limit: Some(100), around: None };
                    d.input(Input::Receive { session: c, msg });
                }
            }
            Op::Deliver(k) => d.deliver(*k),
            Op::CarolDrops => {
                if let Some(c) = d.carol.take() {
                    d.input(Input::Disconnect { session: c });
                }
            }
            Op::CarolResumes if d.carol.is_none() => {
                let c = d.connect_carol();
                let last_seq = d.view.held.keys().next_back().copied().unwrap_or(0);
                let point = ResumePoint { room: LOBBY.into(), last_seq, last_rev: Some(d.view.last_rev) };
                d.view.catching_up = true;
                d.input(Input::Receive { session: c, msg: ClientMsg::Resume { rooms: vec![point] } });
            }
            _ => {}
        }
    }
    // Everything read is delivered (oldest first), and carol is online for what follows.
    while !d.late.is_empty() {
        d.deliver(0);
    }
    if d.carol.is_none() {
        let c = d.connect_carol();
        let last_seq = d.view.held.keys().next_back().copied().unwrap_or(0);
        let point = ResumePoint { room: LOBBY.into(), last_seq, last_rev: Some(d.view.last_rev) };
        d.view.catching_up = true;
        d.input(Input::Receive { session: c, msg: ClientMsg::Resume { rooms: vec![point] } });
        while !d.late.is_empty() {
            d.deliver(0);
        }
    }
    // Carol's copy of every message she holds is the current state.
    let lobby: RoomKey = LOBBY.parse().unwrap();
    let all = d.journal.history(&HistoryQuery { room: lobby, range: HistoryRange::Latest, limit: u32::MAX }).unwrap();
    let current: BTreeMap<u64, Message> = all.into_iter().map(|m| (m.seq, m)).collect();
    let held: BTreeMap<u64, Message> =
        d.view.held.iter().filter(|(s, _)| current.contains_key(s)).map(|(s, m)| (*s, m.clone())).collect();
    let want: BTreeMap<u64, Message> =
        current.iter().filter(|(s, _)| d.view.held.contains_key(s)).map(|(s, m)| (*s, m.clone())).collect();
    prop_assert_eq!(quoted(&held), quoted(&want));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]
    #[test]
    fn a_page_delivered_after_a_live_change_never_undoes_it(ops in proptest::collection::vec(op(), 1..60)) {
        play(&ops)?;
    }
}

/// The race by hand: carol's history page is read, then bob's message is edited and reacted
/// to, then the page arrives. Its item is older than what carol holds live; `changed_rev`
/// tells her so, and she ends up with the edit and the reaction.
#[test]
fn an_old_page_item_gets_the_newer_live_changes_again() {
    play(&[Op::Send(1), Op::CarolHistory, Op::Edit(1, 1), Op::React(0, 1, 0, true), Op::Deliver(0)]).unwrap();
}
