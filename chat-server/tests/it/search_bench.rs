//! A measurement, not a test (ignored; numbers go to BENCHMARKS.md): query latency through
//! the whole server path (HTTP request, authentication, the hub, the core's authorisation,
//! the index on a blocking thread, the core's check of the hits, JSON) over a store filled
//! directly through the core, after the server rebuilt its index from it at start-up.
//!
//! `CHAT_SEARCH_BENCH_MESSAGES=100000 cargo test -p chat-server --release --test it \
//!  search_bench -- --ignored --nocapture`

use std::time::{Duration, Instant};

use chat_core::{Chat, ClientMsg, Config, Input, RoomRef, SessionId, Timestamp};
use chat_server::{Database, Server, ServerConfig};

use crate::support::*;

const ROOMS: usize = 50;
const QUERIES: usize = 300;

/// A kind of query: its name and the query text of the i-th run.
type Kind = (&'static str, Box<dyn Fn(usize) -> String>);

fn word(i: u64) -> String {
    format!("w{i}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run with --ignored --nocapture (see the module docs)"]
async fn search_latency_through_the_server() {
    let n: usize = std::env::var("CHAT_SEARCH_BENCH_MESSAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.redb");
    let fill = Instant::now();
    {
        let mut store = chat_store::Store::open(&db).unwrap();
        let mut config = Config::default();
        config.send_burst = u32::MAX;
        config.send_rate_per_sec = u32::MAX;
        config.op_burst = u32::MAX;
        config.op_rate_per_sec = u32::MAX;
        let mut chat = Chat::new(config);
        let mut now = Timestamp(1_700_000_000_000);
        let (alice, bob) = (SessionId(1), SessionId(2));
        chat.handle(now, Input::Connect { session: alice, user: "alice".parse().unwrap() });
        chat.handle(now, Input::Connect { session: bob, user: "bob".parse().unwrap() });
        let room = |i: usize| RoomRef { room: Some(format!("group:r{i}")), ..RoomRef::default() };
        for i in 0..ROOMS {
            for s in [alice, bob] {
                chat.handle(now, Input::Receive { session: s, msg: ClientMsg::JoinRoom { room: room(i) } });
            }
        }
        // A skewed vocabulary from w2 up: word k with probability about 1/k (a cheap LCG,
        // deterministic). `1 + 5_000 / (1 + r)` is never 1, so the commonest word is w2.
        let mut x: u64 = 42;
        let mut next = || {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            x >> 33
        };
        for i in 0..n {
            let words: Vec<String> = (0..8).map(|_| word(1 + 5_000 / (1 + next() % 5_000))).collect();
            let msg = ClientMsg::SendMessage {
                attachments: Vec::new(),
                room: room(i % ROOMS),
                content: words.join(" "),
                client_id: None,
                reply_to: None,
            };
            chat.handle(now, Input::Receive { session: if i % 2 == 0 { alice } else { bob }, msg });
            now = now.plus_millis(10);
            if i % 1_000 == 999 {
                let _ = chat.drain().commit(&mut store).unwrap().count();
            }
        }
        loop {
            let drain = chat.drain();
            if drain.is_empty() {
                break;
            }
            let _ = drain.commit(&mut store).unwrap().count();
        }
    }
    eprintln!("store filled with {n} messages in {:.1} s", fill.elapsed().as_secs_f64());

    let mut config = ServerConfig::ephemeral();
    config.database = Database::File(db);
    // One client asking as fast as it can: lift the per-user operation limit (every frame,
    // searches included, counts against it), which would otherwise answer 429 after its burst.
    config.chat.op_burst = u32::MAX;
    config.chat.op_rate_per_sec = u32::MAX;
    let started = Instant::now();
    let server = Server::start(config).await.unwrap();
    eprintln!("server up in {} ms (the index rebuild runs in the background)", started.elapsed().as_millis());
    let addr = server.local_addr();
    let token = register(addr, "alice").await;
    loop {
        let r = get(addr, "/api/search?q=w2&limit=1", Some(&token)).await;
        if r.status == 200 && r.json()["stale"] == false && !r.json()["items"].as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("index rebuilt and searchable after {:.1} s", started.elapsed().as_secs_f64());

    let kinds: [Kind; 4] = [
        ("common word (w2)", Box::new(|_| "w2".into())),
        ("mid-frequency word", Box::new(|i| word(10 + (i % 40) as u64))),
        ("rare word", Box::new(|i| word(1_000 + (i % 500) as u64))),
        ("two words", Box::new(|i| format!("w3 {}", word(20 + (i % 30) as u64)))),
    ];
    for (name, q) in kinds {
        let mut times = Vec::with_capacity(QUERIES);
        for i in 0..QUERIES {
            let path = format!("/api/search?q={}&limit=20", q(i).replace(' ', "+"));
            let t = Instant::now();
            let r = get(addr, &path, Some(&token)).await;
            times.push(t.elapsed());
            assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        }
        times.sort();
        let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)].as_secs_f64() * 1e3;
        eprintln!(
            "{name}: p50 {:.2} ms, p99 {:.2} ms ({QUERIES} queries over {ROOMS} readable rooms)",
            pct(0.5),
            pct(0.99)
        );
    }
    server.shutdown().await;
}
