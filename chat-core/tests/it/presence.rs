//! Presence (`presence` deltas, `member_joined` / `member_left`) and typing indicators that expire through `poll_timeout`.

use chat_core::{ClientMsg, ServerMsg};

use crate::sim::*;

fn typing_frames(frames: &[ServerMsg]) -> Vec<(String, bool)> {
    frames
        .iter()
        .filter_map(|f| match f {
            ServerMsg::Typing { username, active, .. } => Some((username.to_string(), *active)),
            _ => None,
        })
        .collect()
}

#[test]
fn typing_expires_after_the_ttl() {
    let (mut sim, a, b) = two_in_lobby();
    sim.recv(a, ClientMsg::Typing { room: room("group:lobby"), active: true });
    assert_eq!(typing_frames(&sim.take(b)), [("alice".into(), true)]);
    assert!(typing_frames(&sim.take(a)).is_empty(), "the typist is not told");
    let deadline = sim.chat().poll_timeout().expect("typing sets a timer");
    assert_eq!(deadline.millis_since(sim.now()), sim.config().typing_ttl_ms);

    sim.advance(2_000);
    sim.recv(a, ClientMsg::Typing { room: room("group:lobby"), active: true }); // refresh: no new frame
    assert!(typing_frames(&sim.take(b)).is_empty());
    sim.advance(4_000);
    assert!(typing_frames(&sim.take(b)).is_empty(), "refreshed, so not expired yet");
    sim.advance(1_500);
    assert_eq!(typing_frames(&sim.take(b)), [("alice".into(), false)]);
    assert_eq!(sim.chat().poll_timeout(), None);
}

#[test]
fn presence_follows_the_first_and_last_session() {
    let mut sim = Sim::new();
    let a = sim.connect("alice");
    let b1 = sim.connect("bob");
    sim.recv(a, join("group:lobby"));
    sim.recv(b1, join("group:lobby"));
    sim.take(a);
    let online = |frames: &[ServerMsg]| -> Vec<bool> {
        frames
            .iter()
            .filter_map(|f| match f {
                ServerMsg::Presence { username, online } if username.as_str() == "bob" => Some(*online),
                _ => None,
            })
            .collect()
    };
    let b2 = sim.connect("bob");
    assert!(online(&sim.take(a)).is_empty(), "a second session changes nothing");
    sim.disconnect(b1);
    assert!(online(&sim.take(a)).is_empty());
    sim.disconnect(b2);
    assert_eq!(online(&sim.take(a)), [false]);
    let _b3 = sim.connect("bob");
    assert_eq!(online(&sim.take(a)), [true]);
}

#[test]
fn a_disconnect_ends_typing() {
    let (mut sim, a, b) = two_in_lobby();
    sim.recv(a, ClientMsg::Typing { room: room("group:lobby"), active: true });
    sim.take(b);
    sim.disconnect(a);
    assert_eq!(typing_frames(&sim.take(b)), [("alice".into(), false)]);
    assert_eq!(sim.chat().poll_timeout(), None);
}
