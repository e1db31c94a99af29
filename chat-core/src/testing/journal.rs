//! The journal conformance suite: properties every [`Journal`] must have, checked against
//! [`MemoryJournal`] (the reference) on logs the core really writes.
//!
//! ```
//! use chat_core::MemoryJournal;
//! use chat_core::testing::journal::{JournalSuite, journal_conformance};
//!
//! let report = journal_conformance(MemoryJournal::new);
//! assert!(report.skipped.contains(&"reopen"), "a memory journal cannot be reopened");
//!
//! // With the optional properties: failure injection (ambiguous commits); a durable journal
//! // also gives `JournalSuite::reopenable(create_storage, open_journal)`.
//! JournalSuite::new(MemoryJournal::new).fail_next_append(|j| j.fail_next_appends(1)).run();
//! ```
//!
//! A failed property panics with ``journal conformance: property `NAME` failed: WHAT``.

use std::collections::BTreeSet;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use super::model;
use super::sim::{Event, Sim, join, send, user};
use super::strategy;
use crate::{
    ClientMsg, Config, HistoryQuery, HistoryRange, Input, Journal, LogEntry, MemoryJournal, Message, RoomKey,
    ServerMsg, Snapshot,
};

/// What [`JournalSuite::run`] checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The properties that held.
    pub passed: Vec<&'static str>,
    /// The properties not run, because the suite was not given what they need (a way to reopen
    /// the journal, a way to make an append fail).
    pub skipped: Vec<&'static str>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "journal conformance: passed {}", self.passed.join(", "))?;
        if !self.skipped.is_empty() {
            write!(f, "; skipped {}", self.skipped.join(", "))?;
        }
        Ok(())
    }
}

/// Runs every property the suite can run with only a way to make empty journals (`reopen` and
/// `ambiguous_commits` are skipped); panics naming the first property that fails.
pub fn journal_conformance<'a, J: Journal + 'a>(make: impl Fn() -> J + 'a) -> Report {
    JournalSuite::new(make).run()
}

type Fresh<'a, J> = Box<dyn Fn() -> (J, Option<Box<dyn Fn() -> J + 'a>>) + 'a>;
type Arm<'a, J> = Box<dyn Fn(&mut J) + 'a>;

/// The journal conformance suite, with the optional abilities its properties need.
///
/// The properties, by the name a failure reports:
/// - `empty`: a new journal folds to the empty snapshot and has no history;
/// - `append_snapshot`: after every batch (of 1 to 13 entries) `snapshot()` is the fold of
///   everything appended (`Snapshot::from_log`);
/// - `history_pages`: `Latest`, `Before` and `After` pages of every room, for every boundary
///   and limits from 0 to `u32::MAX`, equal the reference's (ascending, at most `limit`);
/// - `client_id_windows`: past [`CLIENT_ID_WINDOW`](crate::CLIENT_ID_WINDOW) client ids and
///   [`NOTIFICATION_INBOX_CAP`](crate::NOTIFICATION_INBOX_CAP) notifications, the snapshot still
///   equals the fold, and a chat restored from it acks a remembered id as a duplicate and
///   stores a forgotten one anew;
/// - `model`: the reference model ([`model::run_on`]) on a simulator over the journal, for a
///   fixed set of random traces;
/// - `ambiguous_commits` (with [`JournalSuite::fail_next_append`]): after a failed append the
///   journal holds all of the batch or none of it, its history agrees with its snapshot, and a
///   retry with the same client id after the restore stores the message exactly once;
/// - `reopen` (with [`JournalSuite::reopenable`]): a journal dropped and opened again on the same
///   storage has the same snapshot and history, empty or not, and appends continue.
pub struct JournalSuite<'a, J> {
    fresh: Fresh<'a, J>,
    reopenable: bool,
    fail_next_append: Option<Arm<'a, J>>,
}

impl<'a, J: Journal + 'a> JournalSuite<'a, J> {
    /// The suite on journals from `make`, each of which must start empty.
    pub fn new(make: impl Fn() -> J + 'a) -> JournalSuite<'a, J> {
        JournalSuite { fresh: Box::new(move || (make(), None)), reopenable: false, fail_next_append: None }
    }

    /// The suite on durable journals: `create` makes new empty storage (a temporary file or
    /// directory, a database schema…), `open` opens a journal on it. A reopen drops the journal
    /// and calls `open` again on the same storage.
    pub fn reopenable<S: 'a>(create: impl Fn() -> S + 'a, open: impl Fn(&S) -> J + 'a) -> JournalSuite<'a, J> {
        let open = std::rc::Rc::new(open);
        let fresh = move || {
            let storage = create();
            let journal = open(&storage);
            let open = open.clone();
            let reopen: Box<dyn Fn() -> J + 'a> = Box::new(move || open(&storage));
            (journal, Some(reopen))
        };
        JournalSuite { fresh: Box::new(fresh), reopenable: true, fail_next_append: None }
    }

    /// A way to make the journal's next append fail (once), for `ambiguous_commits`. The append
    /// may fail before or after its batch became durable, as the journal contract allows.
    pub fn fail_next_append(mut self, arm: impl Fn(&mut J) + 'a) -> JournalSuite<'a, J> {
        self.fail_next_append = Some(Box::new(arm));
        self
    }

    /// Runs every property it can; panics, naming the property, at the first that fails.
    pub fn run(&self) -> Report {
        let mut report = Report::default();
        type Property<'s, 'a, J> = (&'static str, bool, fn(&JournalSuite<'a, J>));
        let properties: [Property<'_, 'a, J>; 7] = [
            ("empty", true, JournalSuite::empty),
            ("append_snapshot", true, JournalSuite::append_snapshot),
            ("history_pages", true, JournalSuite::history_pages),
            ("client_id_windows", true, JournalSuite::client_id_windows),
            ("model", true, JournalSuite::model),
            ("ambiguous_commits", self.fail_next_append.is_some(), JournalSuite::ambiguous_commits),
            ("reopen", self.reopenable, JournalSuite::reopen),
        ];
        for (name, runnable, property) in properties {
            if !runnable {
                report.skipped.push(name);
                continue;
            }
            if let Err(panic) = catch_unwind(AssertUnwindSafe(|| property(self))) {
                let what = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("(a panic without a message)");
                if what.starts_with("journal conformance:") {
                    resume_unwind(panic);
                }
                panic!("journal conformance: property `{name}` failed: {what}");
            }
            report.passed.push(name);
        }
        report
    }

    fn journal(&self) -> J {
        (self.fresh)().0
    }

    fn empty(&self) {
        let journal = self.journal();
        assert!(snapshot(&journal) == Snapshot::default(), "a new journal's snapshot is not empty");
        for room in ["group:lobby", "dm:alice:bob"] {
            let page = history(&journal, &query(room, HistoryRange::Latest, 100));
            assert!(page.is_empty(), "a new journal has history in {room}: {} messages", page.len());
        }
    }

    fn append_snapshot(&self) {
        let log = reference_log();
        let mut journal = self.journal();
        let mut done = 0;
        for (i, batch) in batches(&log).enumerate() {
            append(&mut journal, batch);
            done += batch.len();
            let want = Snapshot::from_log(&log[..done]);
            assert!(
                snapshot(&journal) == want,
                "after batch {i} ({} entries, {done} in all, the last {:?}) the snapshot is not the fold of the log",
                batch.len(),
                batch.last()
            );
        }
    }

    fn history_pages(&self) {
        let log = reference_log();
        let mut journal = self.journal();
        let mut reference = MemoryJournal::new();
        for batch in batches(&log) {
            append(&mut journal, batch);
            append(&mut reference, batch);
        }
        same_history(&journal, &reference, &log, true);
    }

    fn client_id_windows(&self) {
        let (log, retries) = window_log();
        let mut journal = self.journal();
        for batch in log.chunks(64) {
            append(&mut journal, batch);
        }
        let snapshot = snapshot(&journal);
        assert!(snapshot == Snapshot::from_log(&log), "past the client-id window the snapshot is not the fold");
        // A chat restored from the journal remembers exactly the window.
        let mut sim = Sim::with_journal(window_config(), journal);
        let a = sim.connect("alice");
        for (client_id, remembered) in retries {
            let msg = ClientMsg::SendMessage {
                attachments: Vec::new(),
                room: super::sim::room("group:lobby"),
                content: "again".into(),
                client_id: Some(client_id.clone()),
                reply_to: None,
            };
            sim.recv(a, msg);
            let duplicate = sim.take(a).iter().find_map(|f| match f {
                ServerMsg::Ack { duplicate, .. } => Some(*duplicate),
                _ => None,
            });
            assert_eq!(
                duplicate,
                Some(remembered),
                "a retry of client id {client_id} after restoring from the journal (remembered: {remembered})"
            );
        }
    }

    fn model(&self) {
        use proptest::strategy::{Strategy, ValueTree};
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        for _ in 0..8 {
            let ops = strategy::trace(1..60).new_tree(&mut runner).expect("a trace").current();
            let mut sim = Sim::with_journal(model::config(), self.journal());
            model::run_on(&mut sim, &ops);
        }
    }

    fn ambiguous_commits(&self) {
        let arm = self.fail_next_append.as_ref().expect("checked by run");
        for round in 0..4 {
            let mut sim = Sim::with_journal(model::config(), self.journal());
            let a = sim.connect("alice");
            let b = sim.connect("bob");
            sim.recv(a, join("group:lobby"));
            sim.recv(b, join("group:lobby"));
            for i in 0..round {
                sim.recv(a, send("group:lobby", &format!("before {i}")));
            }
            let before: Vec<LogEntry> = committed(sim.trace());
            arm(sim.journal_mut());
            let retry = ClientMsg::SendMessage {
                attachments: Vec::new(),
                room: super::sim::room("group:lobby"),
                content: "hello @bob".into(),
                client_id: Some("retry-me".into()),
                reply_to: None,
            };
            // One batch of several entries: a read cursor (after round 0), a message, a new user.
            sim.queue(Input::Receive {
                session: b,
                msg: ClientMsg::MarkRead { room: super::sim::room("group:lobby"), seq: None },
            });
            sim.queue(Input::Receive { session: a, msg: retry.clone() });
            sim.queue(Input::AddUser { user: user(&format!("new{round}")) });
            sim.drain();
            let Some(batch) = sim.failed_commits().last().cloned() else {
                panic!("the armed failure did not fail the next append (round {round})");
            };
            let held = snapshot(sim.journal());
            let landed = held == Snapshot::from_log(&[before.clone(), batch.clone()].concat());
            assert!(
                landed || held == Snapshot::from_log(&before),
                "after a failed append the journal holds part of the batch (round {round}, batch {batch:?})"
            );
            let lobby: RoomKey = "group:lobby".parse().expect("a room key");
            let last_seq = held.room(&lobby).map_or(0, |r| r.last_seq());
            let page = history(sim.journal(), &query("group:lobby", HistoryRange::Latest, 1_000));
            assert_eq!(
                page.last().map_or(0, |m| m.seq),
                last_seq,
                "after a failed append the history disagrees with the snapshot (landed: {landed})"
            );
            // The client retries after the restore: stored exactly once, acked as a duplicate
            // exactly when the failed batch had landed.
            let a = sim.connect("alice");
            sim.recv(a, retry);
            let acks: Vec<bool> = sim
                .take(a)
                .iter()
                .filter_map(|f| match f {
                    ServerMsg::Ack { duplicate, .. } => Some(*duplicate),
                    _ => None,
                })
                .collect();
            assert_eq!(acks, [landed], "the ack of a retry after a failed append that landed: {landed}");
            let page = history(sim.journal(), &query("group:lobby", HistoryRange::Latest, 1_000));
            let stored = page.iter().filter(|m| m.client_id.as_deref() == Some("retry-me")).count();
            assert_eq!(stored, 1, "a message retried after a failed append is stored {stored} times");
        }
    }

    fn reopen(&self) {
        let (journal, reopen) = (self.fresh)();
        let reopen = reopen.expect("checked by run");
        drop(journal);
        let journal = reopen();
        assert!(snapshot(&journal) == Snapshot::default(), "an empty journal reopened is not empty");
        drop(journal);
        let log = reference_log();
        let (first, second) = log.split_at(log.len() / 2);
        let mut journal = reopen();
        let mut reference = MemoryJournal::new();
        for part in [first, second] {
            for batch in batches(part) {
                append(&mut journal, batch);
                append(&mut reference, batch);
            }
            drop(journal);
            journal = reopen();
            let done = reference.entries().len();
            assert!(
                snapshot(&journal) == snapshot(&reference),
                "after reopening, the snapshot is not the fold of the {done} entries appended"
            );
            same_history(&journal, &reference, &log[..done], false);
        }
    }
}

fn snapshot<J: Journal>(journal: &J) -> Snapshot {
    journal.snapshot().unwrap_or_else(|e| panic!("snapshot() failed: {e}"))
}

fn history<J: Journal>(journal: &J, query: &HistoryQuery) -> Vec<Message> {
    journal.history(query).unwrap_or_else(|e| panic!("history({query:?}) failed: {e}"))
}

fn append<J: Journal>(journal: &mut J, batch: &[LogEntry]) {
    journal.append(batch).unwrap_or_else(|e| panic!("append of {} entries failed: {e}", batch.len()));
}

fn query(room: &str, range: HistoryRange, limit: u32) -> HistoryQuery {
    HistoryQuery { room: room.parse().expect("a room key"), range, limit }
}

/// The log in batches of 1, 2, 3, 5, 8, 13, 1, 2… entries.
fn batches(log: &[LogEntry]) -> impl Iterator<Item = &[LogEntry]> {
    let sizes = [1, 2, 3, 5, 8, 13];
    let mut rest = log;
    let mut i = 0;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (batch, tail) = rest.split_at(sizes[i % sizes.len()].min(rest.len()));
        rest = tail;
        i += 1;
        Some(batch)
    })
}

fn committed(trace: &[Event]) -> Vec<LogEntry> {
    trace
        .iter()
        .filter_map(|e| match e {
            Event::Persist(entry) => Some(entry.clone()),
            _ => None,
        })
        .collect()
}

/// Every room's pages from `journal` equal `reference`'s; `exhaustive` tries every boundary.
fn same_history<J: Journal>(journal: &J, reference: &MemoryJournal, log: &[LogEntry], exhaustive: bool) {
    let rooms: BTreeSet<RoomKey> = log
        .iter()
        .filter_map(|e| match e {
            LogEntry::RoomCreated { room, .. } => Some(room.clone()),
            _ => None,
        })
        .chain(["group:never-created".parse().expect("a room key")])
        .collect();
    let fold = Snapshot::from_log(log);
    let limits: &[u32] = if exhaustive { &[0, 1, 2, 3, 7, 100, u32::MAX] } else { &[1, 5, 1_000] };
    for room in rooms {
        let last = fold.room(&room).map_or(0, |r| r.last_seq());
        let mut ranges = vec![HistoryRange::Latest];
        let bounds: Vec<u64> = if exhaustive { (0..=last + 1).collect() } else { vec![0, last / 2, last] };
        ranges.extend(
            bounds.iter().flat_map(|&b| [HistoryRange::Before(b), HistoryRange::After(b), HistoryRange::Around(b)]),
        );
        for range in ranges {
            for &limit in limits {
                let query = HistoryQuery { room: room.clone(), range, limit };
                let got = history(journal, &query);
                let want = history(reference, &query);
                let seqs = |page: &[Message]| page.iter().map(|m| m.seq).collect::<Vec<_>>();
                assert_eq!(seqs(&got), seqs(&want), "the seqs of the page {range:?} limit {limit} of {room}");
                assert!(got == want, "the messages of the page {range:?} limit {limit} of {room} differ from the log");
                if let HistoryRange::Around(seq) = range {
                    // The context of `seq`: the older half, then `seq` and what follows.
                    let mut parts = history(
                        journal,
                        &HistoryQuery { range: HistoryRange::Before(seq), limit: limit / 2, ..query.clone() },
                    );
                    let after = HistoryRange::After(seq.saturating_sub(1));
                    parts.extend(history(
                        journal,
                        &HistoryQuery { range: after, limit: limit - limit / 2, ..query.clone() },
                    ));
                    assert_eq!(
                        seqs(&got),
                        seqs(&parts),
                        "the page {range:?} limit {limit} of {room} is not its halves"
                    );
                }
            }
        }
    }
}

/// A log the core writes: users, public and private rooms, invitations, DMs, messages with
/// mentions and client ids, read cursors, notifications read, departures and removals.
pub fn reference_log() -> Vec<LogEntry> {
    let mut sim = Sim::with_config(model::config());
    let (a, b, c) = (sim.connect("alice"), sim.connect("bob"), sim.connect("carol"));
    sim.input(Input::AddUser { user: user("dave") });
    for s in [a, b, c] {
        sim.recv(s, join("group:lobby"));
    }
    sim.recv(a, ClientMsg::CreateRoom { room_name: "secret".into(), private: true });
    sim.recv(a, ClientMsg::Invite { room: super::sim::room("group:secret"), username: "bob".into() });
    sim.recv(b, ClientMsg::AcceptInvite { room: super::sim::room("group:secret") });
    sim.recv(a, ClientMsg::Invite { room: super::sim::room("group:secret"), username: "carol".into() });
    for i in 0..12 {
        let (s, key) = [(a, "group:lobby"), (b, "group:lobby"), (c, "group:lobby"), (a, "group:secret")][i % 4];
        let content = ["hi @bob", "@room deploy", "ok", "see @carol and @alice", "`@bob` no"][i % 5];
        let client_id = (i % 3 == 0).then(|| format!("c{i}"));
        sim.recv(
            s,
            ClientMsg::SendMessage {
                attachments: Vec::new(),
                room: super::sim::room(key),
                content: content.into(),
                client_id,
                reply_to: None,
            },
        );
        sim.advance(1_000);
    }
    sim.recv(a, send("dm:alice:bob", "psst @bob"));
    sim.recv(b, send("dm:alice:bob", "yes?"));
    sim.recv(c, send("dm:carol:dave", "hello dave"));
    sim.recv(b, ClientMsg::MarkRead { room: super::sim::room("group:lobby"), seq: Some(4) });
    sim.recv(c, ClientMsg::MarkRead { room: super::sim::room("group:lobby"), seq: None });
    sim.recv(b, ClientMsg::MarkNotificationsRead { ids: None });
    sim.recv(c, ClientMsg::DeclineInvite { room: super::sim::room("group:secret") });
    sim.recv(a, ClientMsg::Remove { room: super::sim::room("group:secret"), username: "bob".into() });
    sim.recv(c, ClientMsg::LeaveRoom { room: super::sim::room("group:lobby") });
    sim.recv(a, send("group:lobby", "bye @carol"));
    sim.recv(b, ClientMsg::MarkRead { room: super::sim::room("group:lobby"), seq: None });
    let log = sim.journal().entries().to_vec();
    assert!(log.len() > 30, "the reference scenario wrote only {} entries", log.len());
    log
}

/// A log past the client-id window and the notification inbox cap, and the retries to try after
/// restoring from it: (client id, still remembered).
fn window_log() -> (Vec<LogEntry>, Vec<(String, bool)>) {
    let mut sim = Sim::with_config(window_config());
    let a = sim.connect("alice");
    let b = sim.connect("bob");
    sim.recv(a, join("group:lobby"));
    sim.recv(b, join("group:lobby"));
    let n = crate::CLIENT_ID_WINDOW + 20;
    for i in 0..n {
        let msg = ClientMsg::SendMessage {
            attachments: Vec::new(),
            room: super::sim::room("group:lobby"),
            content: "hey @bob".into(),
            client_id: Some(format!("id-{i}")),
            reply_to: None,
        };
        sim.queue(Input::Receive { session: a, msg });
        if i % 50 == 49 {
            sim.drain();
        }
    }
    sim.drain();
    let log = sim.journal().entries().to_vec();
    let retries = vec![(format!("id-{}", n - 1), true), (format!("id-{}", n - 1_000), true), ("id-0".into(), false)];
    (log, retries)
}

/// No rate limit in the way of a thousand sends at one instant.
fn window_config() -> Config {
    Config { send_burst: 100_000, op_burst: 100_000, ..Config::default() }
}
