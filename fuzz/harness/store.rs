//! Harness for the `store` fuzz target (also replayed by the `examples` crate's tests).
//!
//! `chat_store::Store` against `chat_core::MemoryJournal` (the reference model), on a redb
//! backend in memory that injects I/O errors (on writes, resizes and `fsync`) after an arbitrary
//! number of operations, once or until healed. Batches of arbitrary log entries are appended to
//! both; when the store's append fails, the model does not get the batch. Whenever no fault is
//! armed, the store's snapshot and history pages must equal the model's: an acknowledged batch
//! is there, a failed one is invisible (also after reopening the database). Never a panic.
//!
//! Byte format: one byte per choice (an exhausted input reads as zeros): an op tag, then its
//! fields. [`seeds`] builds the committed seed corpus.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use arbitrary::{Arbitrary, Unstructured};
use chat_core::{
    HistoryQuery, HistoryRange, Journal, LogEntry, MemoryJournal, Message, RoomKey, RoomKind, Timestamp, UserName,
};
use chat_store::Store;
use redb::backends::InMemoryBackend;
use redb::{BackendError, StorageBackend};

const USERS: [&str; 4] = ["alice", "bob", "carol", "dave"];
const ROOMS: [&str; 4] = ["group:lobby", "group:dev", "dm:alice:bob", "dm:bob:carol"];
const MAX_OPS: usize = 64;
const MAX_BATCH: u8 = 8;
const T0: u64 = 1_700_000_000_000;

/// Op tags (the byte before each op, modulo 8).
pub const APPEND: u8 = 0;
/// Arm a fault: `after` (ops), `sticky` (bit 0).
pub const FAIL: u8 = 5;
/// Disarm the fault.
pub const HEAL: u8 = 6;
/// Drop the store and open a new one on the same bytes.
pub const REOPEN: u8 = 7;

/// The fault a [`FlakyDisk`] injects.
#[derive(Debug, Default)]
struct Fault {
    /// Fail the mutating operation after this many more succeed.
    after: Option<u32>,
    /// Keep failing once triggered (until healed).
    sticky: bool,
    /// Errors injected so far.
    injected: u64,
    /// Of which on `sync_data`.
    sync_failures: u64,
    /// Successful `sync_data` calls.
    syncs: u64,
}

/// redb's in-memory backend with injected I/O errors on `write`, `set_len` and `sync_data`.
#[derive(Debug, Clone, Default)]
struct FlakyDisk {
    mem: Arc<InMemoryBackend>,
    fault: Arc<Mutex<Fault>>,
}

impl FlakyDisk {
    fn fault(&self) -> MutexGuard<'_, Fault> {
        self.fault.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn armed(&self) -> bool {
        self.fault().after.is_some()
    }

    fn arm(&self, after: u32, sticky: bool) {
        let mut fault = self.fault();
        fault.after = Some(after);
        fault.sticky = sticky;
    }

    fn heal(&self) {
        self.fault().after = None;
    }

    fn injected(&self) -> u64 {
        self.fault().injected
    }

    /// Failed and successful `fsync`s so far: a failed commit is only ambiguous when one of
    /// them happened during it.
    fn syncs(&self) -> (u64, u64) {
        let fault = self.fault();
        (fault.sync_failures, fault.syncs)
    }

    fn tick(&self, sync: bool) -> std::io::Result<()> {
        let mut fault = self.fault();
        match fault.after {
            Some(0) => {
                fault.injected += 1;
                fault.sync_failures += u64::from(sync);
                if !fault.sticky {
                    fault.after = None;
                }
                Err(std::io::Error::other("injected I/O error"))
            }
            Some(n) => {
                fault.after = Some(n - 1);
                Ok(())
            }
            None => Ok(()),
        }
    }
}

impl StorageBackend for FlakyDisk {
    fn len(&self) -> std::io::Result<u64> {
        self.mem.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        self.mem.read(offset, out)
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.tick(false)?;
        self.mem.set_len(len)
    }
    /// A failed `fsync` keeps the written pages, as Linux's page cache does after `EIO`: the
    /// outcome of that commit is then ambiguous (see `run_bytes`).
    fn sync_data(&self) -> std::io::Result<()> {
        self.tick(true)?;
        self.fault().syncs += 1;
        self.mem.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.tick(false)?;
        self.mem.write(offset, data)
    }
    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.mem.try_lock_range(start, end)
    }
}

/// What a run reached.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Batches the store committed.
    pub committed: usize,
    /// Batches the store refused because of an injected fault.
    pub failed: usize,
    /// Reopens.
    pub reopens: usize,
    /// Failed appends whose batch became visible anyway (a failed `fsync` after the commit
    /// record was written).
    pub ambiguous: usize,
    /// Messages committed.
    pub messages: usize,
}

impl std::ops::AddAssign for Stats {
    fn add_assign(&mut self, o: Stats) {
        self.committed += o.committed;
        self.failed += o.failed;
        self.reopens += o.reopens;
        self.ambiguous += o.ambiguous;
        self.messages += o.messages;
    }
}

fn user(b: u8) -> UserName {
    UserName::new(USERS[usize::from(b) % USERS.len()]).expect("fixture names are valid")
}

fn room(b: u8) -> RoomKey {
    ROOMS[usize::from(b) % ROOMS.len()].parse().expect("fixture rooms are valid")
}

struct Reader<'a, 'b> {
    u: &'b mut Unstructured<'a>,
    /// Next `seq` per room, so most generated messages extend their room.
    next_seq: BTreeMap<RoomKey, u64>,
}

impl Reader<'_, '_> {
    fn u8(&mut self) -> u8 {
        u8::arbitrary(self.u).unwrap_or(0)
    }

    fn entry(&mut self) -> LogEntry {
        match self.u8() % 8 {
            0 => LogEntry::UserAdded { user: user(self.u8()) },
            1 => {
                let room = room(self.u8());
                let kind = match (room.is_dm(), self.u8() % 2) {
                    (true, _) => RoomKind::Dm,
                    (false, 0) => RoomKind::Public,
                    (false, _) => RoomKind::Private,
                };
                let owner = (kind == RoomKind::Private).then(|| user(self.u8()));
                LogEntry::RoomCreated { room, kind, owner, timestamp: Timestamp(T0) }
            }
            2 => LogEntry::MemberAdded { room: room(self.u8()), user: user(self.u8()) },
            3 => LogEntry::MemberRemoved { room: room(self.u8()), user: user(self.u8()) },
            4 | 5 => {
                let room = room(self.u8());
                let flags = self.u8();
                let next = self.next_seq.entry(room.clone()).or_insert(1);
                // Mostly the next seq; sometimes a stale or skipped one (both journals must agree).
                let seq = if flags & 0x80 == 0 { *next } else { u64::from(flags & 0x0f) };
                *next = (*next).max(seq + 1);
                let mentions = (0..flags % 3).map(|i| user(flags >> 2 ^ i)).collect();
                let client_id = (flags & 0x40 != 0).then(|| format!("c{}", flags & 3));
                let sender = user(self.u8());
                let content = format!("m{seq} {}", "é".repeat(usize::from(self.u8() % 4)));
                LogEntry::Message(std::sync::Arc::new(Message {
                    attachments: Vec::new(),
                    room,
                    seq,
                    timestamp: Timestamp(T0 + seq),
                    sender,
                    content,
                    mentions,
                    client_id,
                    rev: 0,
                    changed_rev: 0,
                    edited_at: None,
                    deleted: false,
                    deleted_at: None,
                    reply_to: None,
                    reactions: Vec::new(),
                }))
            }
            6 => LogEntry::ReadCursor { user: user(self.u8()), room: room(self.u8()), seq: u64::from(self.u8() % 16) },
            _ => {
                let user = user(self.u8());
                let ids = match self.u8() {
                    0..=127 => None,
                    n => Some((0..n % 4).map(|i| u64::from(i + n % 7)).collect()),
                };
                LogEntry::NotificationsRead { user, ids }
            }
        }
    }
}

/// How `store` answers differently from `model` (snapshot, then history pages), if it does.
fn difference(store: &Store, model: &MemoryJournal) -> Option<String> {
    let snapshot = store.snapshot().expect("the store reads once healthy");
    if snapshot != model.snapshot().expect("model reads") {
        return Some("store snapshot differs from the model".into());
    }
    for r in 0..ROOMS.len() as u8 {
        let room = room(r);
        for (range, limit) in [
            (HistoryRange::Latest, 3),
            (HistoryRange::After(0), 100),
            (HistoryRange::Before(4), 2),
            (HistoryRange::After(2), 1),
            (HistoryRange::Before(u64::MAX), u32::MAX),
        ] {
            let query = HistoryQuery { room: room.clone(), range, limit };
            let page = store.history(&query).expect("the store reads once healthy");
            let expected = model.history(&query).expect("model reads");
            if page != expected {
                return Some(format!("history {query:?}: store {page:?}, model {expected:?}"));
            }
        }
    }
    None
}

/// Checks that `store` answers like `model` (snapshot and every history page shape).
fn assert_same(store: &Store, model: &MemoryJournal) {
    if let Some(difference) = difference(store, model) {
        panic!("{difference}");
    }
}

/// Runs one input.
pub fn run_bytes(data: &[u8]) -> Stats {
    let mut u = Unstructured::new(data);
    let mut r = Reader { u: &mut u, next_seq: BTreeMap::new() };
    let disk = FlakyDisk::default();
    let mut store = Store::with_backend(disk.clone()).expect("an empty in-memory store opens");
    let mut model = MemoryJournal::new();
    let mut stats = Stats::default();
    let mut ops = 0;
    while !r.u.is_empty() && ops < MAX_OPS {
        ops += 1;
        match r.u8() % 8 {
            FAIL => {
                let after = u32::from(r.u8() % 32);
                let sticky = r.u8() & 1 == 1;
                disk.arm(after, sticky);
            }
            HEAL => disk.heal(),
            REOPEN => {
                drop(store);
                stats.reopens += 1;
                // Opening may itself hit the fault; then heal and open again (a restart after
                // the disk was fixed): what was acknowledged must be there.
                store = match Store::with_backend(disk.clone()) {
                    Ok(store) => store,
                    Err(_) => {
                        disk.heal();
                        Store::with_backend(disk.clone()).expect("a healthy disk reopens")
                    }
                };
            }
            _ => {
                let n = r.u8() % (MAX_BATCH + 1);
                let batch: Vec<LogEntry> = (0..n).map(|_| r.entry()).collect();
                let syncs_before = disk.syncs();
                match store.append(&batch) {
                    Ok(()) => {
                        model.append(&batch).expect("the model never fails unasked");
                        stats.committed += 1;
                        stats.messages += batch.iter().filter(|e| matches!(e, LogEntry::Message(_))).count();
                    }
                    Err(e) => {
                        assert!(disk.injected() > 0, "append failed without an injected fault: {e}");
                        stats.failed += 1;
                        // A failure before any fsync of this commit leaves the batch invisible.
                        // Once an fsync was attempted the commit record may be durable: a failed
                        // fsync cannot be undone (the OS keeps the pages), and redb reports a
                        // failed resize after a successful fsync as a failed commit. The batch
                        // is then all there or not there at all.
                        let (failed, ok) = disk.syncs();
                        if failed > syncs_before.0 || ok > syncs_before.1 {
                            let fault = std::mem::take(&mut *disk.fault());
                            if difference(&store, &model).is_some() {
                                model.append(&batch).expect("the model never fails unasked");
                                if let Some(difference) = difference(&store, &model) {
                                    panic!("a failed append left part of its batch visible: {difference}");
                                }
                                stats.ambiguous += 1;
                            }
                            *disk.fault() = fault;
                        }
                        // Make the next appends pick up what is really stored.
                        r.next_seq.clear();
                    }
                }
            }
        }
        if !disk.armed() {
            assert_same(&store, &model);
        }
    }
    disk.heal();
    assert_same(&store, &model);
    drop(store);
    let reopened = Store::with_backend(disk.clone()).expect("a healthy disk reopens");
    assert_same(&reopened, &model);
    stats
}

/// Hand-written seeds: `(name, bytes)`, committed as `fuzz/corpus/store/seed-<name>`.
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    // Entry encoders (see `Reader::entry`): rooms 0 lobby, 1 dev, 2 dm:alice:bob; users 0-3.
    let user_added = |u: u8| vec![0, u];
    let created = |room: u8, private: bool, owner: u8| match private {
        true => vec![1, room, 1, owner],
        false => vec![1, room, 0],
    };
    let member = |room: u8, user: u8| vec![2, room, user];
    let removed = |room: u8, user: u8| vec![3, room, user];
    let message = |room: u8, flags: u8, sender: u8, len: u8| vec![4, room, flags, sender, len];
    let cursor = |user: u8, room: u8, seq: u8| vec![6, user, room, seq];
    let read = |user: u8, ids: u8| vec![7, user, ids];
    let append = |entries: Vec<Vec<u8>>| {
        let mut out = vec![APPEND, entries.len() as u8];
        entries.into_iter().for_each(|e| out.extend(e));
        out
    };
    let setup = append(vec![
        user_added(0),
        user_added(1),
        created(0, false, 0),
        member(0, 0),
        member(0, 1),
        created(2, false, 0),
        member(2, 0),
        member(2, 1),
    ]);
    let chat = append(vec![message(0, 0x45, 0, 1), message(0, 0x02, 1, 2), message(2, 0x00, 1, 0), cursor(1, 0, 1)]);
    let mut seeds = Vec::new();

    let mut happy = setup.clone();
    happy.extend(chat.clone());
    happy.extend(append(vec![message(0, 0x41, 0, 3), read(0, 0), read(1, 200), removed(0, 1), created(1, true, 2)]));
    happy.extend([REOPEN]);
    happy.extend(append(vec![message(0, 0x80 | 1, 0, 0), message(1, 0, 2, 0), member(1, 3)]));
    seeds.push(("append-reopen", happy));

    let mut faults = setup.clone();
    faults.extend([FAIL, 0, 0]); // the next write fails once
    faults.extend(chat.clone());
    faults.extend(chat.clone()); // the retry commits
    faults.extend([FAIL, 3, 1]); // sticky after 3 operations
    faults.extend(append(vec![message(2, 0, 0, 1)]));
    faults.extend(append(vec![message(2, 0, 1, 1)]));
    faults.extend([HEAL]);
    faults.extend(append(vec![message(2, 0, 0, 2), cursor(0, 2, 9)]));
    faults.extend([FAIL, 1, 1, REOPEN, HEAL]);
    faults.extend(append(vec![read(1, 255)]));
    seeds.push(("injected-faults", faults));
    seeds
}
