//! History pages (members only) and resume after reconnect.

use chat_core::{ClientMsg, Config, ErrorCode, ServerMsg};

use crate::sim::*;

fn page(frames: &[ServerMsg]) -> Vec<u64> {
    frames
        .iter()
        .find_map(|f| match f {
            ServerMsg::History { messages, .. } => Some(messages.iter().map(|m| m.seq).collect()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no history frame in {frames:?}"))
}

fn history(before: Option<u64>, after: Option<u64>, limit: Option<u32>) -> ClientMsg {
    ClientMsg::History { room: room("group:lobby"), before, after, limit }
}

#[test]
fn pages_by_seq() {
    let mut sim = Sim::new();
    let a = sim.connect("alice");
    sim.recv(a, join("group:lobby"));
    for i in 1..=30 {
        sim.recv(a, send("group:lobby", &format!("m{i}")));
        sim.advance(1_000);
    }
    sim.take(a);
    sim.recv(a, history(None, None, Some(5)));
    assert_eq!(page(&sim.take(a)), [26, 27, 28, 29, 30]);
    sim.recv(a, history(Some(26), None, Some(5)));
    assert_eq!(page(&sim.take(a)), [21, 22, 23, 24, 25]);
    sim.recv(a, history(None, Some(28), None));
    assert_eq!(page(&sim.take(a)), [29, 30]);
    sim.recv(a, history(Some(3), None, None));
    assert_eq!(page(&sim.take(a)), [1, 2]);
    sim.recv(a, history(None, None, Some(101)));
    sim.recv(a, history(Some(1), Some(1), None));
    assert_eq!(errors(&sim.take(a)), [ErrorCode::InvalidRequest, ErrorCode::InvalidRequest]);
}

#[test]
fn resume_sends_exactly_what_was_missed() {
    let mut sim = Sim::new();
    let a = sim.connect("alice");
    let b = sim.connect("bob");
    sim.recv(a, join("group:lobby"));
    sim.recv(b, join("group:lobby"));
    for i in 1..=3 {
        sim.recv(a, send("group:lobby", &format!("m{i}")));
    }
    let seen_by_b = messages(&sim.take(b)).last().map(|m| m.1).unwrap();
    assert_eq!(seen_by_b, 3);
    sim.disconnect(b);
    for i in 4..=7 {
        sim.recv(a, send("group:lobby", &format!("m{i}")));
    }
    let b = sim.connect("bob");
    sim.recv(a, send("group:lobby", "m8 live")); // arrives live before the resume
    sim.recv(
        b,
        ClientMsg::Resume { rooms: vec![chat_core::protocol::ResumePoint { room: "group:lobby".into(), last_seq: 3 }] },
    );
    let frames = sim.take(b);
    let live: Vec<u64> = messages(&frames).iter().map(|m| m.1).collect();
    assert_eq!(live, [8]);
    let resumed: Vec<&ServerMsg> =
        frames.iter().filter(|f| matches!(f, ServerMsg::History { resume: true, .. })).collect();
    assert_eq!(resumed.len(), 1);
    assert_eq!(page(&frames), [4, 5, 6, 7], "exactly the gap, no duplicate of the live message");
}

#[test]
fn resume_beyond_the_bound_is_an_explicit_reset() {
    let mut config = Config::default();
    config.resume_limit = 3;
    config.send_burst = 100;
    let mut sim = Sim::with_config(config);
    let a = sim.connect("alice");
    sim.recv(a, join("group:lobby"));
    for i in 1..=10 {
        sim.recv(a, send("group:lobby", &format!("m{i}")));
    }
    let b = sim.connect("alice");
    sim.take(b);
    sim.recv(
        b,
        ClientMsg::Resume { rooms: vec![chat_core::protocol::ResumePoint { room: "group:lobby".into(), last_seq: 2 }] },
    );
    let frames = sim.take(b);
    assert!(matches!(&frames[..], [ServerMsg::ResumeReset { latest_seq: 10, .. }]), "{frames:?}");
    sim.recv(
        b,
        ClientMsg::Resume { rooms: vec![chat_core::protocol::ResumePoint { room: "group:lobby".into(), last_seq: 7 }] },
    );
    assert_eq!(page(&sim.take(b)), [8, 9, 10]);
}

#[test]
fn history_of_a_room_you_left_is_refused_even_if_the_load_was_in_flight() {
    let mut sim = Sim::new();
    let a = sim.connect("alice");
    let b = sim.connect("bob");
    sim.recv(a, join("group:lobby"));
    sim.recv(b, join("group:lobby"));
    sim.recv(a, send("group:lobby", "secret-ish"));
    sim.take(b);
    // Bob asks for history and leaves before the driver answers the load.
    sim.chat.handle(sim.now, chat_core::Input::Receive { session: b, msg: history(None, None, None) });
    sim.chat.handle(
        sim.now,
        chat_core::Input::Receive { session: b, msg: ClientMsg::LeaveRoom { room: room("group:lobby") } },
    );
    sim.drain();
    let frames = sim.take(b);
    assert!(frames.iter().all(|f| !matches!(f, ServerMsg::History { .. })), "{frames:?}");
    assert!(errors(&frames).contains(&ErrorCode::NotAMember));
}
