//! Harness for the `core_ops` fuzz target (also replayed by `chat-core`'s corpus test).
//!
//! An arbitrary [`Scenario`] (a few config tweaks and a sequence of [`Op`]s: sessions of four
//! users connecting and disconnecting, frames and REST calls of every kind, history loads
//! answered late or failing, time passing or reported backwards, injected commit failures and
//! restarts from the journal's snapshot) runs through a small driver that obeys the contract in
//! `chat-core/src/lib.rs`: drain, commit every `Persist` of the drain in one `MemoryJournal`
//! append, and only then carry out the rest; on a failed commit carry out nothing, restore from
//! the journal and close every session.
//!
//! After every step the driver checks, against its own naive model built from committed log
//! entries:
//! - a `message` event goes to exactly the live sessions of the room's members, once each, and
//!   per (session, room) in `seq` order without gaps; every room-scoped event reaches members
//!   only (DM privacy) and `room_left` only former members;
//! - every message is durable before anyone sees it or its ack; per-room `seq` runs 1, 2, 3…;
//!   a client id is never stored twice for a user, and a retry is acked as the original;
//! - for every member, `chat.unread` equals a recount from the committed messages (read cursor
//!   from the model, unread = messages from others after it, highlight = those mentioning the
//!   member or, in a DM, all of them); non-members have no unread state;
//! - `journal.snapshot() == *chat.snapshot()` (restore equivalence), time never goes back;
//! - the live state holds the fold's invariants (`chat_core::testing::assert_fold_invariants`);
//! - history pages (and resume pages) are authorised, in the room, ascending and gap-free.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arbitrary::{Arbitrary, Unstructured};
use chat_core::protocol::ResumePoint;
use chat_core::{
    Chat, ClientMsg, Config, HistoryQuery, HistoryRange, Input, Journal, LoadError, LoadId, LogEntry, MemoryJournal,
    Message, Output, RequestId, RoomKey, RoomRef, RoomType, ServerMsg, SessionId, Snapshot, Timestamp, UserName,
};

const USERS: [&str; 4] = ["alice", "bob", "carol", "dave"];
const GROUPS: [&str; 4] = ["lobby", "dev", "secret", "a.b-c"];
const WORDS: [&str; 6] = ["hi", "ok", "ça va", "deploy", "x", "\u{1F600}"];
const PUNCT: [&str; 8] = [".", ",", "-", "!", "_", "@", "é", "\t"];
const SLOTS: usize = 6;
const MAX_OPS: usize = 300;
const MAX_FRAGS: usize = 12;
const START: u64 = 1_700_000_000_000;

/// One fuzz input: config tweaks and the operations.
///
/// The byte format is hand-rolled (one byte per choice, tags weighted towards the operations
/// that build state) so that the fuzzer wastes few inputs and seeds can be written by hand
/// ([`Scenario::encode`], `fuzz/examples/seeds.rs`): a tweaks byte, then operations until the
/// input ends. An exhausted input reads as zeros.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    /// Config tweaks.
    pub tweaks: Tweaks,
    /// The operations, in order.
    pub ops: Vec<Op>,
}

/// Small limits that make rarely reached paths cheap to reach.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tweaks {
    /// Rooms of at most 3 members.
    pub small_rooms: bool,
    /// `resume` resends at most 2 messages.
    pub short_resume: bool,
    /// Messages of at most 12 characters.
    pub short_messages: bool,
    /// Tight rate limits (burst 3, 4 strikes).
    pub strict_rate: bool,
}

/// One step of a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// The session in `slot` sends a frame.
    Frame { slot: u8, msg: Msg },
    /// A session of `user` connects in `slot` (an occupied slot re-sends `Connect` with the live
    /// id and another user: the core must ignore it).
    Connect { slot: u8, user: u8 },
    /// The session in `slot` goes away.
    Disconnect { slot: u8 },
    /// A sessionless (REST) call by `user`.
    Request { user: u8, msg: Msg },
    /// The driver answers every pending history load (from the journal, or with an error).
    AnswerLoads { fail: bool },
    /// Time passes; `Tick` when `poll_timeout` is due.
    Advance { ms: u16 },
    /// The driver reports an earlier time (the core must clamp it).
    Rewind { ms: u16 },
    /// `user` registers (becomes known).
    AddUser { user: u8 },
    /// The next commit fails.
    FailNextCommit,
    /// Restart: `Chat::restore` from the journal's snapshot, every session closed.
    Restore,
}

/// A client frame, in terms of the scenario's small name space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    Send { room: RoomSel, text: Vec<Frag>, client_id: Option<u8> },
    Join(RoomSel),
    MarkRead { room: RoomSel, seq: Option<u8> },
    History { room: RoomSel, before: Option<u8>, after: Option<u8>, limit: Option<u8> },
    Typing { room: RoomSel, active: bool },
    Leave(RoomSel),
    Create { name: u8, private: bool },
    Invite { room: RoomSel, user: u8 },
    Remove { room: RoomSel, user: u8 },
    Resume { room: RoomSel, last_seq: u8 },
    Notifications { limit: Option<u8> },
    MarkNotificationsRead { ids: Option<Vec<u8>> },
    ListRooms,
    ListUsers,
}

/// How a frame names a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomSel {
    /// `room: "group:<name>"`.
    Group(u8),
    /// `room_type: "group", room_name`.
    SeedGroup(u8),
    /// The DM between the caller and a user, by key.
    Dm(u8),
    /// `room_type: "dm", target`.
    SeedDm(u8),
    /// Any DM key, possibly someone else's conversation.
    DmKey(u8, u8),
    /// Anything at all (lossy UTF-8).
    Raw(Vec<u8>),
}

/// A piece of message text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frag {
    Word(u8),
    Mention {
        user: u8,
        upper: bool,
    },
    AtRoom,
    AtHere,
    /// A run of 1–3 backticks.
    Code(u8),
    /// `name@host`: not a mention.
    Email(u8),
    Punct(u8),
    Space,
    Newline,
    /// Anything at all (lossy UTF-8).
    Raw(Vec<u8>),
}

/// Op tags: the first tag byte of each range picks the variant (weights: frames and connects
/// often, restarts rarely).
const OP_TAGS: [u8; 10] = [0, 90, 120, 135, 165, 180, 210, 220, 238, 248];
const MSG_TAGS: [u8; 14] = [0, 80, 120, 140, 160, 175, 185, 195, 210, 220, 230, 238, 246, 251];
const ROOM_TAGS: [u8; 6] = [0, 6, 8, 11, 13, 15];
const MAX_RAW: usize = 16;

/// Which range of `tags` (ascending starts) `byte` falls in.
fn range(tags: &[u8], byte: u8) -> usize {
    tags.iter().rposition(|&t| t <= byte).unwrap_or(0)
}

struct Reader<'a, 'b>(&'b mut Unstructured<'a>);

impl Reader<'_, '_> {
    fn u8(&mut self) -> u8 {
        u8::arbitrary(self.0).unwrap_or(0)
    }
    fn flag(&mut self) -> bool {
        self.u8() & 1 == 1
    }
    fn u16(&mut self) -> u16 {
        u16::from(self.u8()) | (u16::from(self.u8()) << 8)
    }
    fn opt(&mut self) -> Option<u8> {
        if self.flag() { Some(self.u8()) } else { None }
    }
    fn raw(&mut self) -> Vec<u8> {
        let len = usize::from(self.u8()) % (MAX_RAW + 1);
        (0..len).map(|_| self.u8()).collect()
    }
    fn op(&mut self) -> Op {
        match range(&OP_TAGS, self.u8()) {
            0 => Op::Frame { slot: self.u8(), msg: self.msg() },
            1 => Op::Connect { slot: self.u8(), user: self.u8() },
            2 => Op::Disconnect { slot: self.u8() },
            3 => Op::Request { user: self.u8(), msg: self.msg() },
            4 => Op::AnswerLoads { fail: self.flag() },
            5 => Op::Advance { ms: self.u16() },
            6 => Op::Rewind { ms: self.u16() },
            7 => Op::AddUser { user: self.u8() },
            8 => Op::FailNextCommit,
            _ => Op::Restore,
        }
    }
    fn msg(&mut self) -> Msg {
        match range(&MSG_TAGS, self.u8()) {
            0 => {
                let room = self.room();
                let count = usize::from(self.u8()) % (MAX_FRAGS + 1);
                let text = (0..count).map(|_| self.frag()).collect();
                Msg::Send { room, text, client_id: self.opt() }
            }
            1 => Msg::Join(self.room()),
            2 => Msg::MarkRead { room: self.room(), seq: self.opt() },
            3 => Msg::History { room: self.room(), before: self.opt(), after: self.opt(), limit: self.opt() },
            4 => Msg::Typing { room: self.room(), active: self.flag() },
            5 => Msg::Leave(self.room()),
            6 => Msg::Create { name: self.u8(), private: self.flag() },
            7 => Msg::Invite { room: self.room(), user: self.u8() },
            8 => Msg::Remove { room: self.room(), user: self.u8() },
            9 => Msg::Resume { room: self.room(), last_seq: self.u8() },
            10 => Msg::Notifications { limit: self.opt() },
            11 => Msg::MarkNotificationsRead {
                ids: if self.flag() { Some((0..self.u8() % 9).map(|_| self.u8()).collect()) } else { None },
            },
            12 => Msg::ListRooms,
            _ => Msg::ListUsers,
        }
    }
    fn room(&mut self) -> RoomSel {
        match range(&ROOM_TAGS, self.u8() % 16) {
            0 => RoomSel::Group(self.u8()),
            1 => RoomSel::SeedGroup(self.u8()),
            2 => RoomSel::Dm(self.u8()),
            3 => RoomSel::SeedDm(self.u8()),
            4 => RoomSel::DmKey(self.u8(), self.u8()),
            _ => RoomSel::Raw(self.raw()),
        }
    }
    fn frag(&mut self) -> Frag {
        match self.u8() % 10 {
            0 => Frag::Word(self.u8()),
            1 => Frag::Mention { user: self.u8(), upper: self.flag() },
            2 => Frag::AtRoom,
            3 => Frag::AtHere,
            4 => Frag::Code(self.u8()),
            5 => Frag::Email(self.u8()),
            6 => Frag::Punct(self.u8()),
            7 => Frag::Space,
            8 => Frag::Newline,
            _ => Frag::Raw(self.raw()),
        }
    }
}

impl<'a> Arbitrary<'a> for Scenario {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Scenario> {
        let mut r = Reader(u);
        let bits = r.u8();
        let tweaks = Tweaks {
            small_rooms: bits & 1 != 0,
            short_resume: bits & 2 != 0,
            short_messages: bits & 4 != 0,
            strict_rate: bits & 8 != 0,
        };
        let mut ops = Vec::new();
        while !r.0.is_empty() && ops.len() < MAX_OPS {
            ops.push(r.op());
        }
        Ok(Scenario { tweaks, ops })
    }
}

/// The inverse of the decoder, for hand-written seeds.
impl Scenario {
    /// The bytes that decode to this scenario (values are kept as written; the decoder reduces
    /// counts modulo their bounds).
    pub fn encode(&self) -> Vec<u8> {
        let t = self.tweaks;
        let mut out = vec![
            u8::from(t.small_rooms)
                | u8::from(t.short_resume) << 1
                | u8::from(t.short_messages) << 2
                | u8::from(t.strict_rate) << 3,
        ];
        for op in &self.ops {
            encode_op(op, &mut out);
        }
        out
    }
}

fn encode_opt(v: Option<u8>, out: &mut Vec<u8>) {
    match v {
        Some(v) => out.extend([1, v]),
        None => out.push(0),
    }
}

fn encode_raw(raw: &[u8], out: &mut Vec<u8>) {
    let raw = &raw[..raw.len().min(MAX_RAW)];
    out.push(raw.len() as u8);
    out.extend_from_slice(raw);
}

fn encode_op(op: &Op, out: &mut Vec<u8>) {
    match op {
        Op::Frame { slot, msg } => {
            out.extend([OP_TAGS[0], *slot]);
            encode_msg(msg, out);
        }
        Op::Connect { slot, user } => out.extend([OP_TAGS[1], *slot, *user]),
        Op::Disconnect { slot } => out.extend([OP_TAGS[2], *slot]),
        Op::Request { user, msg } => {
            out.extend([OP_TAGS[3], *user]);
            encode_msg(msg, out);
        }
        Op::AnswerLoads { fail } => out.extend([OP_TAGS[4], u8::from(*fail)]),
        Op::Advance { ms } => out.extend([OP_TAGS[5], *ms as u8, (*ms >> 8) as u8]),
        Op::Rewind { ms } => out.extend([OP_TAGS[6], *ms as u8, (*ms >> 8) as u8]),
        Op::AddUser { user } => out.extend([OP_TAGS[7], *user]),
        Op::FailNextCommit => out.push(OP_TAGS[8]),
        Op::Restore => out.push(OP_TAGS[9]),
    }
}

fn encode_msg(msg: &Msg, out: &mut Vec<u8>) {
    let tag = |i: usize, out: &mut Vec<u8>| out.push(MSG_TAGS[i]);
    match msg {
        Msg::Send { room, text, client_id } => {
            tag(0, out);
            encode_room(room, out);
            let text = &text[..text.len().min(MAX_FRAGS)];
            out.push(text.len() as u8);
            text.iter().for_each(|f| encode_frag(f, out));
            encode_opt(*client_id, out);
        }
        Msg::Join(room) => {
            tag(1, out);
            encode_room(room, out);
        }
        Msg::MarkRead { room, seq } => {
            tag(2, out);
            encode_room(room, out);
            encode_opt(*seq, out);
        }
        Msg::History { room, before, after, limit } => {
            tag(3, out);
            encode_room(room, out);
            [*before, *after, *limit].into_iter().for_each(|v| encode_opt(v, out));
        }
        Msg::Typing { room, active } => {
            tag(4, out);
            encode_room(room, out);
            out.push(u8::from(*active));
        }
        Msg::Leave(room) => {
            tag(5, out);
            encode_room(room, out);
        }
        Msg::Create { name, private } => {
            tag(6, out);
            out.extend([*name, u8::from(*private)]);
        }
        Msg::Invite { room, user } | Msg::Remove { room, user } => {
            tag(if matches!(msg, Msg::Invite { .. }) { 7 } else { 8 }, out);
            encode_room(room, out);
            out.push(*user);
        }
        Msg::Resume { room, last_seq } => {
            tag(9, out);
            encode_room(room, out);
            out.push(*last_seq);
        }
        Msg::Notifications { limit } => {
            tag(10, out);
            encode_opt(*limit, out);
        }
        Msg::MarkNotificationsRead { ids } => {
            tag(11, out);
            match ids {
                Some(ids) => {
                    let ids = &ids[..ids.len().min(8)];
                    out.extend([1, ids.len() as u8]);
                    out.extend_from_slice(ids);
                }
                None => out.push(0),
            }
        }
        Msg::ListRooms => tag(12, out),
        Msg::ListUsers => tag(13, out),
    }
}

fn encode_room(room: &RoomSel, out: &mut Vec<u8>) {
    match room {
        RoomSel::Group(g) => out.extend([ROOM_TAGS[0], *g]),
        RoomSel::SeedGroup(g) => out.extend([ROOM_TAGS[1], *g]),
        RoomSel::Dm(u) => out.extend([ROOM_TAGS[2], *u]),
        RoomSel::SeedDm(u) => out.extend([ROOM_TAGS[3], *u]),
        RoomSel::DmKey(a, b) => out.extend([ROOM_TAGS[4], *a, *b]),
        RoomSel::Raw(raw) => {
            out.push(ROOM_TAGS[5]);
            encode_raw(raw, out);
        }
    }
}

fn encode_frag(frag: &Frag, out: &mut Vec<u8>) {
    match frag {
        Frag::Word(w) => out.extend([0, *w]),
        Frag::Mention { user, upper } => out.extend([1, *user, u8::from(*upper)]),
        Frag::AtRoom => out.push(2),
        Frag::AtHere => out.push(3),
        Frag::Code(n) => out.extend([4, *n]),
        Frag::Email(u) => out.extend([5, *u]),
        Frag::Punct(p) => out.extend([6, *p]),
        Frag::Space => out.push(7),
        Frag::Newline => out.push(8),
        Frag::Raw(raw) => {
            out.push(9);
            encode_raw(raw, out);
        }
    }
}

/// Hand-written seed scenarios, committed as `fuzz/corpus/core_ops/seed-<name>` (written by
/// `cargo run --example seeds` in `fuzz/`; `chat-core`'s corpus test checks the files match).
pub fn seeds() -> Vec<(&'static str, Scenario)> {
    use Frag::*;
    use Msg::*;
    use Op::*;
    let (alice, bob, carol, dave) = (0, 1, 2, 3);
    let lobby = || RoomSel::Group(0);
    let frame = |slot: u8, msg: Msg| Frame { slot, msg };
    let say =
        |slot: u8, room: RoomSel, text: Vec<Frag>, client_id: Option<u8>| frame(slot, Send { room, text, client_id });
    let connect = |slot: u8, user: u8| Connect { slot, user };
    let history = |room: RoomSel| History { room, before: None, after: None, limit: None };
    let plain = Tweaks::default();
    let mut seeds = Vec::new();

    let mut ops = vec![connect(0, alice), connect(1, bob), connect(2, carol)];
    ops.extend((0..3).map(|slot| frame(slot, Join(lobby()))));
    ops.extend([
        say(
            0,
            lobby(),
            vec![
                Word(0),
                Space,
                Mention { user: bob, upper: false },
                Space,
                Mention { user: carol, upper: true },
                Space,
                Code(0),
                Mention { user: dave, upper: false },
                Code(0),
            ],
            Some(1),
        ),
        say(0, lobby(), vec![Word(1)], Some(1)), // a retry: acked as the original
        frame(1, MarkRead { room: lobby(), seq: Some(1) }),
        say(2, RoomSel::SeedGroup(0), vec![AtRoom, Space, Word(3), Punct(0)], None),
        say(0, RoomSel::Dm(bob), vec![Word(1), Space, Email(carol)], Some(2)),
        say(1, RoomSel::SeedDm(alice), vec![Word(0), Space, AtHere], None),
        connect(3, dave),
        frame(3, Join(RoomSel::DmKey(alice, bob))), // someone else's DM: refused
        frame(3, history(RoomSel::DmKey(alice, bob))),
        frame(1, history(lobby())),
        frame(1, Resume { room: lobby(), last_seq: 0 }),
        AnswerLoads { fail: false },
        frame(1, MarkRead { room: RoomSel::Dm(alice), seq: None }),
        Disconnect { slot: 1 },
        say(0, lobby(), vec![Mention { user: bob, upper: false }, Punct(0), Punct(0)], None),
        connect(1, bob),
    ]);
    seeds.push(("mentions-dm-history", Scenario { tweaks: plain, ops }));

    let secret = || RoomSel::Group(2);
    let ops = vec![
        connect(0, alice),
        connect(1, bob),
        connect(2, carol),
        frame(0, Create { name: 2, private: true }),
        frame(0, Invite { room: secret(), user: bob }),
        frame(2, Join(secret())), // invite-only: refused
        frame(1, Typing { room: secret(), active: true }),
        say(0, secret(), vec![Mention { user: bob, upper: false }, Space, Word(2)], None),
        frame(1, Typing { room: secret(), active: true }),
        Advance { ms: 6_000 }, // the typing indicator expires
        frame(0, Remove { room: secret(), user: bob }),
        say(1, secret(), vec![Word(0)], None), // no longer a member
        frame(1, history(secret())),
        frame(0, Leave(secret())), // the owner cannot leave
        frame(1, Join(RoomSel::Raw(b"dm:bob:bob".to_vec()))),
        Rewind { ms: 5_000 },
        say(0, secret(), vec![Raw("\u{0}`x`".as_bytes().to_vec())], None),
    ];
    seeds.push(("private-room-typing", Scenario { tweaks: plain, ops }));

    let ops = vec![
        connect(0, alice),
        connect(1, bob),
        frame(0, Join(lobby())),
        frame(1, Join(lobby())),
        say(0, lobby(), vec![Word(0)], Some(7)),
        FailNextCommit,
        say(1, lobby(), vec![Mention { user: alice, upper: false }], Some(7)), // commit fails: restore
        connect(0, alice),
        say(0, lobby(), vec![Word(0)], Some(7)), // survived the restore: duplicate
        frame(0, history(lobby())),
        Restore,
        connect(0, alice),
        frame(0, history(lobby())),
        AnswerLoads { fail: true },
        say(0, lobby(), vec![Word(4)], Some(7)),
        Request { user: bob, msg: Send { room: lobby(), text: vec![Word(1)], client_id: Some(3) } },
        Request { user: bob, msg: Send { room: lobby(), text: vec![Word(1)], client_id: Some(3) } },
    ];
    seeds.push(("failed-commit-restore", Scenario { tweaks: plain, ops }));

    let ops = vec![
        AddUser { user: carol },
        Request { user: alice, msg: Join(lobby()) },
        Request { user: alice, msg: Send { room: RoomSel::Dm(carol), text: vec![Word(0)], client_id: None } },
        Request { user: carol, msg: Notifications { limit: Some(10) } },
        Request { user: carol, msg: MarkNotificationsRead { ids: Some(vec![1, 2]) } },
        Request { user: carol, msg: MarkNotificationsRead { ids: None } },
        Request { user: alice, msg: history(lobby()) },
        Request { user: alice, msg: Typing { room: lobby(), active: true } },
        Request { user: alice, msg: ListRooms },
        Request { user: carol, msg: ListUsers },
        AnswerLoads { fail: false },
    ];
    seeds.push(("rest-requests", Scenario { tweaks: plain, ops }));

    let all = Tweaks { small_rooms: true, short_resume: true, short_messages: true, strict_rate: true };
    let mut ops: Vec<Op> = (0..4).map(|u| connect(u, u)).collect();
    ops.extend((0..4).map(|slot| frame(slot, Join(lobby())))); // the fourth is refused
    ops.push(say(0, lobby(), vec![Word(3), Space, Word(3), Space, Word(3)], None)); // too long
    ops.extend((0..6).map(|_| say(1, lobby(), vec![Word(1)], None))); // rate limited after 3
    ops.push(frame(0, Resume { room: lobby(), last_seq: 0 })); // gap > 2: reset
    ops.extend((0..6).map(|_| frame(2, ListUsers))); // strikes: closed
    ops.push(AnswerLoads { fail: false });
    seeds.push(("tight-limits", Scenario { tweaks: all, ops }));
    seeds
}

/// What a run reached, so a replayed corpus can prove it exercises the interesting paths.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Operations run.
    pub steps: usize,
    /// Messages committed.
    pub messages: usize,
    /// Messages committed in DM rooms.
    pub dm_messages: usize,
    /// Messages that mentioned someone.
    pub mentions: usize,
    /// Sends acknowledged as duplicates (client id retries).
    pub duplicate_acks: usize,
    /// History and resume pages delivered.
    pub history_pages: usize,
    /// Commits that failed (followed by a restore).
    pub failed_commits: usize,
    /// Restarts from the journal's snapshot (asked for, or after a failed commit).
    pub restores: usize,
}

impl std::ops::AddAssign for Stats {
    fn add_assign(&mut self, o: Stats) {
        self.steps += o.steps;
        self.messages += o.messages;
        self.dm_messages += o.dm_messages;
        self.mentions += o.mentions;
        self.duplicate_acks += o.duplicate_acks;
        self.history_pages += o.history_pages;
        self.failed_commits += o.failed_commits;
        self.restores += o.restores;
    }
}

/// Decodes fuzzer bytes as a [`Scenario`] (never fails: an exhausted input reads as zeros).
pub fn decode(data: &[u8]) -> Scenario {
    let empty = Scenario { tweaks: Tweaks::default(), ops: Vec::new() };
    Scenario::arbitrary_take_rest(Unstructured::new(data)).unwrap_or(empty)
}

/// Decodes `data` as a [`Scenario`] the way the fuzz target does, and runs it.
pub fn run_bytes(data: &[u8]) -> Stats {
    run(&decode(data))
}

/// Runs a scenario, checking every invariant after every step.
pub fn run(scenario: &Scenario) -> Stats {
    let mut driver = Driver::new(scenario.tweaks);
    for op in scenario.ops.iter().take(MAX_OPS) {
        driver.step(op);
        driver.check_state();
        driver.stats.steps += 1;
    }
    driver.finish();
    driver.stats
}

fn user(i: u8) -> UserName {
    UserName::new(USERS[usize::from(i) % USERS.len()]).expect("fixture names are valid")
}

fn user_str(i: u8) -> &'static str {
    USERS[usize::from(i) % USERS.len()]
}

fn group(i: u8) -> &'static str {
    GROUPS[usize::from(i) % GROUPS.len()]
}

impl RoomSel {
    fn to_ref(&self, caller: &UserName) -> RoomRef {
        let mut r = RoomRef::default();
        match self {
            RoomSel::Group(g) => r.room = Some(format!("group:{}", group(*g))),
            RoomSel::SeedGroup(g) => {
                r.room_type = Some(RoomType::Group);
                r.room_name = Some(group(*g).to_owned());
            }
            RoomSel::Dm(u) => r.room = Some(format!("dm:{caller}:{}", user_str(*u))),
            RoomSel::SeedDm(u) => {
                r.room_type = Some(RoomType::Dm);
                r.target = Some(user_str(*u).to_owned());
            }
            RoomSel::DmKey(a, b) => r.room = Some(format!("dm:{}:{}", user_str(*a), user_str(*b))),
            RoomSel::Raw(raw) => r.room = Some(String::from_utf8_lossy(raw).into_owned()),
        }
        r
    }
}

fn render(frags: &[Frag]) -> String {
    let mut text = String::new();
    for frag in frags.iter().take(MAX_FRAGS) {
        match frag {
            Frag::Word(w) => text.push_str(WORDS[usize::from(*w) % WORDS.len()]),
            Frag::Mention { user, upper } => {
                text.push('@');
                match upper {
                    true => text.push_str(&user_str(*user).to_ascii_uppercase()),
                    false => text.push_str(user_str(*user)),
                }
            }
            Frag::AtRoom => text.push_str("@room"),
            Frag::AtHere => text.push_str("@Here"),
            Frag::Code(n) => (0..=n % 3).for_each(|_| text.push('`')),
            Frag::Email(u) => {
                text.push_str("mail ");
                text.push_str(user_str(*u));
                text.push_str("@example.com");
            }
            Frag::Punct(p) => text.push_str(PUNCT[usize::from(*p) % PUNCT.len()]),
            Frag::Space => text.push(' '),
            Frag::Newline => text.push('\n'),
            Frag::Raw(raw) => text.push_str(&String::from_utf8_lossy(raw)),
        }
    }
    text
}

impl Msg {
    fn to_client(&self, caller: &UserName) -> ClientMsg {
        match self {
            Msg::Join(room) => ClientMsg::JoinRoom { room: room.to_ref(caller) },
            Msg::Leave(room) => ClientMsg::LeaveRoom { room: room.to_ref(caller) },
            Msg::Create { name, private } => {
                ClientMsg::CreateRoom { room_name: group(*name).into(), private: *private }
            }
            Msg::Invite { room, user } => {
                ClientMsg::Invite { room: room.to_ref(caller), username: user_str(*user).to_ascii_uppercase() }
            }
            Msg::Remove { room, user } => {
                ClientMsg::Remove { room: room.to_ref(caller), username: user_str(*user).into() }
            }
            Msg::Send { room, text, client_id } => ClientMsg::SendMessage {
                attachments: Vec::new(),
                room: room.to_ref(caller),
                content: render(text),
                client_id: client_id.map(|c| format!("c{}", c % 8)),
                reply_to: None,
            },
            Msg::MarkRead { room, seq } => ClientMsg::MarkRead { room: room.to_ref(caller), seq: seq.map(u64::from) },
            Msg::Typing { room, active } => ClientMsg::Typing { room: room.to_ref(caller), active: *active },
            Msg::History { room, before, after, limit } => ClientMsg::History {
                room: room.to_ref(caller),
                before: before.map(u64::from),
                after: after.map(u64::from),
                limit: limit.map(|l| u32::from(l % 120)),
                around: None,
            },
            Msg::Resume { room, last_seq } => {
                let room = room.to_ref(caller).room.unwrap_or_else(|| "group:lobby".into());
                ClientMsg::Resume { rooms: vec![ResumePoint { room, last_seq: u64::from(*last_seq), last_rev: None }] }
            }
            Msg::Notifications { limit } => ClientMsg::Notifications { limit: limit.map(u32::from) },
            Msg::MarkNotificationsRead { ids } => ClientMsg::MarkNotificationsRead {
                ids: ids.as_ref().map(|ids| ids.iter().take(8).map(|&i| u64::from(i)).collect()),
            },
            Msg::ListRooms => ClientMsg::ListRooms(Default::default()),
            Msg::ListUsers => ClientMsg::ListUsers(Default::default()),
        }
    }
}

/// The driver, the system under test and the naive model the checks compare against.
struct Driver {
    config: Config,
    chat: Chat,
    journal: MemoryJournal,
    now: u64,
    /// The core's clock after the last step (must never go back).
    seen_now: Timestamp,
    next_session: u64,
    next_request: u64,
    slots: [Option<SessionId>; SLOTS],
    /// Sessions the driver considers open, and whose they are.
    live: BTreeMap<SessionId, UserName>,
    /// REST requests not answered yet.
    requests: BTreeMap<RequestId, UserName>,
    loads: Vec<(LoadId, HistoryQuery)>,
    // ---- the model, from committed entries only --------------------------------------------
    /// Committed messages per room, in order.
    log: BTreeMap<RoomKey, Vec<Message>>,
    members: BTreeMap<RoomKey, BTreeSet<UserName>>,
    /// Read cursors: set on joining to the room's last seq, moved by reads and own messages.
    cursors: BTreeMap<(UserName, RoomKey), u64>,
    /// Client ids stored per user, with where.
    stored_ids: BTreeMap<(UserName, String), (RoomKey, u64)>,
    /// Last `seq` delivered live to a session in a room.
    delivered: BTreeMap<(SessionId, RoomKey), u64>,
    stats: Stats,
}

impl Driver {
    fn new(tweaks: Tweaks) -> Driver {
        let mut config = Config::default();
        if tweaks.small_rooms {
            config.max_room_members = 3;
            config.max_list_len = 2;
        }
        if tweaks.short_resume {
            config.resume_limit = 2;
        }
        if tweaks.short_messages {
            config.max_message_chars = 12;
        }
        if tweaks.strict_rate {
            config.send_burst = 3;
            config.op_burst = 3;
            config.max_strikes = 4;
        }
        Driver {
            chat: Chat::new(config.clone()),
            config,
            journal: MemoryJournal::new(),
            now: START,
            seen_now: Timestamp(0),
            next_session: 1,
            next_request: 1,
            slots: [None; SLOTS],
            live: BTreeMap::new(),
            requests: BTreeMap::new(),
            loads: Vec::new(),
            log: BTreeMap::new(),
            members: BTreeMap::new(),
            cursors: BTreeMap::new(),
            stored_ids: BTreeMap::new(),
            delivered: BTreeMap::new(),
            stats: Stats::default(),
        }
    }

    fn step(&mut self, op: &Op) {
        match op {
            Op::Connect { slot, user: u } => {
                let slot = usize::from(*slot) % SLOTS;
                match self.slots[slot] {
                    // A reused live id: the core must ignore it (and keep the original user).
                    Some(id) => self.input(Input::Connect { session: id, user: user(u.wrapping_add(1)) }),
                    None => {
                        let id = SessionId(self.next_session);
                        self.next_session += 1;
                        self.slots[slot] = Some(id);
                        self.live.insert(id, user(*u));
                        self.input(Input::Connect { session: id, user: user(*u) });
                    }
                }
            }
            Op::Disconnect { slot } => {
                if let Some(id) = self.slots[usize::from(*slot) % SLOTS].take() {
                    self.live.remove(&id);
                    self.input(Input::Disconnect { session: id });
                }
            }
            Op::Frame { slot, msg } => {
                if let Some(id) = self.slots[usize::from(*slot) % SLOTS] {
                    let caller = self.live[&id].clone();
                    self.input(Input::Receive { session: id, msg: msg.to_client(&caller) });
                }
            }
            Op::Request { user: u, msg } => {
                let request = RequestId(self.next_request);
                self.next_request += 1;
                self.requests.insert(request, user(*u));
                self.input(Input::Request { request, user: user(*u), msg: msg.to_client(&user(*u)) });
            }
            Op::AddUser { user: u } => self.input(Input::AddUser { user: user(*u) }),
            Op::AnswerLoads { fail } => self.answer_loads(*fail),
            Op::Advance { ms } => {
                self.now += u64::from(*ms);
                if self.chat.poll_timeout().is_some_and(|t| t.0 <= self.now) {
                    self.input(Input::Tick);
                }
            }
            Op::Rewind { ms } => {
                let earlier = Timestamp(self.now.saturating_sub(u64::from(*ms)));
                self.chat.handle(earlier, Input::Tick);
                self.drain();
            }
            Op::FailNextCommit => self.journal.fail_next_appends(1),
            Op::Restore => self.restart(),
        }
    }

    fn input(&mut self, input: Input) {
        self.chat.handle(Timestamp(self.now), input);
        self.drain();
    }

    fn answer_loads(&mut self, fail: bool) {
        for (load, query) in std::mem::take(&mut self.loads) {
            let result = match fail {
                true => Err(LoadError::journal(chat_core::journal::MemoryJournalError::Injected)),
                false => Ok(self.journal.history(&query).expect("memory journal reads")),
            };
            self.input(Input::Loaded { load, result });
        }
    }

    /// Contract rule 3: after a failed commit carry out nothing, restore, close every session.
    fn restart(&mut self) {
        self.stats.restores += 1;
        let snapshot = self.journal.snapshot().expect("memory journal reads");
        self.chat = Chat::restore(self.config.clone(), snapshot);
        assert_eq!(self.chat.session_count(), 0, "a restored chat has no sessions");
        self.slots = [None; SLOTS];
        self.live.clear();
        self.loads.clear();
        // Unanswered requests of the old instance get an error from a real driver.
        self.requests.clear();
        self.delivered.clear();
        self.seen_now = Timestamp(0);
    }

    /// Drains ([`Chat::drain`]), commits the drain's entries in one append, then carries out the
    /// rest in order.
    fn drain(&mut self) {
        loop {
            let drain = self.chat.drain();
            if drain.is_empty() {
                return;
            }
            let batch = drain.persist().to_vec();
            let before = self.journal.entries().len();
            let Ok(rest) = drain.commit(&mut self.journal) else {
                self.stats.failed_commits += 1;
                assert_eq!(self.journal.entries().len(), before, "a failed commit left entries behind");
                self.restart();
                return;
            };
            if !batch.is_empty() {
                for entry in &batch {
                    self.model_apply(entry);
                }
                let committed = self.journal.snapshot().expect("memory journal reads");
                assert!(&committed == self.chat.snapshot(), "journal snapshot differs from the live state");
            }
            let mut closed = Vec::new();
            for output in rest {
                match output {
                    Output::Deliver { sessions, msg } => self.check_delivery(&sessions, &msg),
                    Output::Reply { request, msg } => self.check_reply(request, &msg),
                    Output::Load { load, query } => {
                        assert!(self.chat.room(&query.room).is_some(), "load of an unknown room: {query:?}");
                        self.loads.push((load, query));
                    }
                    Output::Close { session, .. } => {
                        assert!(self.live.remove(&session).is_some(), "close of a session that is not live");
                        self.slots.iter_mut().filter(|s| **s == Some(session)).for_each(|s| *s = None);
                        closed.push(session);
                    }
                    other => panic!("unexpected output after the commit: {other:?}"),
                }
            }
            for session in closed {
                self.chat.handle(Timestamp(self.now), Input::Disconnect { session });
            }
        }
    }

    fn model_apply(&mut self, entry: &LogEntry) {
        match entry {
            LogEntry::RoomCreated { room, .. } => {
                assert!(!self.members.contains_key(room), "{room} created twice");
                self.members.entry(room.clone()).or_default();
                self.log.entry(room.clone()).or_default();
            }
            LogEntry::MemberAdded { room, user } => {
                let members = self.members.get_mut(room).expect("member added to a room never created");
                assert!(members.insert(user.clone()), "{user} added twice to {room}");
                let last = self.log.get(room).map_or(0, |l| l.len() as u64);
                self.cursors.insert((user.clone(), room.clone()), last);
            }
            LogEntry::MemberRemoved { room, user } => {
                let members = self.members.get_mut(room).expect("member removed from a room never created");
                assert!(members.remove(user), "{user} removed from {room} without being a member");
                self.cursors.remove(&(user.clone(), room.clone()));
            }
            LogEntry::ReadCursor { user, room, seq } => {
                let cursor = self.cursors.get_mut(&(user.clone(), room.clone())).expect("cursor of a non-member");
                assert!(*seq > *cursor, "read cursor moved back or stood still: {cursor} -> {seq}");
                assert!(*seq <= self.log[room].len() as u64, "read cursor past the last message");
                *cursor = *seq;
            }
            LogEntry::Message(m) => {
                let members = self.members.get(&m.room).expect("message in a room never created");
                assert!(members.contains(&m.sender), "message from a non-member");
                let mut seen = BTreeSet::new();
                for u in &m.mentions {
                    assert!(seen.insert(u), "{u} mentioned twice in one message");
                    assert!(u != &m.sender && members.contains(u), "mention of {u} resolved to a non-member/sender");
                }
                let log = self.log.get_mut(&m.room).expect("room has a log");
                assert_eq!(m.seq, log.len() as u64 + 1, "seq gap in {}", m.room);
                if let Some(prev) = log.last() {
                    assert!(m.timestamp >= prev.timestamp, "message time went back in {}", m.room);
                }
                log.push(Message::clone(m));
                self.stats.messages += 1;
                self.stats.dm_messages += usize::from(m.room.is_dm());
                self.stats.mentions += usize::from(!m.mentions.is_empty());
                let cursor = self.cursors.get_mut(&(m.sender.clone(), m.room.clone())).expect("sender cursor");
                *cursor = m.seq;
                if let Some(id) = &m.client_id {
                    let key = (m.sender.clone(), id.clone());
                    let first = self.stored_ids.insert(key, (m.room.clone(), m.seq));
                    assert!(first.is_none(), "client id {id} of {} stored twice", m.sender);
                }
            }
            _ => {}
        }
    }

    /// The committed message `room#seq`.
    fn stored(&self, room: &RoomKey, seq: u64) -> Option<&Message> {
        let index = usize::try_from(seq.checked_sub(1)?).ok()?;
        self.log.get(room)?.get(index)
    }

    fn is_member(&self, user: &UserName, room: &RoomKey) -> bool {
        self.members.get(room).is_some_and(|m| m.contains(user))
    }

    fn check_delivery(&mut self, sessions: &Arc<[SessionId]>, msg: &ServerMsg) {
        assert!(!sessions.is_empty(), "delivery to nobody");
        let unique: BTreeSet<SessionId> = sessions.iter().copied().collect();
        assert_eq!(unique.len(), sessions.len(), "a session listed twice for one event");
        let users: Vec<UserName> = sessions
            .iter()
            .map(|s| self.live.get(s).cloned().unwrap_or_else(|| panic!("delivery to closed session {s:?}: {msg:?}")))
            .collect();
        for u in &users {
            self.check_scoped(u, msg);
        }
        self.stats.history_pages += usize::from(matches!(msg, ServerMsg::History { .. }));
        match msg {
            ServerMsg::Message(m) => {
                assert_eq!(
                    self.stored(&m.room, m.seq),
                    Some(&**m),
                    "a message was shown before (or without) being committed"
                );
                let expected: BTreeSet<SessionId> =
                    self.live.iter().filter(|(_, u)| self.is_member(u, &m.room)).map(|(s, _)| *s).collect();
                assert_eq!(
                    unique, expected,
                    "message {}#{} not delivered to exactly the member sessions",
                    m.room, m.seq
                );
                for s in sessions.iter() {
                    if let Some(last) = self.delivered.insert((*s, m.room.clone()), m.seq) {
                        assert_eq!(m.seq, last + 1, "{s:?} got {}#{} after #{last}", m.room, m.seq);
                    }
                }
            }
            ServerMsg::Ack { .. } => {
                assert_eq!(users.len(), 1, "an ack goes to the sending session only");
                self.check_ack(&users[0], msg);
            }
            ServerMsg::ReadReceipt { username, .. } => {
                assert!(!users.contains(username), "{username} got their own read receipt");
            }
            ServerMsg::Error { .. } => assert_eq!(users.len(), 1, "an error goes to the caller only"),
            ServerMsg::Connected { rooms, .. } => {
                for r in rooms {
                    let u = self.chat.unread(&users[0], &r.room).expect("summary of a member room");
                    assert_eq!((r.read_seq, r.unread, r.highlight), (u.read_seq, u.unread, u.highlight));
                }
            }
            _ => {}
        }
    }

    /// A room-scoped event may only reach the room's members (`room_left`: former members).
    fn check_scoped(&self, user: &UserName, msg: &ServerMsg) {
        let room = match msg {
            ServerMsg::Message(m) => &m.room,
            ServerMsg::RoomJoined(s) => &s.room,
            ServerMsg::RoomUsersUpdate { room, .. }
            | ServerMsg::ReadReceipt { room, .. }
            | ServerMsg::ReadState { room, .. }
            | ServerMsg::Typing { room, .. }
            | ServerMsg::ResumeReset { room, .. } => room,
            ServerMsg::MentionNotification(n) => &n.room,
            ServerMsg::History { room, messages, .. } => {
                let mut prev = None;
                for m in messages {
                    assert_eq!(&m.room, room, "history page holds another room's message");
                    assert_eq!(self.stored(room, m.seq), Some(m), "history differs from the log");
                    if let Some(p) = prev {
                        assert_eq!(m.seq, p + 1, "history page is not ascending and gap-free");
                    }
                    prev = Some(m.seq);
                }
                room
            }
            ServerMsg::Connected { rooms, .. } => {
                for r in rooms {
                    assert!(self.is_member(user, &r.room), "{user} told about non-member room {}", r.room);
                }
                return;
            }
            ServerMsg::RoomLeft { room, .. } => {
                assert!(!self.is_member(user, room), "room_left sent to {user}, still a member of {room}");
                return;
            }
            _ => return,
        };
        assert!(self.is_member(user, room), "{msg:?} reached {user}, not a member of {room}");
    }

    fn check_ack(&mut self, user: &UserName, msg: &ServerMsg) {
        let ServerMsg::Ack { room, seq, client_id, duplicate, .. } = msg else { return };
        let stored = self.stored(room, *seq).unwrap_or_else(|| panic!("ack of {room}#{seq}, which is not committed"));
        assert_eq!(&stored.sender, user, "ack of someone else's message");
        assert_eq!(&stored.client_id, client_id, "ack with another client id than stored");
        if let Some(id) = client_id {
            assert_eq!(self.stored_ids.get(&(user.clone(), id.clone())), Some(&(room.clone(), *seq)));
        } else {
            assert!(!duplicate, "a duplicate ack without a client id");
        }
        self.stats.duplicate_acks += usize::from(*duplicate);
    }

    fn check_reply(&mut self, request: RequestId, msg: &ServerMsg) {
        let user = self.requests.remove(&request).unwrap_or_else(|| panic!("reply to unknown {request:?}"));
        self.check_scoped(&user, msg);
        self.check_ack(&user, msg);
        self.stats.history_pages += usize::from(matches!(msg, ServerMsg::History { .. }));
    }

    /// Invariants of the state after a step.
    fn check_state(&mut self) {
        let now = self.chat.now();
        assert!(now >= self.seen_now, "the core's clock went back");
        self.seen_now = now;
        let snapshot: &Snapshot = self.chat.snapshot();
        chat_core::testing::assert_fold_invariants(snapshot);
        let mut rooms: Vec<&RoomKey> = snapshot.rooms().map(|(room, _)| room).collect();
        rooms.sort_unstable();
        assert_eq!(rooms, self.members.keys().collect::<Vec<_>>(), "rooms differ from the model");
        for (room, state) in snapshot.rooms() {
            assert!(state.members().eq(&self.members[room]), "members of {room} differ from the model");
            let log = &self.log[room];
            assert_eq!(state.last_seq(), log.len() as u64, "last_seq of {room}");
            if let RoomKey::Dm(a, b) = room {
                let pair: BTreeSet<UserName> = [a.clone(), b.clone()].into();
                assert!(state.members().eq(&pair), "a DM's members are exactly its two participants");
            }
            for member in state.members() {
                let u = self.chat.unread(member, room).expect("members have unread state");
                let cursor = self.cursors[&(member.clone(), room.clone())];
                assert_eq!(u.read_seq, cursor, "read cursor of {member} in {room}");
                let after: Vec<&Message> = log.iter().filter(|m| m.seq > cursor && &m.sender != member).collect();
                let highlight = match room.is_dm() {
                    true => after.len(),
                    false => after.iter().filter(|m| m.mentions.contains(member)).count(),
                };
                assert_eq!(u.unread, after.len() as u64, "unread of {member} in {room}");
                assert_eq!(u.highlight, highlight as u64, "highlight of {member} in {room}");
            }
        }
        for u in USERS {
            let u = UserName::new(u).expect("fixture names are valid");
            for (room, _) in snapshot.rooms().filter(|(r, _)| !self.is_member(&u, r)) {
                assert!(self.chat.unread(&u, room).is_none(), "non-member {u} has unread state in {room}");
            }
        }
        // Live-delivery tracking only for sessions that stay members.
        let live = &self.live;
        let members = &self.members;
        self.delivered.retain(|(s, room), _| live.get(s).is_some_and(|u| members[room].contains(u)));
        for (s, u) in &self.live {
            assert_eq!(self.chat.session_user(*s), Some(u), "the core's view of {s:?} differs");
            for room in members.iter().filter(|(_, m)| m.contains(u)).map(|(r, _)| r) {
                self.delivered.entry((*s, room.clone())).or_insert(self.log[room].len() as u64);
            }
        }
        assert_eq!(self.chat.session_count(), self.live.len(), "session count differs from the driver's");
    }

    /// End of run: answer what is pending, then check the log and the history pages.
    fn finish(&mut self) {
        self.answer_loads(false);
        self.check_state();
        assert!(self.requests.is_empty(), "requests left unanswered: {:?}", self.requests);
        let refold = Snapshot::from_log(self.journal.entries());
        assert!(&refold == self.chat.snapshot(), "the fold of the whole log differs from the live state");
        for (room, log) in &self.log {
            for (range, limit) in
                [(HistoryRange::Latest, 100), (HistoryRange::Before(3), 1), (HistoryRange::After(1), 2)]
            {
                let query = HistoryQuery { room: room.clone(), range, limit };
                let page = self.journal.history(&query).expect("memory journal reads");
                let newest = |upto: &[Message]| upto[upto.len().saturating_sub(limit as usize)..].to_vec();
                let expected: Vec<Message> = match range {
                    HistoryRange::Latest => newest(log),
                    HistoryRange::Before(b) => newest(&log[..log.iter().filter(|m| m.seq < b).count()]),
                    HistoryRange::After(a) => log.iter().filter(|m| m.seq > a).take(limit as usize).cloned().collect(),
                    HistoryRange::At(_) | HistoryRange::Around(_) | HistoryRange::ChangedSince { .. } => {
                        unreachable!("not asked above")
                    }
                };
                assert_eq!(page, expected, "history page {range:?} of {room}");
            }
        }
    }
}
