//! The cost of the message lifecycle through `Chat::handle`: one edit, one deletion, one
//! reaction (each: handle + drain + commit to a `MemoryJournal` + the target's load answered +
//! drain again, in a room of 50 online members), and a resume that replays 500 mixed events
//! (200 new messages, 150 edits, 100 reactions, 50 deletions) to a reconnecting client.
//!
//! Run: `cargo bench -p chat-core --bench lifecycle`
#![allow(missing_docs)]

use std::time::{Duration, Instant};

use chat_core::protocol::ResumePoint;
use chat_core::{
    Chat, ClientMsg, Config, Input, Journal, LoadError, MemoryJournal, Output, RoomRef, SessionId, Timestamp,
};
use criterion::{Criterion, criterion_group, criterion_main};

const MEMBERS: u64 = 50;

struct Bench {
    chat: Chat,
    journal: MemoryJournal,
    now: Timestamp,
    next_session: u64,
}

fn lobby() -> RoomRef {
    RoomRef { room: Some("group:lobby".into()), ..RoomRef::default() }
}

impl Bench {
    fn new() -> Bench {
        let mut config = Config::default();
        (config.send_rate_per_sec, config.send_burst, config.op_rate_per_sec, config.op_burst) =
            (u32::MAX / 2000, u32::MAX / 2000, u32::MAX / 2000, u32::MAX / 2000);
        let mut b = Bench {
            chat: Chat::new(config),
            journal: MemoryJournal::new(),
            now: Timestamp(1_700_000_000_000),
            next_session: 1,
        };
        for i in 0..MEMBERS {
            let s = b.connect(&format!("u{i}"));
            b.run(Input::Receive { session: s, msg: ClientMsg::JoinRoom { room: lobby() } });
        }
        b
    }

    fn connect(&mut self, user: &str) -> SessionId {
        let session = SessionId(self.next_session);
        self.next_session += 1;
        self.run(Input::Connect { session, user: user.parse().unwrap() });
        session
    }

    /// Handles one input and drives the core until quiescent; returns the deliveries.
    fn run(&mut self, input: Input) -> usize {
        self.now = self.now.plus_millis(1);
        self.chat.handle(self.now, input);
        let mut deliveries = 0;
        loop {
            let drain = self.chat.drain();
            if drain.is_empty() {
                return deliveries;
            }
            let mut loads = Vec::new();
            for output in drain.commit(&mut self.journal).expect("memory journal") {
                match output {
                    Output::Deliver { sessions, .. } => deliveries += sessions.len(),
                    Output::Load { load, query } => loads.push((load, query)),
                    _ => {}
                }
            }
            for (load, query) in loads {
                let result = self.journal.history(&query).map_err(LoadError::journal);
                self.chat.handle(self.now, Input::Loaded { load, result });
            }
        }
    }

    fn say(&mut self, from: SessionId, content: String) {
        self.run(Input::Receive {
            session: from,
            msg: ClientMsg::SendMessage {
                attachments: Vec::new(),
                room: lobby(),
                content,
                client_id: None,
                reply_to: None,
            },
        });
    }
}

fn lifecycle(c: &mut Criterion) {
    let mut group = c.benchmark_group("chat-core lifecycle");
    let a = SessionId(1);

    let mut b = Bench::new();
    for i in 0..100 {
        b.say(a, format!("message {i} for @u1"));
    }
    let mut i = 0u64;
    group.bench_function("edit: handle+load+drain, 50 members", |bench| {
        bench.iter(|| {
            i += 1;
            let content = format!("edited {i} @u{}", i % 3);
            b.run(Input::Receive {
                session: a,
                msg: ClientMsg::EditMessage { room: lobby(), seq: 1 + i % 100, content, client_id: None },
            })
        })
    });

    let mut b = Bench::new();
    b.say(a, "react to me".into());
    let mut add = false;
    group.bench_function("react: handle+load+drain, 50 members", |bench| {
        bench.iter(|| {
            add = !add;
            b.run(Input::Receive {
                session: SessionId(2),
                msg: ClientMsg::React { room: lobby(), seq: 1, emoji: "👍".into(), add },
            })
        })
    });

    let mut b = Bench::new();
    group.bench_function("delete: handle+load+drain, 50 members", |bench| {
        bench.iter_custom(|iters| {
            let first = b.chat.room(&"group:lobby".parse().unwrap()).map_or(0, |r| r.last_seq()) + 1;
            for i in 0..iters {
                b.say(a, format!("doomed {i} @u2"));
            }
            let start = Instant::now();
            for seq in first..first + iters {
                b.run(Input::Receive { session: a, msg: ClientMsg::DeleteMessage { room: lobby(), seq } });
            }
            start.elapsed()
        })
    });

    // A client holding 300 messages, away for 500 events.
    let mut b = Bench::new();
    for i in 0..300 {
        b.say(a, format!("before {i}"));
    }
    let last_rev = b.chat.room(&"group:lobby".parse().unwrap()).unwrap().last_rev();
    for i in 0..200u64 {
        b.say(a, format!("while away {i}"));
        if i < 150 {
            b.run(Input::Receive {
                session: a,
                msg: ClientMsg::EditMessage {
                    room: lobby(),
                    seq: 1 + i * 2,
                    content: format!("edited {i}"),
                    client_id: None,
                },
            });
        }
        if i < 100 {
            b.run(Input::Receive {
                session: SessionId(2),
                msg: ClientMsg::React { room: lobby(), seq: 2 + i * 2, emoji: "🎉".into(), add: true },
            });
        }
        if i < 50 {
            b.run(Input::Receive { session: a, msg: ClientMsg::DeleteMessage { room: lobby(), seq: 250 + i } });
        }
    }
    let resume = ClientMsg::Resume {
        rooms: vec![ResumePoint { room: "group:lobby".into(), last_seq: 300, last_rev: Some(last_rev) }],
    };
    group.bench_function("resume: 500 mixed events (updates + missed messages)", |bench| {
        bench.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let s = b.connect("u1");
                let start = Instant::now();
                let deliveries = b.run(Input::Receive { session: s, msg: resume.clone() });
                total += start.elapsed();
                assert!(deliveries >= 2, "update and history pages");
                b.run(Input::Disconnect { session: s });
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, lifecycle);
criterion_main!(benches);
