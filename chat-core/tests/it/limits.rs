//! Rate limits and abuse: refusals, then a close; the clock drives refills.

use chat_core::{Config, ErrorCode};

use crate::sim::*;

#[test]
fn send_rate_is_limited_per_session_and_refills_with_time() {
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
    // Another session of the same user has its own bucket.
    let a2 = sim.connect("alice");
    sim.take(a2);
    sim.recv(a2, send("group:lobby", "other device"));
    assert!(errors(&sim.take(a2)).is_empty());
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
        if sim.closed.contains(&a) {
            break;
        }
        sim.recv(a, chat_core::ClientMsg::ListRooms(Default::default()));
    }
    assert_eq!(sim.closed, [a]);
    assert!(!sim.chat.is_online(&user("alice")));
}
