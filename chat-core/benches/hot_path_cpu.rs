//! CPU cost of the hot path, robust on a shared machine: sends N messages through
//! `Chat::handle` + a full drain into 20 rooms of 50 online members (one in ten with a mention)
//! and divides by this process's CPU time (user + system, from `/proc/self/stat`), so time spent
//! waiting for a core does not count.
//!
//! Run: `cargo bench -p chat-core --bench hot_path_cpu` (env `MESSAGES`, default 2,000,000;
//! `CLIENT_IDS=1` gives every message a client id, as the web client does).
#![allow(missing_docs)]

use chat_core::{Chat, ClientMsg, Config, Input, Output, RoomRef, SessionId, Timestamp, UserName};

const ROOMS: usize = 20;
const MEMBERS: usize = 50;

/// User + system CPU seconds of this process (Linux), if readable.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0) // USER_HZ is 100 on Linux
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` probes every bench binary
    }
    let n: u64 = std::env::var("MESSAGES").ok().and_then(|s| s.parse().ok()).unwrap_or(2_000_000);
    let client_ids = std::env::var_os("CLIENT_IDS").is_some();
    let mut config = Config::default();
    config.send_rate_per_sec = u32::MAX / 2;
    config.send_burst = u32::MAX / 2;
    let mut chat = Chat::new(config);
    let now = Timestamp(1_700_000_000_000);
    let mut rooms = Vec::new();
    for r in 0..ROOMS {
        let room = RoomRef { room: Some(format!("group:room{r}")), ..RoomRef::default() };
        for m in 0..MEMBERS {
            let session = SessionId((r * MEMBERS + m) as u64);
            let user: UserName = format!("user{r}_{m}").parse().expect("valid name");
            chat.handle(now, Input::Connect { session, user });
            chat.handle(now, Input::Receive { session, msg: ClientMsg::JoinRoom { room: room.clone() } });
        }
        rooms.push(room);
    }
    while chat.poll_output().is_some() {}

    let (cpu0, wall0) = (cpu_seconds(), std::time::Instant::now());
    let mut deliveries = 0usize;
    for i in 1..=n {
        let r = (i as usize) % ROOMS;
        let m = (i as usize / ROOMS) % MEMBERS;
        let session = SessionId((r * MEMBERS + m) as u64);
        let content = if i.is_multiple_of(10) {
            format!("hey @user{r}_{} did you see the build? it is green now", (m + 1) % MEMBERS)
        } else {
            "did you see the build? it is green now, shipping after lunch".to_owned()
        };
        let client_id = client_ids.then(|| format!("c{i}"));
        let msg = ClientMsg::SendMessage { room: rooms[r].clone(), content, client_id };
        chat.handle(now, Input::Receive { session, msg });
        while let Some(output) = chat.poll_output() {
            if let Output::Deliver { sessions, .. } = &output {
                deliveries += sessions.len();
            }
        }
    }
    let wall = wall0.elapsed().as_secs_f64();
    match (cpu0, cpu_seconds()) {
        (Some(a), Some(b)) if b > a => {
            let cpu = b - a;
            println!(
                "{n} messages ({}client ids), {deliveries} recipient deliveries: CPU {cpu:.2} s = {:.0} messages per CPU-second ({:.2} µs each); wall {wall:.2} s",
                if client_ids { "with " } else { "no " },
                n as f64 / cpu,
                cpu * 1e6 / n as f64
            );
        }
        _ => println!("{n} messages in {wall:.2} s wall ({:.0}/s); CPU time unavailable", n as f64 / wall),
    }
}
