//! A benchmark, not a check (run with `-- --ignored --nocapture`; it asserts nothing about
//! time): 1,000 WebSocket clients spread over three cluster nodes, then the same on one node
//! without `--cluster`; the send → receive latency at a fixed rate, the acknowledged-send
//! throughput of closed-loop senders, and (cluster) how fast a node restarted from an old copy
//! catches up. `CHAT_BENCH_CLIENTS`, `CHAT_BENCH_RATE` (messages/s) and `CHAT_BENCH_SECONDS`
//! change the size.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::cluster_harness::*;
use crate::support::*;

const SOCKETS_PER_USER: usize = 5;
const ROOM_USERS: usize = 10;
/// Flags that lift the per-address limits: every client comes from 127.0.0.1.
const OPEN_LIMITS: [&str; 8] = [
    "--max-connections-per-address",
    "5000",
    "--frames-per-address-per-sec",
    "1000000",
    "--frame-burst-per-address",
    "1000000",
    "--login-attempts-per-minute",
    "100000",
];

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

async fn ready(node: &Node) {
    eventually(&format!("{} serves", node.id), || async {
        let stream = tokio::net::TcpStream::connect(node.addr).await.ok()?;
        drop(stream);
        (get(node.addr, "/healthz", None).await.status == 200).then_some(())
    })
    .await;
}

async fn open(node: &Node, token: &str) -> Ws {
    let auth = format!("Bearer {token}");
    let (mut ws, _) = ws_connect(node.addr, &[("authorization", auth.as_str())]).await.expect("upgrade");
    while ws_next(&mut ws).await["type"] != "connected" {}
    ws
}

fn pct(v: &mut [u64], p: f64) -> f64 {
    v.sort_unstable();
    if v.is_empty() {
        return 0.0;
    }
    v[((v.len() as f64 - 1.0) * p) as usize] as f64 / 1000.0
}

/// Deliveries seen by the receivers: message content → arrival times.
type Seen = Arc<Mutex<Vec<(String, Instant)>>>;

struct Setup {
    users: Vec<String>,
    tokens: Vec<String>,
    rooms: usize,
    seen: Seen,
    sockets: usize,
}

/// Registers the users (round-robin over the nodes), joins them to their rooms and opens their
/// sockets, spread over the nodes.
async fn populate(nodes: &[&Node], clients: usize) -> Setup {
    let users_n = clients.div_ceil(SOCKETS_PER_USER);
    let rooms = users_n.div_ceil(ROOM_USERS);
    let seen: Seen = Arc::default();
    let (mut users, mut tokens) = (Vec::new(), Vec::new());
    for u in 0..users_n {
        let name = format!("load{u}");
        let token = register(nodes[u % nodes.len()].addr, &name).await;
        let room = format!("group:r{}", u % rooms);
        let r = post(nodes[u % nodes.len()].addr, "/api/rooms/join", Some(&token), json!({"room": room})).await;
        assert_eq!(r.status, 200, "{:?}", r.json());
        users.push(name);
        tokens.push(token);
    }
    let mut sockets = 0;
    for c in 0..clients {
        let (u, k) = (c / SOCKETS_PER_USER, c % SOCKETS_PER_USER);
        let ws = open(nodes[(u + k) % nodes.len()], &tokens[u]).await;
        let seen = seen.clone();
        tokio::spawn(async move {
            let (_, mut read) = ws.split();
            while let Some(Ok(frame)) = read.next().await {
                if let WsMessage::Text(text) = frame
                    && text.contains("\"type\":\"message\"")
                {
                    let event: Value = serde_json::from_str(&text).unwrap();
                    seen.lock().await.push((event["content"].as_str().unwrap_or("").to_owned(), Instant::now()));
                }
            }
        });
        sockets += 1;
    }
    Setup { users, tokens, rooms, seen, sockets }
}

/// Sends `rate` messages per second for `seconds` from one user per room (round-robin), each
/// through a socket on the next node; the delivery latencies (µs) and how many were expected.
async fn latency(nodes: &[&Node], setup: &Setup, rate: u64, seconds: u64) -> (Vec<u64>, usize) {
    let mut senders = Vec::new();
    for r in 0..setup.rooms {
        // User r is in room r (users are assigned to rooms round-robin).
        let ws = open(nodes[r % nodes.len()], &setup.tokens[r]).await;
        let (write, mut read) = ws.split();
        tokio::spawn(async move { while let Some(Ok(_)) = read.next().await {} });
        senders.push(write);
    }
    setup.seen.lock().await.clear();
    let members = |r: usize| (0..setup.users.len()).filter(|u| u % setup.rooms == r).count() * SOCKETS_PER_USER;
    let total = rate * seconds;
    let mut sent_at = HashMap::new();
    let mut expected = 0;
    let started = Instant::now();
    for i in 0..total as usize {
        let r = i % setup.rooms;
        let content = format!("lat{i}");
        let frame =
            json!({"type": "send_message", "room": format!("group:r{r}"), "content": content, "client_id": content});
        sent_at.insert(content, Instant::now());
        senders[r].send(WsMessage::text(frame.to_string())).await.unwrap();
        expected += members(r).min(setup.sockets);
        tokio::time::sleep_until((started + Duration::from_micros(1_000_000 * (i as u64 + 1) / rate)).into()).await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while setup.seen.lock().await.len() < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seen = setup.seen.lock().await;
    let micros = seen.iter().filter_map(|(c, at)| Some((*at - *sent_at.get(c)?).as_micros() as u64)).collect();
    (micros, expected)
}

/// One closed-loop sender per room (send, wait for its ack, again) for `seconds`: the acks,
/// and per second.
async fn throughput(nodes: &[&Node], setup: &Setup, seconds: u64, tag: &str) -> (u64, f64) {
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for r in 0..setup.rooms {
        let mut ws = open(nodes[r % nodes.len()], &setup.tokens[r]).await;
        let tag = tag.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut acks = 0u64;
            while Instant::now() < until {
                let id = format!("{tag}-{r}-{acks}");
                let frame =
                    json!({"type": "send_message", "room": format!("group:r{r}"), "content": id, "client_id": id});
                ws.send(WsMessage::text(frame.to_string())).await.unwrap();
                while ws_next(&mut ws).await["type"] != "ack" {}
                acks += 1;
            }
            acks
        }));
    }
    let started = Instant::now();
    let mut acks = 0;
    for t in tasks {
        acks += t.await.unwrap();
    }
    (acks, acks as f64 / started.elapsed().as_secs_f64())
}

fn report(what: &str, micros: &mut [u64], expected: usize, rate: f64) {
    eprintln!(
        "{what}: send→receive p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} of {expected} deliveries); closed-loop throughput {rate:.0} acknowledged messages/s",
        pct(micros, 0.5),
        pct(micros, 0.99),
        pct(micros, 1.0),
        micros.len(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn bench_thousand_clients_cluster_and_single_node() {
    let clients = env_or("CHAT_BENCH_CLIENTS", 1_000) as usize;
    let rate = env_or("CHAT_BENCH_RATE", 100);
    let seconds = env_or("CHAT_BENCH_SECONDS", 10);

    // One node, no --cluster.
    let dir = tempfile::tempdir().unwrap();
    {
        let single = Node::start_with(dir.path(), None, "single", &OPEN_LIMITS);
        ready(&single).await;
        let nodes = [&single];
        let setup = populate(&nodes, clients).await;
        let (mut micros, expected) = latency(&nodes, &setup, rate, seconds).await;
        let (_, tput) = throughput(&nodes, &setup, seconds, "single").await;
        report(
            &format!("single node, {} clients, {rate} messages/s for {seconds} s", setup.sockets),
            &mut micros,
            expected,
            tput,
        );
    }

    // Three cluster nodes.
    let nats = Nats::start(dir.path());
    let mut nodes: Vec<Node> =
        ["c1", "c2", "c3"].iter().map(|id| Node::start_with(dir.path(), Some(&nats), id, &OPEN_LIMITS)).collect();
    leader(&nodes.iter().collect::<Vec<_>>()).await;
    let setup = {
        let refs: Vec<&Node> = nodes.iter().collect();
        let setup = populate(&refs, clients).await;
        let (mut micros, expected) = latency(&refs, &setup, rate, seconds).await;
        let (_, tput) = throughput(&refs, &setup, seconds, "cluster").await;
        report(
            &format!("3 nodes, {} clients, {rate} messages/s for {seconds} s", setup.sockets),
            &mut micros,
            expected,
            tput,
        );
        setup
    };

    // Catch-up: a follower stops, the others take messages, it restarts on its old copy.
    let l = leader(&nodes.iter().collect::<Vec<_>>()).await;
    let f = (l + 1) % 3;
    nodes[f].stop();
    let others: Vec<&Node> = (0..3).filter(|i| *i != f).map(|i| &nodes[i]).collect();
    let before = position(&nodes[l]).await.unwrap();
    let (missed, _) = throughput(&others, &setup, seconds, "catchup").await;
    let target = position(&nodes[l]).await.unwrap();
    let started = Instant::now();
    nodes[f].spawn();
    caught_up(&nodes[f], target).await;
    let took = started.elapsed();
    eprintln!(
        "catch-up: {} restarted on its old copy folded {missed} messages ({} log records) in {:.2} s from process start: {:.0} messages/s",
        nodes[f].id,
        target - before,
        took.as_secs_f64(),
        missed as f64 / took.as_secs_f64(),
    );
    for node in &mut nodes {
        node.stop();
    }
}
