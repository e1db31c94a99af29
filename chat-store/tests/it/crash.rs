//! Crash safety: a child process appends batches and prints each acknowledged batch; the parent
//! kills it with SIGKILL at random moments, reopens the file, and checks that every acknowledged
//! message is there and that no batch is half visible.
//!
//! The child is this test binary run again (`crash::child`, ignored unless invoked by the parent).
//! Default: 100 kill cycles. Longer run: `CHAT_STORE_CRASH_CYCLES=1000 cargo test -p chat-store
//! --test it crash::sigkill -- --nocapture` (each cycle re-reads the whole room, so the time per
//! cycle grows with the run). `CHAT_STORE_CRASH_SEED=<n>` replays a run's kill timings.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use chat_core::{HistoryQuery, HistoryRange, Journal, LogEntry, Message, RoomKind, Timestamp};
use chat_store::Store;

use crate::common::*;

const CHILD_ENV: &str = "CHAT_STORE_CRASH_CHILD";
const ROOM: &str = "group:crash";

/// A small deterministic PRNG (xorshift64*): kill timings must be replayable from a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn message(seq: u64) -> LogEntry {
    LogEntry::Message(std::sync::Arc::new(Message {
        attachments: Vec::new(),
        room: room(ROOM),
        seq,
        timestamp: Timestamp(T0 + seq),
        sender: user("alice"),
        content: format!("message {seq}"),
        mentions: if seq.is_multiple_of(3) { vec![user("bob")] } else { vec![] },
        client_id: Some(format!("crash-{seq}")),
        rev: 0,
        changed_rev: 0,
        edited_at: None,
        deleted: false,
        deleted_at: None,
        reply_to: None,
        reactions: Vec::new(),
    }))
}

/// The child: appends batches of 1 to 8 messages forever (bounded), printing `@@ begin a b` before
/// and `@@ ack a b` after each successful append of the messages `a..=b`.
#[test]
#[ignore = "the child process of crash::sigkill_at_random_moments; does nothing on its own"]
fn child() {
    let Ok(path) = std::env::var(CHILD_ENV) else { return };
    let seed: u64 = std::env::var("CHAT_STORE_CRASH_CHILD_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut rng = Rng(seed | 1);
    let mut store = Store::open(&path).expect("the child opens the store");
    let mut next = store.snapshot().unwrap().room(&room(ROOM)).unwrap().last_seq() + 1;
    for _ in 0..100_000 {
        let size = 1 + rng.below(8);
        let last = next + size - 1;
        let mut batch: Vec<LogEntry> = (next..=last).map(message).collect();
        if rng.below(2) == 0 {
            batch.push(LogEntry::ReadCursor { user: user("bob"), room: room(ROOM), seq: next });
        }
        println!("@@ begin {next} {last}");
        store.append(&batch).expect("append");
        println!("@@ ack {next} {last}");
        next = last + 1;
    }
}

#[derive(Debug, Default)]
struct Seen {
    /// The highest acknowledged `seq`.
    acked: u64,
    /// The batch that was begun but not acknowledged when the child died, if any.
    in_flight: Option<(u64, u64)>,
}

#[test]
fn sigkill_at_random_moments() {
    let cycles: u32 = std::env::var("CHAT_STORE_CRASH_CYCLES").ok().and_then(|s| s.parse().ok()).unwrap_or(100);
    let seed: u64 = std::env::var("CHAT_STORE_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(7)
    });
    eprintln!("crash test: {cycles} cycles, CHAT_STORE_CRASH_SEED={seed}");
    let mut rng = Rng(seed | 1);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.redb");
    {
        let mut store = Store::open(&path).unwrap();
        store
            .append(&[
                LogEntry::RoomCreated {
                    room: room(ROOM),
                    kind: RoomKind::Public,
                    owner: None,
                    timestamp: Timestamp(T0),
                },
                LogEntry::MemberAdded { room: room(ROOM), user: user("alice") },
                LogEntry::MemberAdded { room: room(ROOM), user: user("bob") },
            ])
            .unwrap();
    }

    let exe = std::env::current_exe().unwrap();
    let child_stderr = dir.path().join("child-stderr.txt");
    let mut acked_total = 0;
    let mut acked_before = 0;
    let mut torn_candidates = 0;
    let mut committed_in_flight = 0;
    for cycle in 0..cycles {
        let mut child = Command::new(&exe)
            .args(["crash::child", "--exact", "--ignored", "--nocapture", "--quiet", "--test-threads=1"])
            .env(CHILD_ENV, &path)
            .env("CHAT_STORE_CRASH_CHILD_SEED", rng.next().to_string())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&child_stderr).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });

        // Kill after 0–5 acknowledgements plus 0–3 ms: before the first append (during open or
        // recovery), between appends, and inside commits.
        let acks_wanted = rng.below(6);
        let mut lines = Vec::new();
        let mut acks = 0;
        while acks < acks_wanted {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    acks += u64::from(line.contains("@@ ack "));
                    lines.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    let stderr = std::fs::read_to_string(&child_stderr).unwrap_or_default();
                    panic!("cycle {cycle}: the child stopped acknowledging (seed {seed}); its stderr:\n{stderr}")
                }
            }
        }
        std::thread::sleep(Duration::from_micros(rng.below(3_000)));
        child.kill().unwrap(); // SIGKILL on unix
        let status = child.wait().unwrap();
        reader.join().unwrap();
        lines.extend(rx.try_iter());
        assert!(!status.success(), "cycle {cycle}: the child was killed, not finished");

        let mut seen = Seen { acked: acked_before, in_flight: None };
        for line in &lines {
            // The test harness may print on the same line before the child's first line.
            let Some((_, record)) = line.rsplit_once("@@ ") else { continue };
            let mut parts = record.split_whitespace();
            let (kind, a, b) = (parts.next(), parts.next(), parts.next());
            let (Some(a), Some(b)) = (a.and_then(|a| a.parse().ok()), b.and_then(|b| b.parse().ok())) else { continue };
            match kind {
                Some("begin") => seen.in_flight = Some((a, b)),
                Some("ack") => {
                    assert_eq!(seen.in_flight, Some((a, b)));
                    seen.acked = b;
                    seen.in_flight = None;
                    acked_total += 1;
                }
                _ => {}
            }
        }
        torn_candidates += u32::from(seen.in_flight.is_some());

        let store = Store::open(&path).unwrap_or_else(|e| panic!("cycle {cycle}: reopen failed: {e} (seed {seed})"));
        let stored =
            store.history(&HistoryQuery { room: room(ROOM), range: HistoryRange::After(0), limit: u32::MAX }).unwrap();
        let last = stored.last().map_or(0, |m| m.seq);
        for (i, m) in stored.iter().enumerate() {
            assert_eq!(
                m,
                &match message(i as u64 + 1) {
                    LogEntry::Message(m) => Message::clone(&m),
                    _ => unreachable!(),
                },
                "cycle {cycle}: messages are gap-free and intact (seed {seed})"
            );
        }
        assert!(
            last >= seen.acked,
            "cycle {cycle}: acknowledged up to {} but only {last} stored (seed {seed})",
            seen.acked
        );
        let whole_batch = last == seen.acked || seen.in_flight.is_some_and(|(_, b)| b == last);
        assert!(whole_batch, "cycle {cycle}: {last} stored is not a batch boundary: {seen:?} (seed {seed})");
        // The materialised state committed with the messages, never apart from them.
        let snapshot = store.snapshot().unwrap();
        assert_eq!(snapshot.room(&room(ROOM)).unwrap().last_seq(), last, "cycle {cycle} (seed {seed})");
        assert_eq!(snapshot.unread(&user("alice"), &room(ROOM)).unwrap().read_seq, last, "cycle {cycle} (seed {seed})");
        let bob = snapshot.unread(&user("bob"), &room(ROOM)).unwrap();
        assert!(bob.read_seq <= last);
        let expected_highlights = (bob.read_seq + 1..=last).filter(|s| s.is_multiple_of(3)).count() as u64;
        assert_eq!(bob.highlight, expected_highlights, "cycle {cycle} (seed {seed})");
        committed_in_flight += u32::from(last > seen.acked);
        acked_before = last;
    }
    eprintln!(
        "crash test: {acked_total} batches acknowledged, {torn_candidates} kills with a batch in flight \
         ({committed_in_flight} of those batches had committed whole, the others not at all)"
    );
    assert!(acked_total > 0);
}
