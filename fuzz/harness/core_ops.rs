//! Harness for the `core_ops` fuzz target (also replayed by `chat-core`'s corpus test).
//!
//! An arbitrary [`Scenario`] (a few config tweaks and a sequence of [`Op`]s: sessions of four
//! users connecting and disconnecting, frames and REST calls of every kind, history loads
//! answered late or failing, time passing or reported backwards, injected commit failures and
//! restarts from the journal's snapshot; in the lifecycle format also replies, edits, deletions
//! by the sender, the owner of a private room or a server administrator, reactions, resume with
//! `last_rev`, attachments resolved by a fake store and searches answered by a fake index)
//! runs through a small driver that obeys the contract in `chat-core/src/lib.rs`: drain, commit
//! every `Persist` of the drain in one `MemoryJournal` append, and only then carry out the
//! rest; on a failed commit carry out nothing, restore from the journal and close every
//! session.
//!
//! After every step the driver checks, against its own naive model built from committed log
//! entries (`core_ops/model.rs`):
//! - a `message` event goes to exactly the live sessions of the room's members, once each, and
//!   per (session, room) in `seq` order without gaps; every event with a `rev` (messages,
//!   edits, deletions, reactions) reaches every live member session once, in `rev` order
//!   without gaps; every room-scoped event reaches members only (DM privacy) and `room_left`
//!   only former members;
//! - every message is durable before anyone sees it or its ack; per-room `seq` and `rev` run
//!   1, 2, 3…; a client id is never stored twice for a user, and a retry is acked as the
//!   original;
//! - an edit, deletion or reaction is committed only if someone allowed to asked for exactly
//!   it (an edit: the sender, with that text; a deletion: the sender, the private room's owner
//!   or an administrator; a reaction: that member, that emoji), only on a live message, and
//!   changes it as documented; a reply quotes its target as it is; a message's attachments are
//!   exactly a list the fake store resolved for its sender;
//! - once a message is deleted no output shows its text again: history, `message_updates`,
//!   quotes, notifications and search hits (the fake index may answer late or lie);
//! - search results only hold hits of rooms the caller is a member of now (and of the `room`
//!   filter), at most `limit`, whatever rooms the fake index answers with; every search,
//!   attachment resolution and REST request is answered exactly once;
//! - for every member, `chat.unread` equals a recount from the committed messages (read cursor
//!   from the model, unread = live messages from others after it, highlight = those mentioning
//!   the member now or, in a DM, all of them); non-members have no unread state; every
//!   notification's preview is its message's current text;
//! - `journal.snapshot() == *chat.snapshot()` (restore equivalence), time never goes back;
//! - the live state holds the fold's invariants (`chat_core::testing::assert_fold_invariants`);
//! - history, `message_updates` and resume pages are authorised, in the room, ascending (history
//!   gap-free) and equal to the model's current state of each message.

use arbitrary::{Arbitrary, Unstructured};

#[path = "core_ops/driver.rs"]
mod driver;
#[path = "core_ops/encode.rs"]
mod encode;
#[path = "core_ops/fakes.rs"]
mod fakes;
#[path = "core_ops/model.rs"]
mod model;
#[path = "core_ops/seeds.rs"]
mod seeds;

pub use seeds::seeds;

const USERS: [&str; 4] = ["alice", "bob", "carol", "dave"];
const GROUPS: [&str; 4] = ["lobby", "dev", "secret", "a.b-c"];
const WORDS: [&str; 6] = ["hi", "ok", "ça va", "deploy", "x", "\u{1F600}"];
const PUNCT: [&str; 8] = [".", ",", "-", "!", "_", "@", "é", "\t"];
/// Reactions the fuzzer picks from bytes 0xE0 and up (below: one of 64 emoticons).
const EMOJI: [&str; 8] = ["👍🏽", "❤️", "🇫🇷", "👨‍👩‍👧", "a", "", "👍👍", "x😀"];
const SLOTS: usize = 6;
const MAX_OPS: usize = 300;
const MAX_FRAGS: usize = 12;
const MAX_ATTACHMENTS: usize = 4;
const MAX_SEARCH_WORDS: usize = 3;
const START: u64 = 1_700_000_000_000;

/// One fuzz input: config tweaks and the operations.
///
/// The byte format is hand-rolled (one byte per choice, tags weighted towards the operations
/// that build state) so that the fuzzer wastes few inputs and seeds can be written by hand
/// ([`Scenario::encode`], `fuzz/examples/seeds.rs`): a tweaks byte, then operations until the
/// input ends. An exhausted input reads as zeros.
///
/// Two formats: when bit 4 of the tweaks byte is clear, the original one (the operations
/// without the message lifecycle; every committed corpus file from before it decodes exactly as
/// it did); when set, the lifecycle format, whose tag tables add replies, attachments, edits,
/// deletions, reactions, administrators, `last_rev`, searches and invitations accepted or
/// declined, and the answers of the fake attachment store and search index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    /// Config tweaks.
    pub tweaks: Tweaks,
    /// The operations, in order.
    pub ops: Vec<Op>,
}

/// Small limits that make rarely reached paths cheap to reach, and the format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tweaks {
    /// Rooms of at most 3 members (and at most 2 attachments per message).
    pub small_rooms: bool,
    /// `resume` resends at most 2 messages.
    pub short_resume: bool,
    /// Messages of at most 12 characters.
    pub short_messages: bool,
    /// Tight rate limits (burst 3, 4 strikes).
    pub strict_rate: bool,
    /// The lifecycle format (bit 4).
    pub lifecycle: bool,
    /// Messages can be edited for 10 s after sending (bit 5).
    pub edit_window: bool,
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
    /// A sessionless call by `user` as a server administrator (`Input::AdminRequest`).
    /// Lifecycle format only.
    AdminRequest { user: u8, msg: Msg },
    /// The driver answers every pending history load (from the journal, or with an error).
    AnswerLoads { fail: bool },
    /// The fake attachment store answers every pending resolution (`mode`: see
    /// `fakes::resolve`). Lifecycle format only.
    AnswerResolves { mode: u8 },
    /// The fake index answers every pending search (`mode`: see `fakes::answer_search`).
    /// Lifecycle format only.
    AnswerSearches { mode: u8 },
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
///
/// A `seq` or `rev` selector byte below 0x80 counts back from the room's latest (0: the latest
/// message), from 0x80 it is absolute (`byte - 0x80`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    /// `reply_to` (a seq selector) and `attachments` (fake store file bytes) only in the
    /// lifecycle format.
    Send {
        room: RoomSel,
        text: Vec<Frag>,
        client_id: Option<u8>,
        reply_to: Option<u8>,
        attachments: Vec<u8>,
    },
    Join(RoomSel),
    MarkRead {
        room: RoomSel,
        seq: Option<u8>,
    },
    History {
        room: RoomSel,
        before: Option<u8>,
        after: Option<u8>,
        limit: Option<u8>,
    },
    Typing {
        room: RoomSel,
        active: bool,
    },
    Leave(RoomSel),
    Create {
        name: u8,
        private: bool,
    },
    Invite {
        room: RoomSel,
        user: u8,
    },
    Remove {
        room: RoomSel,
        user: u8,
    },
    /// `last_seq` is absolute; `last_rev` (a rev selector) only in the lifecycle format.
    Resume {
        room: RoomSel,
        last_seq: u8,
        last_rev: Option<u8>,
    },
    Notifications {
        limit: Option<u8>,
    },
    MarkNotificationsRead {
        ids: Option<Vec<u8>>,
    },
    ListRooms,
    ListUsers,
    // ---- lifecycle format only ---------------------------------------------------------------
    Edit {
        room: RoomSel,
        seq: u8,
        text: Vec<Frag>,
        client_id: Option<u8>,
    },
    Delete {
        room: RoomSel,
        seq: u8,
    },
    /// `emoji`: below 0xE0 one of 64 emoticons, from 0xE0 one of [`EMOJI`] (some invalid).
    React {
        room: RoomSel,
        seq: u8,
        emoji: u8,
        add: bool,
    },
    /// `words` index [`WORDS`]; `limit` modulo 60 (0 and above 50 are refused).
    Search {
        room: Option<RoomSel>,
        words: Vec<u8>,
        from: Option<u8>,
        limit: Option<u8>,
    },
    Accept(RoomSel),
    Decline(RoomSel),
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpKind {
    Frame,
    Connect,
    Disconnect,
    Request,
    AdminRequest,
    AnswerLoads,
    AnswerResolves,
    AnswerSearches,
    Advance,
    Rewind,
    AddUser,
    FailNextCommit,
    Restore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MsgKind {
    Send,
    Join,
    MarkRead,
    History,
    Typing,
    Leave,
    Create,
    Invite,
    Remove,
    Resume,
    Notifications,
    MarkNotificationsRead,
    ListRooms,
    ListUsers,
    Edit,
    Delete,
    React,
    Search,
    Accept,
    Decline,
}

/// Op tags of the original format: the first tag byte of each range picks the kind (weights:
/// frames and connects often, restarts rarely). Never change it: the committed corpus is in it.
const OPS_V1: [(u8, OpKind); 10] = {
    use OpKind::*;
    [
        (0, Frame),
        (90, Connect),
        (120, Disconnect),
        (135, Request),
        (165, AnswerLoads),
        (180, Advance),
        (210, Rewind),
        (220, AddUser),
        (238, FailNextCommit),
        (248, Restore),
    ]
};
/// Op tags of the lifecycle format.
const OPS_V2: [(u8, OpKind); 13] = {
    use OpKind::*;
    [
        (0, Frame),
        (80, Connect),
        (105, Disconnect),
        (118, Request),
        (140, AdminRequest),
        (148, AnswerLoads),
        (172, AnswerResolves),
        (182, AnswerSearches),
        (192, Advance),
        (207, Rewind),
        (215, AddUser),
        (230, FailNextCommit),
        (246, Restore),
    ]
};
/// Frame tags of the original format (never change it).
const MSGS_V1: [(u8, MsgKind); 14] = {
    use MsgKind::*;
    [
        (0, Send),
        (80, Join),
        (120, MarkRead),
        (140, History),
        (160, Typing),
        (175, Leave),
        (185, Create),
        (195, Invite),
        (210, Remove),
        (220, Resume),
        (230, Notifications),
        (238, MarkNotificationsRead),
        (246, ListRooms),
        (251, ListUsers),
    ]
};
/// Frame tags of the lifecycle format.
const MSGS_V2: [(u8, MsgKind); 20] = {
    use MsgKind::*;
    [
        (0, Send),
        (60, Join),
        (90, MarkRead),
        (102, History),
        (114, Typing),
        (122, Leave),
        (129, Create),
        (137, Invite),
        (145, Remove),
        (151, Resume),
        (159, Notifications),
        (165, MarkNotificationsRead),
        (170, ListRooms),
        (173, ListUsers),
        (176, Edit),
        (196, Delete),
        (214, React),
        (234, Search),
        (246, Accept),
        (252, Decline),
    ]
};
const ROOM_TAGS: [u8; 6] = [0, 6, 8, 11, 13, 15];
const MAX_RAW: usize = 16;

/// The kind whose range of `table` (ascending starts) `byte` falls in.
fn pick<K: Copy>(table: &[(u8, K)], byte: u8) -> K {
    table[table.iter().rposition(|(t, _)| *t <= byte).unwrap_or(0)].1
}

/// The tag byte of `kind` in `table`; a seed that uses a kind its format lacks is a bug.
fn tag_of<K: PartialEq + std::fmt::Debug>(table: &[(u8, K)], kind: K) -> u8 {
    table.iter().find(|(_, k)| *k == kind).unwrap_or_else(|| panic!("{kind:?} needs the lifecycle format")).0
}

/// Which range of `tags` (ascending starts) `byte` falls in.
fn range(tags: &[u8], byte: u8) -> usize {
    tags.iter().rposition(|&t| t <= byte).unwrap_or(0)
}

struct Reader<'a, 'b> {
    u: &'b mut Unstructured<'a>,
    /// The lifecycle format.
    v2: bool,
}

impl Reader<'_, '_> {
    fn u8(&mut self) -> u8 {
        u8::arbitrary(self.u).unwrap_or(0)
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
    fn text(&mut self) -> Vec<Frag> {
        let count = usize::from(self.u8()) % (MAX_FRAGS + 1);
        (0..count).map(|_| self.frag()).collect()
    }
    fn op(&mut self) -> Op {
        let table: &[(u8, OpKind)] = if self.v2 { &OPS_V2 } else { &OPS_V1 };
        match pick(table, self.u8()) {
            OpKind::Frame => Op::Frame { slot: self.u8(), msg: self.msg() },
            OpKind::Connect => Op::Connect { slot: self.u8(), user: self.u8() },
            OpKind::Disconnect => Op::Disconnect { slot: self.u8() },
            OpKind::Request => Op::Request { user: self.u8(), msg: self.msg() },
            OpKind::AdminRequest => Op::AdminRequest { user: self.u8(), msg: self.msg() },
            OpKind::AnswerLoads => Op::AnswerLoads { fail: self.flag() },
            OpKind::AnswerResolves => Op::AnswerResolves { mode: self.u8() },
            OpKind::AnswerSearches => Op::AnswerSearches { mode: self.u8() },
            OpKind::Advance => Op::Advance { ms: self.u16() },
            OpKind::Rewind => Op::Rewind { ms: self.u16() },
            OpKind::AddUser => Op::AddUser { user: self.u8() },
            OpKind::FailNextCommit => Op::FailNextCommit,
            OpKind::Restore => Op::Restore,
        }
    }
    fn msg(&mut self) -> Msg {
        let table: &[(u8, MsgKind)] = if self.v2 { &MSGS_V2 } else { &MSGS_V1 };
        match pick(table, self.u8()) {
            MsgKind::Send => {
                let room = self.room();
                let text = self.text();
                let client_id = self.opt();
                let (reply_to, attachments) = match self.v2 {
                    true => {
                        let reply_to = self.opt();
                        let n = match self.u8() {
                            0..=159 => 0,
                            160..=223 => 1,
                            224..=247 => 2,
                            b => 3 + usize::from(b & 1),
                        };
                        (reply_to, (0..n).map(|_| self.u8()).collect())
                    }
                    false => (None, Vec::new()),
                };
                Msg::Send { room, text, client_id, reply_to, attachments }
            }
            MsgKind::Join => Msg::Join(self.room()),
            MsgKind::MarkRead => Msg::MarkRead { room: self.room(), seq: self.opt() },
            MsgKind::History => {
                Msg::History { room: self.room(), before: self.opt(), after: self.opt(), limit: self.opt() }
            }
            MsgKind::Typing => Msg::Typing { room: self.room(), active: self.flag() },
            MsgKind::Leave => Msg::Leave(self.room()),
            MsgKind::Create => Msg::Create { name: self.u8(), private: self.flag() },
            MsgKind::Invite => Msg::Invite { room: self.room(), user: self.u8() },
            MsgKind::Remove => Msg::Remove { room: self.room(), user: self.u8() },
            MsgKind::Resume => {
                let (room, last_seq) = (self.room(), self.u8());
                let last_rev = if self.v2 { self.opt() } else { None };
                Msg::Resume { room, last_seq, last_rev }
            }
            MsgKind::Notifications => Msg::Notifications { limit: self.opt() },
            MsgKind::MarkNotificationsRead => Msg::MarkNotificationsRead {
                ids: if self.flag() { Some((0..self.u8() % 9).map(|_| self.u8()).collect()) } else { None },
            },
            MsgKind::ListRooms => Msg::ListRooms,
            MsgKind::ListUsers => Msg::ListUsers,
            MsgKind::Edit => {
                let (room, seq) = (self.room(), self.u8());
                Msg::Edit { room, seq, text: self.text(), client_id: self.opt() }
            }
            MsgKind::Delete => Msg::Delete { room: self.room(), seq: self.u8() },
            MsgKind::React => Msg::React { room: self.room(), seq: self.u8(), emoji: self.u8(), add: self.flag() },
            MsgKind::Search => {
                let room = if self.flag() { Some(self.room()) } else { None };
                let count = usize::from(self.u8()) % (MAX_SEARCH_WORDS + 1);
                let words = (0..count).map(|_| self.u8()).collect();
                Msg::Search { room, words, from: self.opt(), limit: self.opt() }
            }
            MsgKind::Accept => Msg::Accept(self.room()),
            MsgKind::Decline => Msg::Decline(self.room()),
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
        let mut r = Reader { u, v2: false };
        let bits = r.u8();
        let tweaks = Tweaks {
            small_rooms: bits & 1 != 0,
            short_resume: bits & 2 != 0,
            short_messages: bits & 4 != 0,
            strict_rate: bits & 8 != 0,
            lifecycle: bits & 16 != 0,
            edit_window: bits & 32 != 0,
        };
        r.v2 = tweaks.lifecycle;
        let mut ops = Vec::new();
        while !r.u.is_empty() && ops.len() < MAX_OPS {
            ops.push(r.op());
        }
        Ok(Scenario { tweaks, ops })
    }
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
    /// Committed replies (messages with `reply_to`).
    pub replies: usize,
    /// Committed messages with attachments.
    pub attachment_messages: usize,
    /// Committed edits.
    pub edits: usize,
    /// Committed deletions.
    pub deletions: usize,
    /// Committed deletions of someone else's message (a private room's owner, an administrator).
    pub moderated_deletions: usize,
    /// Committed reactions (added or removed).
    pub reactions: usize,
    /// `message_updates` pages delivered (resume catch-up and no-op answers).
    pub update_pages: usize,
    /// `search_results` delivered.
    pub search_results: usize,
    /// Hits the fake index answered that the core dropped (other rooms, deleted, over limit).
    pub search_hits_dropped: usize,
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
        self.replies += o.replies;
        self.attachment_messages += o.attachment_messages;
        self.edits += o.edits;
        self.deletions += o.deletions;
        self.moderated_deletions += o.moderated_deletions;
        self.reactions += o.reactions;
        self.update_pages += o.update_pages;
        self.search_results += o.search_results;
        self.search_hits_dropped += o.search_hits_dropped;
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
    let mut driver = driver::Driver::new(scenario.tweaks);
    for op in scenario.ops.iter().take(MAX_OPS) {
        driver.step(op);
        driver.check_state();
        driver.stats.steps += 1;
    }
    driver.finish();
    driver.stats
}

fn user(i: u8) -> chat_core::UserName {
    chat_core::UserName::new(USERS[usize::from(i) % USERS.len()]).expect("fixture names are valid")
}

fn user_str(i: u8) -> &'static str {
    USERS[usize::from(i) % USERS.len()]
}

fn group(i: u8) -> &'static str {
    GROUPS[usize::from(i) % GROUPS.len()]
}
