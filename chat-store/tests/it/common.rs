//! Shared helpers: a reopenable in-memory backend and log generators.

use std::ops::Bound;
use std::sync::Arc;

use chat_core::{
    Chat, ClientMsg, Config, Input, LogEntry, Message, RoomKey, RoomKind, RoomRef, SessionId, Timestamp, UserName,
};
use proptest::prelude::*;
use redb::StorageBackend;
use redb::backends::InMemoryBackend;

/// An in-memory backend that outlives the store using it, so a test can "close" a store (drop
/// it) and open a new one on the same bytes.
#[derive(Debug, Clone, Default)]
pub struct SharedMemory(pub Arc<InMemoryBackend>);

impl StorageBackend for SharedMemory {
    fn len(&self) -> std::io::Result<u64> {
        self.0.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        self.0.read(offset, out)
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.0.set_len(len)
    }
    fn sync_data(&self) -> std::io::Result<()> {
        self.0.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.0.write(offset, data)
    }
    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, redb::BackendError> {
        self.0.try_lock_range(start, end)
    }
}

pub const T0: u64 = 1_700_000_000_000;

pub fn user(name: &str) -> UserName {
    name.parse().expect("valid user name")
}

pub fn room(key: &str) -> RoomKey {
    key.parse().expect("valid room key")
}

pub const USERS: [&str; 4] = ["alice", "bob", "carol", "dave"];
pub const ROOMS: [&str; 5] = ["group:lobby", "group:dev", "group:secret", "dm:alice:bob", "dm:bob:carol"];

// ---------------------------------------------------------------------------------------------
// Raw entries: arbitrary (valid-ish) log entries, including ones the fold ignores.

/// One raw entry, before per-room `seq`s are assigned.
#[derive(Debug, Clone)]
pub enum RawOp {
    UserAdded(usize),
    RoomCreated(usize, usize, Option<usize>),
    MemberAdded(usize, usize),
    MemberRemoved(usize, usize),
    /// room, sender, mentions (bitmask), content length, client id, seq: `None` = next.
    Message(usize, usize, u8, usize, Option<u8>, Option<u64>),
    ReadCursor(usize, usize, u64),
    NotificationsRead(usize, Option<Vec<u64>>),
}

pub fn raw_op() -> impl Strategy<Value = RawOp> {
    let u = 0..USERS.len();
    let r = 0..ROOMS.len();
    prop_oneof![
        1 => u.clone().prop_map(RawOp::UserAdded),
        2 => (r.clone(), 0..3usize, proptest::option::of(u.clone())).prop_map(|(r, k, o)| RawOp::RoomCreated(r, k, o)),
        3 => (r.clone(), u.clone()).prop_map(|(r, u)| RawOp::MemberAdded(r, u)),
        1 => (r.clone(), u.clone()).prop_map(|(r, u)| RawOp::MemberRemoved(r, u)),
        8 => (r.clone(), u.clone(), any::<u8>(), 0..200usize, proptest::option::of(0..6u8),
              prop_oneof![4 => Just(None), 1 => (0..30u64).prop_map(Some)])
            .prop_map(|(r, u, m, len, c, s)| RawOp::Message(r, u, m, len, c, s)),
        2 => (u.clone(), r.clone(), 0..30u64).prop_map(|(u, r, s)| RawOp::ReadCursor(u, r, s)),
        1 => (u, proptest::option::of(proptest::collection::vec(0..12u64, 0..4)))
            .prop_map(|(u, ids)| RawOp::NotificationsRead(u, ids)),
    ]
}

/// Batches of raw ops (some empty).
pub fn raw_batches() -> impl Strategy<Value = Vec<Vec<RawOp>>> {
    proptest::collection::vec(proptest::collection::vec(raw_op(), 0..8), 1..8)
}

/// Turns raw ops into entries; `next_seq` tracks the per-room counter across batches.
pub fn raw_entries(batches: &[Vec<RawOp>]) -> Vec<Vec<LogEntry>> {
    let mut next_seq = [1u64; ROOMS.len()];
    let mut t = T0;
    let kinds = [RoomKind::Public, RoomKind::Private, RoomKind::Dm];
    batches
        .iter()
        .map(|batch| {
            batch
                .iter()
                .map(|op| {
                    t += 7;
                    match op {
                        RawOp::UserAdded(u) => LogEntry::UserAdded { user: user(USERS[*u]) },
                        RawOp::RoomCreated(r, k, o) => LogEntry::RoomCreated {
                            room: room(ROOMS[*r]),
                            kind: kinds[*k],
                            owner: o.map(|o| user(USERS[o])),
                            timestamp: Timestamp(t),
                        },
                        RawOp::MemberAdded(r, u) => {
                            LogEntry::MemberAdded { room: room(ROOMS[*r]), user: user(USERS[*u]) }
                        }
                        RawOp::MemberRemoved(r, u) => {
                            LogEntry::MemberRemoved { room: room(ROOMS[*r]), user: user(USERS[*u]) }
                        }
                        RawOp::Message(r, u, mentions, len, client_id, seq) => {
                            let seq = match seq {
                                Some(seq) => *seq,
                                None => {
                                    next_seq[*r] += 1;
                                    next_seq[*r] - 1
                                }
                            };
                            LogEntry::Message(std::sync::Arc::new(Message {
                                attachments: Vec::new(),
                                room: room(ROOMS[*r]),
                                seq,
                                timestamp: Timestamp(t),
                                sender: user(USERS[*u]),
                                content: "é".repeat(*len),
                                mentions: (0..USERS.len())
                                    .filter(|i| mentions & (1 << i) != 0)
                                    .map(|i| user(USERS[i]))
                                    .collect(),
                                client_id: client_id.map(|c| format!("c{c}")),
                                rev: 0,
                                changed_rev: 0,
                                edited_at: None,
                                deleted: false,
                                deleted_at: None,
                                reply_to: None,
                                reactions: Vec::new(),
                            }))
                        }
                        RawOp::ReadCursor(u, r, seq) => {
                            LogEntry::ReadCursor { user: user(USERS[*u]), room: room(ROOMS[*r]), seq: *seq }
                        }
                        RawOp::NotificationsRead(u, ids) => {
                            LogEntry::NotificationsRead { user: user(USERS[*u]), ids: ids.clone() }
                        }
                    }
                })
                .collect()
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Chat activity: real `Chat` inputs, batched the way the hub batches them.

/// One client action.
#[derive(Debug, Clone)]
pub enum ChatOp {
    Join(usize, usize),
    Leave(usize, usize),
    Create(usize, usize, bool),
    Invite(usize, usize, usize),
    /// sender, target (group index, or DM peer when `dm`), dm, mentions, client id
    Send(usize, usize, bool, u8, Option<u8>),
    MarkRead(usize, usize, Option<u64>),
    ReadNotifications(usize, Option<Vec<u64>>),
}

const GROUPS: [&str; 3] = ["lobby", "dev", "secret"];

pub fn chat_op() -> impl Strategy<Value = ChatOp> {
    let u = 0..USERS.len();
    let g = 0..GROUPS.len();
    prop_oneof![
        3 => (u.clone(), g.clone()).prop_map(|(u, g)| ChatOp::Join(u, g)),
        1 => (u.clone(), g.clone()).prop_map(|(u, g)| ChatOp::Leave(u, g)),
        1 => (u.clone(), g.clone(), any::<bool>()).prop_map(|(u, g, p)| ChatOp::Create(u, g, p)),
        1 => (u.clone(), g.clone(), u.clone()).prop_map(|(u, g, t)| ChatOp::Invite(u, g, t)),
        8 => (u.clone(), 0..USERS.len(), any::<bool>(), any::<u8>(), proptest::option::of(0..4u8))
            .prop_map(|(u, t, dm, m, c)| ChatOp::Send(u, t, dm, m, c)),
        2 => (u.clone(), g, proptest::option::of(0..20u64)).prop_map(|(u, g, s)| ChatOp::MarkRead(u, g, s)),
        1 => (u, proptest::option::of(proptest::collection::vec(1..10u64, 0..3)))
            .prop_map(|(u, ids)| ChatOp::ReadNotifications(u, ids)),
    ]
}

pub fn chat_batches() -> impl Strategy<Value = Vec<Vec<ChatOp>>> {
    proptest::collection::vec(proptest::collection::vec(chat_op(), 1..10), 1..8)
}

fn group_ref(g: usize) -> RoomRef {
    RoomRef { room: Some(format!("group:{}", GROUPS[g])), ..RoomRef::default() }
}

/// Runs the ops through a real [`Chat`] and returns the `Persist` entries of each drain.
pub fn chat_entries(batches: &[Vec<ChatOp>]) -> Vec<Vec<LogEntry>> {
    let mut config = Config::default();
    config.send_burst = 10_000;
    config.op_burst = 10_000;
    let mut chat = Chat::new(config);
    let mut now = T0;
    let mut out = Vec::new();
    for (i, name) in USERS.iter().enumerate() {
        chat.handle(Timestamp(now), Input::Connect { session: SessionId(i as u64 + 1), user: user(name) });
    }
    out.push(drain(&mut chat));
    for batch in batches {
        for op in batch {
            now += 13;
            let (u, msg) = match op {
                ChatOp::Join(u, g) => (*u, ClientMsg::JoinRoom { room: group_ref(*g) }),
                ChatOp::Leave(u, g) => (*u, ClientMsg::LeaveRoom { room: group_ref(*g) }),
                ChatOp::Create(u, g, private) => {
                    (*u, ClientMsg::CreateRoom { room_name: GROUPS[*g].to_owned(), private: *private })
                }
                ChatOp::Invite(u, g, t) => {
                    (*u, ClientMsg::Invite { room: group_ref(*g), username: USERS[*t].to_owned() })
                }
                ChatOp::Send(u, t, dm, mentions, client_id) => {
                    let room = if *dm {
                        RoomRef {
                            room: RoomKey::dm(user(USERS[*u]), user(USERS[*t])).ok().map(|k| k.to_string()),
                            ..RoomRef::default()
                        }
                    } else {
                        group_ref(*t % GROUPS.len())
                    };
                    let mut content = String::from("hello");
                    for (i, name) in USERS.iter().enumerate() {
                        if mentions & (1 << i) != 0 {
                            content.push_str(&format!(" @{name}"));
                        }
                    }
                    if mentions & 0x80 != 0 {
                        content.push_str(" @room");
                    }
                    let client_id = client_id.map(|c| format!("cid-{c}"));
                    if room.room.is_none() {
                        continue;
                    }
                    (*u, ClientMsg::SendMessage { attachments: Vec::new(), room, content, client_id, reply_to: None })
                }
                ChatOp::MarkRead(u, g, seq) => (*u, ClientMsg::MarkRead { room: group_ref(*g), seq: *seq }),
                ChatOp::ReadNotifications(u, ids) => (*u, ClientMsg::MarkNotificationsRead { ids: ids.clone() }),
            };
            chat.handle(Timestamp(now), Input::Receive { session: SessionId(u as u64 + 1), msg });
        }
        out.push(drain(&mut chat));
    }
    out
}

fn drain(chat: &mut Chat) -> Vec<LogEntry> {
    chat.drain().into_parts().0
}
