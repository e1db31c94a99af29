//! Messages: gap-free seq, timestamps, limits, idempotent retries, mentions.

use chat_core::{ClientMsg, Config, ErrorCode, ServerMsg, Timestamp};

use crate::sim::*;

#[test]
fn seq_is_gap_free_and_acks_follow_commit() {
    let (mut sim, a, b) = two_in_lobby();
    for i in 0..5 {
        sim.recv(if i % 2 == 0 { a } else { b }, send("group:lobby", &format!("m{i}")));
        sim.advance(10);
    }
    let seen: Vec<u64> = messages(&sim.take(a)).iter().map(|m| m.1).collect();
    assert_eq!(seen, [1, 2, 3, 4, 5]);
    // Every ack and message was carried out after its Persist in the trace.
    let mut persisted = std::collections::BTreeSet::new();
    for event in sim.trace() {
        match event {
            Event::Persist(chat_core::LogEntry::Message(m)) => {
                persisted.insert(m.seq);
            }
            Event::Deliver(_, msg) => match &**msg {
                ServerMsg::Message(m) => assert!(persisted.contains(&m.seq)),
                ServerMsg::Ack { seq, .. } => assert!(persisted.contains(seq)),
                _ => {}
            },
            _ => {}
        }
    }
}

#[test]
fn timestamps_never_go_back() {
    let (mut sim, a, _) = two_in_lobby();
    sim.recv(a, send("group:lobby", "first"));
    sim.set_now(Timestamp(sim.now().0 - 60_000)); // the driver's clock jumped back
    sim.recv(a, send("group:lobby", "second"));
    let ts: Vec<Timestamp> = sim
        .take(a)
        .iter()
        .filter_map(|f| match f {
            ServerMsg::Message(m) => Some(m.timestamp),
            _ => None,
        })
        .collect();
    assert_eq!(ts.len(), 2);
    assert!(ts[1] >= ts[0]);
}

#[test]
fn empty_and_oversized_messages_are_refused_and_store_nothing() {
    let mut config = Config::default();
    config.max_message_chars = 10;
    let mut sim = Sim::with_config(config);
    let a = sim.connect("alice");
    sim.recv(a, join("group:lobby"));
    sim.take(a);
    sim.recv(a, send("group:lobby", "   \n\t "));
    sim.recv(a, send("group:lobby", "ééééééééééé")); // 11 chars
    sim.recv(a, send("group:lobby", "éééééééééé")); // 10 chars: fine
    let frames = sim.take(a);
    assert_eq!(errors(&frames), [ErrorCode::EmptyMessage, ErrorCode::MessageTooLong]);
    assert_eq!(messages(&frames).len(), 1);
    assert_eq!(messages(&frames)[0].1, 1, "refusals consume no seq");
}

#[test]
fn retries_with_a_client_id_store_once_even_across_restart() {
    let (mut sim, a, b) = two_in_lobby();
    let msg = ClientMsg::SendMessage {
        attachments: Vec::new(),
        room: room("group:lobby"),
        content: "once".into(),
        client_id: Some("c-1".into()),
        reply_to: None,
    };
    sim.recv(a, msg.clone());
    sim.recv(a, msg.clone());
    let acks: Vec<(u64, bool)> = sim.take_where(a, |f| match f {
        ServerMsg::Ack { seq, duplicate, .. } => Some((*seq, *duplicate)),
        _ => None,
    });
    assert_eq!(acks, [(1, false), (1, true)]);
    assert_eq!(messages(&sim.take(b)).len(), 1);

    sim.restart();
    let a = sim.connect("alice");
    sim.take(a);
    sim.recv(a, msg);
    let frames = sim.take(a);
    assert!(frames.iter().any(|f| matches!(f, ServerMsg::Ack { seq: 1, duplicate: true, .. })), "{frames:?}");
    assert!(messages(&frames).is_empty());
    assert_eq!(sim.chat().room(&"group:lobby".parse().unwrap()).unwrap().last_seq(), 1);
}

#[test]
fn mentions_resolve_to_members_once_per_message() {
    let mut sim = Sim::new();
    let a = sim.connect("alice");
    let b = sim.connect("bob");
    let c = sim.connect("carol");
    sim.recv(a, join("group:lobby"));
    sim.recv(b, join("group:lobby"));
    let _ = c; // carol is not a member
    sim.take(a);
    sim.take(b);
    sim.recv(a, send("group:lobby", "@Bob @bob @carol @alice mail bob@example.com `@bob`"));
    let frames = sim.take(b);
    let m = frames
        .iter()
        .find_map(|f| match f {
            ServerMsg::Message(m) => Some(m.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(m.mentions, [user("bob")], "members only, sender excluded, once");
    let notes = frames.iter().filter(|f| matches!(f, ServerMsg::MentionNotification(_))).count();
    assert_eq!(notes, 1);
    assert!(sim.take(c).iter().all(|f| !matches!(f, ServerMsg::MentionNotification(_))));
}

#[test]
fn at_room_and_at_here() {
    let mut sim = Sim::new();
    let a = sim.connect("alice");
    let b = sim.connect("bob");
    let c = sim.connect("carol");
    for s in [a, b, c] {
        sim.recv(s, join("group:lobby"));
    }
    sim.disconnect(c);
    sim.recv(a, send("group:lobby", "@here lunch?"));
    sim.recv(a, send("group:lobby", "@room lunch!"));
    let lobby = "group:lobby".parse().unwrap();
    assert_eq!(sim.chat().unread(&user("bob"), &lobby).unwrap().highlight, 2);
    assert_eq!(sim.chat().unread(&user("carol"), &lobby).unwrap().highlight, 1, "@here skips offline members");
    assert_eq!(sim.chat().unread(&user("alice"), &lobby).unwrap().highlight, 0);
}

#[test]
fn sending_to_a_room_you_are_not_in_is_refused() {
    let (mut sim, _, _) = two_in_lobby();
    let c = sim.connect("carol");
    sim.take(c);
    sim.recv(c, send("group:lobby", "hi"));
    sim.recv(c, send("group:nowhere", "hi"));
    sim.recv(c, send("lobby", "hi"));
    assert_eq!(errors(&sim.take(c)), [ErrorCode::NotAMember, ErrorCode::RoomNotFound, ErrorCode::InvalidRoom]);
}

#[test]
fn errors_for_sends_carry_the_client_id() {
    let (mut sim, a, _) = two_in_lobby();
    sim.recv(
        a,
        ClientMsg::SendMessage {
            attachments: Vec::new(),
            room: room("group:lobby"),
            content: " ".into(),
            client_id: Some("x".into()),
            reply_to: None,
        },
    );
    let frames = sim.take(a);
    assert!(matches!(&frames[..], [ServerMsg::Error { client_id: Some(id), .. }] if id == "x"), "{frames:?}");
}
