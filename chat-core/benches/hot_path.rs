//! The hot path: messages through `Chat::handle` + a full drain of the outputs, into rooms of 50
//! online members, one message in ten with a mention.
//!
//! Run: `cargo bench -p chat-core --bench hot_path`
#![allow(missing_docs)]

use std::hint::black_box;

use chat_core::{Chat, ClientMsg, Config, Input, Output, RoomRef, SessionId, Timestamp, UserName};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const ROOMS: usize = 20;
const MEMBERS: usize = 50;

struct Setup {
    chat: Chat,
    rooms: Vec<RoomRef>,
    now: Timestamp,
}

fn setup() -> Setup {
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
            let user: UserName = format!("user{r}_{m}").parse().unwrap();
            chat.handle(now, Input::Connect { session, user });
            chat.handle(now, Input::Receive { session, msg: ClientMsg::JoinRoom { room: room.clone() } });
        }
        rooms.push(room);
    }
    while chat.poll_output().is_some() {}
    Setup { chat, rooms, now }
}

fn hot_path(c: &mut Criterion) {
    let mut group = c.benchmark_group("chat-core");
    group.throughput(Throughput::Elements(1));
    for with_client_id in [false, true] {
        let name = if with_client_id { "send+drain, 50 members, client ids" } else { "send+drain, 50 members" };
        let Setup { mut chat, rooms, now } = setup();
        let mut i: u64 = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                i += 1;
                let r = (i as usize) % ROOMS;
                let m = (i as usize / ROOMS) % MEMBERS;
                let session = SessionId((r * MEMBERS + m) as u64);
                let content = if i.is_multiple_of(10) {
                    format!("hey @user{r}_{} did you see the build? it is green now", (m + 1) % MEMBERS)
                } else {
                    "did you see the build? it is green now, shipping after lunch".to_owned()
                };
                let client_id = with_client_id.then(|| format!("c{i}"));
                let msg = ClientMsg::SendMessage { room: rooms[r].clone(), content, client_id };
                chat.handle(now, Input::Receive { session, msg });
                let mut deliveries = 0usize;
                while let Some(output) = chat.poll_output() {
                    if let Output::Deliver { sessions, .. } = &output {
                        deliveries += sessions.len();
                    }
                    black_box(&output);
                }
                assert!(deliveries >= MEMBERS);
                deliveries
            })
        });
    }
    group.finish();
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
