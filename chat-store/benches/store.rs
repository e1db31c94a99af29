//! chat-store benchmarks (a plain binary: the 1,000,000-message database is built once and
//! measured several ways). Run: `cargo bench -p chat-store --bench store`.
//!
//! - durable messages/s by batch size (1, 10, 100, 1,000): each batch one durable commit to a file;
//! - latest 50 messages of a 1,000,000-message room;
//! - start-up (open + snapshot) with 1,000,000 messages stored.
//!
//! `CHAT_STORE_BENCH_MESSAGES` changes the size of the big room (default 1,000,000);
//! `CHAT_STORE_BENCH_DIR` where the files go (default: the system temp dir).

use std::time::{Duration, Instant};

use chat_core::{HistoryQuery, HistoryRange, Journal, LogEntry, Message, RoomKey, RoomKind, Timestamp, UserName};
use chat_store::Store;

const T0: u64 = 1_700_000_000_000;
const MEMBERS: usize = 50;

fn members() -> Vec<UserName> {
    (0..MEMBERS).map(|i| format!("user{i}").parse().unwrap()).collect()
}

fn setup(room: &RoomKey) -> Vec<LogEntry> {
    let mut entries = vec![LogEntry::RoomCreated {
        room: room.clone(),
        kind: RoomKind::Public,
        owner: None,
        timestamp: Timestamp(T0),
    }];
    for user in members() {
        entries.push(LogEntry::UserAdded { user: user.clone() });
        entries.push(LogEntry::MemberAdded { room: room.clone(), user });
    }
    entries
}

/// A realistic message: ~60 characters, a client id, and a mention in one message of ten.
fn message(room: &RoomKey, users: &[UserName], seq: u64) -> LogEntry {
    let sender = users[seq as usize % users.len()].clone();
    let mentions = if seq.is_multiple_of(10) { vec![users[(seq as usize + 1) % users.len()].clone()] } else { vec![] };
    LogEntry::Message(std::sync::Arc::new(Message {
        attachments: Vec::new(),
        room: room.clone(),
        seq,
        timestamp: Timestamp(T0 + seq),
        sender,
        content: format!("message number {seq} with a bit of ordinary chat text in it"),
        mentions,
        client_id: (std::env::var_os("CHAT_STORE_BENCH_NO_CLIENT_IDS").is_none()).then(|| format!("c-{seq}")),
        rev: 0,
        changed_rev: 0,
        edited_at: None,
        deleted: false,
        deleted_at: None,
        reply_to: None,
        reactions: Vec::new(),
    }))
}

fn dir() -> tempfile::TempDir {
    match std::env::var_os("CHAT_STORE_BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d).unwrap(),
        None => tempfile::tempdir().unwrap(),
    }
}

/// CPU time (user + system) this process has used, from `/proc/self/stat` (Linux; 100 ticks/s).
/// The machine is shared, so wall time alone mixes our cost with other processes' load.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name and state.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

fn durable_throughput(batch: usize, commits: usize) {
    let dir = dir();
    let room: RoomKey = "group:bench".parse().unwrap();
    let users = members();
    let mut store = Store::open(dir.path().join("throughput.redb")).unwrap();
    store.append(&setup(&room)).unwrap();
    let batches: Vec<Vec<LogEntry>> = (0..commits)
        .map(|c| (0..batch).map(|i| message(&room, &users, (c * batch + i) as u64 + 1)).collect())
        .collect();
    let mut latencies = Vec::with_capacity(commits);
    let cpu = cpu_time();
    let start = Instant::now();
    for b in &batches {
        let t = Instant::now();
        store.append(b).unwrap();
        latencies.push(t.elapsed());
    }
    let elapsed = start.elapsed();
    let cpu = cpu_time() - cpu;
    let msgs = (batch * commits) as f64;
    println!(
        "durable append, batch {batch:>5}: {:>9.0} msgs/s  ({commits} commits in {:.2} s, CPU {:.2} s; commit p50 {:.2} ms, p99 {:.2} ms)",
        msgs / elapsed.as_secs_f64(),
        elapsed.as_secs_f64(),
        cpu.as_secs_f64(),
        percentile(&mut latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&mut latencies, 0.99).as_secs_f64() * 1e3,
    );
}

/// The CPU side of an append: the in-memory backend, so no fsync and no disk.
fn cpu_cost(batch: usize, commits: usize) {
    let room: RoomKey = "group:bench".parse().unwrap();
    let users = members();
    let mut store = Store::in_memory().unwrap();
    store.append(&setup(&room)).unwrap();
    let batches: Vec<Vec<LogEntry>> = (0..commits)
        .map(|c| (0..batch).map(|i| message(&room, &users, (c * batch + i) as u64 + 1)).collect())
        .collect();
    let cpu = cpu_time();
    let start = Instant::now();
    for b in &batches {
        store.append(b).unwrap();
    }
    let elapsed = start.elapsed();
    let cpu = cpu_time() - cpu;
    let n = (batch * commits) as f64;
    println!(
        "in-memory append, batch {batch:>5}: {:>9.0} msgs/s ({:.1} µs wall, {:.1} µs CPU per message, no disk)",
        n / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / n,
        cpu.as_secs_f64() * 1e6 / n,
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would run this too: keep it cheap then.
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        return;
    }
    let big: u64 = std::env::var("CHAT_STORE_BENCH_MESSAGES").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);

    println!("== CPU cost of an append (in-memory backend)");
    cpu_cost(100, 200);
    cpu_cost(1_000, 50);
    if std::env::var_os("CHAT_STORE_BENCH_CPU_ONLY").is_some() {
        return;
    }
    if std::env::var_os("CHAT_STORE_BENCH_THROUGHPUT_ONLY").is_some() {
        durable_throughput(100, 200);
        durable_throughput(1_000, 50);
        return;
    }

    println!("== durable messages/s by batch size (file, one durable commit per batch)");
    durable_throughput(1, 300);
    durable_throughput(10, 300);
    durable_throughput(100, 200);
    durable_throughput(1_000, 50);

    println!("== a {big}-message room");
    let dir = dir();
    let path = dir.path().join("big.redb");
    let room: RoomKey = "group:big".parse().unwrap();
    let users = members();
    {
        let mut store = Store::open(&path).unwrap();
        store.append(&setup(&room)).unwrap();
        let start = Instant::now();
        let chunk = 10_000u64;
        let mut seq = 1;
        while seq <= big {
            let end = (seq + chunk - 1).min(big);
            let batch: Vec<LogEntry> = (seq..=end).map(|s| message(&room, &users, s)).collect();
            store.append(&batch).unwrap();
            seq = end + 1;
        }
        let elapsed = start.elapsed();
        println!(
            "bulk load: {big} messages in batches of {chunk} in {:.1} s ({:.0} msgs/s), file {} MiB",
            elapsed.as_secs_f64(),
            big as f64 / elapsed.as_secs_f64(),
            std::fs::metadata(&path).unwrap().len() / (1024 * 1024)
        );

        let query = HistoryQuery { room: room.clone(), range: HistoryRange::Latest, limit: 50 };
        assert_eq!(store.history(&query).unwrap().last().map(|m| m.seq), Some(big));
        for (name, range) in
            [("latest 50", HistoryRange::Latest), ("50 before the middle", HistoryRange::Before(big / 2))]
        {
            let query = HistoryQuery { room: room.clone(), range, limit: 50 };
            let mut samples = Vec::new();
            for _ in 0..2_000 {
                let t = Instant::now();
                let page = store.history(&query).unwrap();
                samples.push(t.elapsed());
                assert_eq!(page.len(), 50);
            }
            let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
            println!(
                "page, {name}: mean {:.1} µs, p50 {:.1} µs, p99 {:.1} µs (2,000 reads)",
                mean.as_secs_f64() * 1e6,
                percentile(&mut samples, 0.5).as_secs_f64() * 1e6,
                percentile(&mut samples, 0.99).as_secs_f64() * 1e6,
            );
        }
    }

    let mut samples = Vec::new();
    let cpu = cpu_time();
    for _ in 0..5 {
        let t = Instant::now();
        let store = Store::open(&path).unwrap();
        let snapshot = store.snapshot().unwrap();
        samples.push(t.elapsed());
        assert_eq!(snapshot.room(&room).unwrap().last_seq(), big);
        drop(store);
    }
    let cpu = cpu_time() - cpu;
    println!(
        "start-up (open + snapshot), {big} messages stored: median {:.1} ms, max {:.1} ms, CPU {:.1} ms per run (5 runs, warm page cache)",
        percentile(&mut samples, 0.5).as_secs_f64() * 1e3,
        samples.iter().max().unwrap().as_secs_f64() * 1e3,
        cpu.as_secs_f64() * 1e3 / 5.0,
    );
}
