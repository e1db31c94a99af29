//! chat-search benchmarks. The corpus is built once, then measured several ways.
//! Run: `cargo bench -p chat-search --bench search`.
//!
//! - rebuild: a redb store holding the corpus is indexed from scratch with
//!   [`chat_search::rebuild`] (messages/s, wall time), and the index size on disk;
//! - live indexing: 100,000 more messages fed through an [`Indexer`] the way a driver does
//!   (`committed` per batch of 100, then `flush`), messages/s;
//! - query latency p50/p99 by kind (common word, rare word, two words, phrase, `from:`,
//!   filter only, relevance), for a caller reading 50 rooms and one reading all 1,000;
//! - criterion measurements of the same kinds (for regressions).
//!
//! `CHAT_SEARCH_BENCH_MESSAGES` sets the corpus size (default 1,000,000);
//! `CHAT_SEARCH_BENCH_DIR` where the files go (default: the system temp dir).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_core::{Journal, LogEntry, Message, RoomKey, RoomKind, Timestamp, UserName};
use chat_search::{Indexer, IndexerConfig, Order, ReadableRooms, SearchIndex, SearchQuery, SearchReader};
use chat_store::Store;
use criterion::Criterion;

const T0: u64 = 1_700_000_000_000;
const ROOMS: usize = 1_000;
const USERS: usize = 500;
const VOCABULARY: usize = 20_000;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Skewed towards small indexes (a rough Zipf): word 0 is the most frequent.
    fn skewed(&mut self, n: usize) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((n as f64) * u * u * u) as usize
    }
}

fn word(i: usize) -> String {
    const SYL: [&str; 16] =
        ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "de", "fo", "gu", "ha", "ji", "pe", "qu", "zo"];
    let mut s = String::new();
    let mut n = i + 16;
    while n > 0 {
        s.push_str(SYL[n % 16]);
        n /= 16;
    }
    s
}

fn room(i: usize) -> RoomKey {
    format!("group:room{i}").parse().unwrap()
}

fn user(i: usize) -> UserName {
    UserName::new(&format!("user{i}")).unwrap()
}

/// The one place the bench builds a `Message`.
fn message(rng: &mut Rng, seqs: &mut [u64], i: u64) -> Message {
    let r = rng.below(ROOMS);
    seqs[r] += 1;
    let len = 6 + rng.below(15);
    let mut words: Vec<String> = (0..len).map(|_| word(rng.skewed(VOCABULARY))).collect();
    if rng.below(10) == 0 {
        words.insert(rng.below(len), format!("@user{}", rng.below(USERS)));
    }
    if rng.below(20) == 0 {
        words.push(format!("`{}_{}()`", word(rng.below(100)), word(rng.below(100))));
    }
    // Through the wire form, so fields the core adds with a default need no change here.
    serde_json::from_value(serde_json::json!({
        "room": room(r),
        "seq": seqs[r],
        "timestamp": T0 + i * 50,
        "sender": user(rng.below(USERS)),
        "content": words.join(" "),
    }))
    .unwrap()
}

fn dir_size(path: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(path).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        total += if meta.is_dir() { dir_size(&entry.path()) } else { meta.len() };
    }
    total
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

struct Kind {
    name: &'static str,
    make: fn(&mut Rng) -> String,
    order: Order,
}

fn kinds() -> Vec<Kind> {
    vec![
        Kind { name: "common word", make: |r| word(r.below(10)), order: Order::Newest },
        Kind { name: "mid word", make: |r| word(300 + r.below(300)), order: Order::Newest },
        Kind { name: "rare word", make: |r| word(15_000 + r.below(5_000)), order: Order::Newest },
        Kind {
            name: "two words",
            make: |r| format!("{} {}", word(r.below(50)), word(50 + r.below(200))),
            order: Order::Newest,
        },
        Kind {
            name: "phrase",
            make: |r| format!("\"{} {}\"", word(r.below(20)), word(r.below(20))),
            order: Order::Newest,
        },
        Kind {
            name: "from: + word",
            make: |r| format!("from:user{} {}", r.below(USERS), word(r.below(100))),
            order: Order::Newest,
        },
        Kind { name: "in: only", make: |r| format!("in:room{}", 20 * r.below(50)), order: Order::Newest },
        Kind {
            name: "relevance",
            make: |r| format!("{} {}", word(r.below(30)), word(r.below(300))),
            order: Order::Relevance,
        },
    ]
}

fn query(text: &str, rooms: &ReadableRooms, order: Order) -> SearchQuery {
    SearchQuery::parse(text, rooms.clone()).unwrap().with_order(order)
}

fn latencies(reader: &SearchReader, rooms: &ReadableRooms, label: &str) {
    let mut rng = Rng(0xDEAD_BEEF);
    let mut all = Vec::new();
    for kind in kinds() {
        let mut times = Vec::with_capacity(300);
        let mut hits = 0;
        for _ in 0..300 {
            let q = query(&(kind.make)(&mut rng), rooms, kind.order);
            let start = Instant::now();
            let page = reader.query(&q).unwrap();
            times.push(start.elapsed());
            hits += page.hits.len();
        }
        times.sort();
        println!(
            "  {label:>10} | {:<13} | p50 {:>8.2?} | p99 {:>8.2?} | max {:>8.2?} | hits/page {:.1}",
            kind.name,
            percentile(&times, 0.50),
            percentile(&times, 0.99),
            times.last().unwrap(),
            hits as f64 / 300.0
        );
        all.extend(times);
    }
    all.sort();
    println!(
        "  {label:>10} | all kinds     | p50 {:>8.2?} | p99 {:>8.2?}",
        percentile(&all, 0.50),
        percentile(&all, 0.99)
    );
}

fn main() {
    let n: u64 = std::env::var("CHAT_SEARCH_BENCH_MESSAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let tmp = match std::env::var_os("CHAT_SEARCH_BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    println!("chat-search bench: {n} messages in {ROOMS} rooms, {USERS} users, {VOCABULARY} words");

    // The store.
    let start = Instant::now();
    let mut store = Store::open(tmp.path().join("chat.redb")).unwrap();
    let created: Vec<LogEntry> = (0..ROOMS)
        .map(|i| LogEntry::RoomCreated { room: room(i), kind: RoomKind::Public, owner: None, timestamp: Timestamp(T0) })
        .collect();
    store.append(&created).unwrap();
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    let mut seqs = vec![0u64; ROOMS];
    let mut i = 0;
    while i < n {
        let batch: Vec<LogEntry> =
            (i..(i + 10_000).min(n)).map(|j| LogEntry::Message(Arc::new(message(&mut rng, &mut seqs, j)))).collect();
        store.append(&batch).unwrap();
        i += batch.len() as u64;
    }
    println!("store filled in {:.1?}", start.elapsed());

    // Rebuild from the store.
    let index_dir = tmp.path().join("search");
    let mut index = SearchIndex::open(&index_dir).unwrap().index;
    let rooms: Vec<RoomKey> = store.snapshot().unwrap().rooms().map(|(r, _)| r.clone()).collect();
    let stats = chat_search::rebuild(&mut index, &store, rooms).unwrap();
    println!(
        "rebuild: {} messages in {:.1?} = {:.0} messages/s; index size {:.1} MiB ({:.0} bytes/message)",
        stats.messages,
        stats.elapsed,
        stats.messages as f64 / stats.elapsed.as_secs_f64(),
        dir_size(&index_dir) as f64 / (1024.0 * 1024.0),
        dir_size(&index_dir) as f64 / stats.messages as f64,
    );
    drop(index);

    // Live indexing through the Indexer, batches of 100 (one driver commit each).
    let opened = SearchIndex::open(&index_dir).unwrap();
    let indexer =
        Indexer::spawn(opened, store.clone(), IndexerConfig { queue: 200_000, ..IndexerConfig::default() }).unwrap();
    let live = 100_000u64;
    let batches: Vec<Vec<LogEntry>> = (0..live / 100)
        .map(|b| (0..100).map(|k| LogEntry::Message(Arc::new(message(&mut rng, &mut seqs, n + b * 100 + k)))).collect())
        .collect();
    let handle = indexer.handle();
    let start = Instant::now();
    let mut feed = Duration::ZERO;
    for batch in &batches {
        let t = Instant::now();
        handle.committed(batch);
        feed += t.elapsed();
    }
    assert!(handle.flush());
    let elapsed = start.elapsed();
    println!(
        "live indexing: {live} messages in {elapsed:.1?} = {:.0} messages/s (committed() per batch of 100: {:.1?} avg)",
        live as f64 / elapsed.as_secs_f64(),
        feed / (live / 100) as u32,
    );
    let reader = indexer.reader();
    println!("index: {} messages, {:.1} MiB", reader.num_messages(), dir_size(&index_dir) as f64 / (1024.0 * 1024.0));

    // Latency percentiles.
    let fifty = ReadableRooms::new((0..50).map(|i| room(i * 20)));
    let everything = ReadableRooms::new((0..ROOMS).map(room));
    println!("query latency (300 queries per kind, limit 20, one thread):");
    latencies(&reader, &fifty, "50 rooms");
    latencies(&reader, &everything, "1000 rooms");

    // Criterion, for regressions.
    let mut c = Criterion::default().configure_from_args().sample_size(30).measurement_time(Duration::from_secs(3));
    let mut group = c.benchmark_group("query");
    for kind in kinds() {
        for (label, rooms) in [("50 rooms", &fifty), ("1000 rooms", &everything)] {
            let mut rng = Rng(0xFEED_F00D);
            let queries: Vec<SearchQuery> = (0..64).map(|_| query(&(kind.make)(&mut rng), rooms, kind.order)).collect();
            let mut k = 0;
            group.bench_function(format!("{} / {label}", kind.name), |b| {
                b.iter(|| {
                    k = (k + 1) % queries.len();
                    reader.query(&queries[k]).unwrap()
                })
            });
        }
    }
    group.finish();
    c.final_summary();
    indexer.shutdown();
}
