//! Rate limits and abuse: refusals, then a close; the clock drives refills.

use chat_core::{Config, ErrorCode};
use proptest::strategy::Strategy;

use crate::sim::*;

#[test]
fn send_rate_is_limited_per_user_and_refills_with_time() {
    let mut config = Config::default();
    config.send_burst = 3;
    config.send_rate_per_sec = 1;
    let mut sim = Sim::with_config(config);
    let a = sim.connect("alice");
    sim.recv(a, join("group:lobby"));
    sim.take(a);
    for i in 0..5 {
        sim.recv(a, send("group:lobby", &format!("m{i}")));
    }
    let frames = sim.take(a);
    assert_eq!(messages(&frames).len(), 3);
    assert_eq!(errors(&frames), [ErrorCode::RateLimited, ErrorCode::RateLimited]);
    sim.advance(1_000);
    sim.recv(a, send("group:lobby", "after a second"));
    assert_eq!(messages(&sim.take(a)).len(), 1);
    // Another session of the same user shares the bucket: a second device is no way around it.
    let a2 = sim.connect("alice");
    sim.take(a2);
    sim.recv(a2, send("group:lobby", "other device"));
    assert_eq!(errors(&sim.take(a2)), [ErrorCode::RateLimited]);
    // Nor is a REST request, nor a reconnect.
    let reply = sim.request("alice", send("group:lobby", "via rest"));
    assert!(matches!(reply, chat_core::ServerMsg::Error { code: ErrorCode::RateLimited, .. }), "{reply:?}");
    sim.disconnect(a);
    sim.disconnect(a2);
    let a3 = sim.connect("alice");
    sim.take(a3);
    sim.recv(a3, send("group:lobby", "new socket"));
    assert_eq!(errors(&sim.take(a3)), [ErrorCode::RateLimited]);
    sim.advance(1_000);
    sim.recv(a3, send("group:lobby", "a second later"));
    assert!(errors(&sim.take(a3)).is_empty());
}

#[test]
fn fifteen_sessions_of_one_user_share_one_burst() {
    let mut sim = Sim::new();
    let sessions: Vec<_> = (0..15).map(|_| sim.connect("alice")).collect();
    sim.recv(sessions[0], join("group:lobby"));
    for s in &sessions {
        sim.take(*s);
    }
    for i in 0..300 {
        sim.recv(sessions[i % 15], send("group:lobby", &format!("m{i}")));
    }
    let stored = sim.journal().entries().iter().filter(|e| matches!(e, chat_core::LogEntry::Message(_))).count();
    assert_eq!(stored, sim.config().send_burst as usize, "one burst for the user, not one per session");
}

#[test]
fn the_sessions_cap_closes_the_next_connect_with_too_many_sessions() {
    let mut config = Config::default();
    config.max_sessions_per_user = 3;
    let mut sim = Sim::with_config(config);
    let first: Vec<_> = (0..3).map(|_| sim.connect("alice")).collect();
    let b = sim.connect("bob");
    sim.take(b);
    let extra = sim.connect("alice");
    assert_eq!(sim.closed(), [extra]);
    let told = sim.trace().iter().any(|e| {
        matches!(e, crate::sim::Event::Deliver(to, msg) if to == &[extra]
            && matches!(&**msg, chat_core::ServerMsg::Error { code: ErrorCode::TooManySessions, .. }))
    });
    assert!(told, "the refused session is told why");
    assert!(sim.trace().iter().any(|e| matches!(e, crate::sim::Event::Close(s) if *s == extra)));
    assert_eq!(sim.chat().sessions_of(&user("alice")), &first[..], "the live ones are untouched");
    assert!(sim.take(b).is_empty(), "no presence change for the refused session");
    // Once one goes, a new one is accepted.
    sim.disconnect(first[0]);
    let again = sim.connect("alice");
    assert!(matches!(sim.take(again).first(), Some(chat_core::ServerMsg::Connected { .. })));
    assert_eq!(sim.chat().sessions_of(&user("alice")).len(), 3);
}

#[test]
fn a_flooding_session_is_closed() {
    let mut config = Config::default();
    config.op_burst = 1;
    config.op_rate_per_sec = 1;
    config.max_strikes = 5;
    let mut sim = Sim::with_config(config);
    let a = sim.connect("alice");
    for _ in 0..10 {
        if sim.closed().contains(&a) {
            break;
        }
        sim.recv(a, chat_core::ClientMsg::ListRooms(Default::default()));
    }
    assert_eq!(sim.closed(), [a]);
    assert!(!sim.chat().is_online(&user("alice")));
}

#[derive(Debug, Clone)]
enum Op {
    /// A send from live session `i` (0..3), or a REST request (3).
    Send(usize),
    Reconnect(usize),
    Advance(u64),
}

proptest::proptest! {
    /// All of one user's sessions and requests draw from one bucket, exactly as a naive token
    /// bucket (burst 5, 2 per second) predicts; reconnecting refills nothing.
    #[test]
    fn one_bucket_per_user_whatever_the_sessions(ops in proptest::collection::vec(
        proptest::prop_oneof![
            6 => (0usize..4).prop_map(Op::Send),
            1 => (0usize..3).prop_map(Op::Reconnect),
            2 => (0u64..1_500).prop_map(Op::Advance),
        ],
        1..80,
    )) {
        use proptest::prelude::*;
        let mut config = Config::default();
        config.send_burst = 5;
        config.send_rate_per_sec = 2;
        config.max_strikes = 10_000;
        let mut sim = Sim::with_config(config);
        let mut live: Vec<_> = (0..3).map(|_| sim.connect("alice")).collect();
        sim.recv(live[0], join("group:lobby"));
        let (mut milli, burst) = (5_000u64, 5_000u64);
        let mut last = sim.now();
        let mut n = 0;
        for op in &ops {
            match op {
                Op::Send(i) => {
                    let elapsed = sim.now().millis_since(last);
                    last = sim.now();
                    milli = (milli + elapsed * 2).min(burst);
                    let expect = milli >= 1_000;
                    if expect {
                        milli -= 1_000;
                    }
                    let before = sim.journal().entries().len();
                    n += 1;
                    let msg = send("group:lobby", &format!("m{n}"));
                    if *i == 3 {
                        sim.request("alice", msg);
                    } else {
                        sim.recv(live[*i], msg);
                    }
                    let stored = sim.journal().entries()[before..].iter().any(|e| matches!(e, chat_core::LogEntry::Message(_)));
                    prop_assert_eq!(stored, expect, "after {:?}", op);
                }
                Op::Reconnect(i) => {
                    sim.disconnect(live[*i]);
                    live[*i] = sim.connect("alice");
                }
                Op::Advance(ms) => sim.advance(*ms),
            }
        }
    }
}
