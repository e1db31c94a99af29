//! Unread and highlight counts, read cursors, multi-device sync and read receipts.

use chat_core::{ClientMsg, ServerMsg};

use crate::sim::*;

#[test]
fn unread_counts_follow_cursors_and_never_go_back() {
    let mut sim = Sim::new();
    let a = sim.connect("alice");
    let b = sim.connect("bob");
    sim.recv(a, join("group:lobby"));
    sim.recv(b, join("group:lobby"));
    for text in ["one", "two @bob", "three", "four @bob"] {
        sim.recv(a, send("group:lobby", text));
    }
    let lobby = "group:lobby".parse().unwrap();
    let bob = user("bob");
    let u = sim.chat().unread(&bob, &lobby).unwrap();
    assert_eq!((u.read_seq, u.unread, u.highlight), (0, 4, 2));
    assert_eq!(sim.chat().unread(&user("alice"), &lobby).unwrap().unread, 0, "own messages are read");

    sim.recv(b, ClientMsg::MarkRead { room: room("group:lobby"), seq: Some(2) });
    let u = sim.chat().unread(&bob, &lobby).unwrap();
    assert_eq!((u.read_seq, u.unread, u.highlight), (2, 2, 1));
    sim.recv(b, ClientMsg::MarkRead { room: room("group:lobby"), seq: Some(1) });
    assert_eq!(sim.chat().unread(&bob, &lobby).unwrap().read_seq, 2, "cursors only move forward");
    sim.recv(b, ClientMsg::MarkRead { room: room("group:lobby"), seq: Some(99) });
    let u = sim.chat().unread(&bob, &lobby).unwrap();
    assert_eq!((u.read_seq, u.unread, u.highlight), (4, 0, 0), "clamped to the latest message");
}

#[test]
fn joining_late_does_not_make_old_history_unread() {
    let mut sim = Sim::new();
    let a = sim.connect("alice");
    sim.recv(a, join("group:lobby"));
    sim.recv(a, send("group:lobby", "before bob"));
    let b = sim.connect("bob");
    sim.recv(b, join("group:lobby"));
    let lobby = "group:lobby".parse().unwrap();
    assert_eq!(sim.chat().unread(&user("bob"), &lobby).unwrap().unread, 0);
    sim.recv(a, send("group:lobby", "after"));
    assert_eq!(sim.chat().unread(&user("bob"), &lobby).unwrap().unread, 1);
}

#[test]
fn every_dm_message_is_a_highlight() {
    let mut sim = Sim::new();
    let a = sim.connect("alice");
    let _b = sim.connect("bob");
    sim.recv(a, send("dm:alice:bob", "one"));
    sim.recv(a, send("dm:alice:bob", "two"));
    let u = sim.chat().unread(&user("bob"), &"dm:alice:bob".parse().unwrap()).unwrap();
    assert_eq!((u.unread, u.highlight), (2, 2));
}

#[test]
fn reading_syncs_other_devices_and_sends_receipts() {
    let mut sim = Sim::new();
    let a = sim.connect("alice");
    let b_phone = sim.connect("bob");
    let b_laptop = sim.connect("bob");
    sim.recv(a, join("group:lobby"));
    sim.recv(b_phone, join("group:lobby"));
    sim.recv(a, send("group:lobby", "hi"));
    for s in [a, b_phone, b_laptop] {
        sim.take(s);
    }
    sim.recv(b_phone, ClientMsg::MarkRead { room: room("group:lobby"), seq: None });
    let phone = sim.take(b_phone);
    assert!(matches!(&phone[..], [ServerMsg::ReadState { read_seq: 1, unread: 0, .. }]), "{phone:?}");
    let laptop = sim.take(b_laptop);
    assert!(matches!(&laptop[..], [ServerMsg::ReadState { read_seq: 1, .. }]), "{laptop:?}");
    let alice = sim.take(a);
    assert!(
        matches!(&alice[..], [ServerMsg::ReadReceipt { username, seq: 1, .. }] if username.as_str() == "bob"),
        "{alice:?}"
    );
    // A reconnecting client learns the other members' cursors when it opens the room
    // (`room_users`); `connected` stays small and carries none.
    let a2 = sim.connect("alice");
    let frames = sim.take(a2);
    let ServerMsg::Connected { rooms, .. } = &frames[0] else { panic!("{frames:?}") };
    assert!(rooms[0].read_receipts.is_empty() && rooms[0].users.is_empty(), "{rooms:?}");
    sim.recv(a2, ClientMsg::RoomUsers { room: room("group:lobby") });
    let frames = sim.take(a2);
    let [ServerMsg::RoomUsersUpdate { read_receipts, .. }] = &frames[..] else { panic!("{frames:?}") };
    let receipts: Vec<(String, u64)> = read_receipts.iter().map(|r| (r.username.to_string(), r.seq)).collect();
    assert_eq!(receipts, [("bob".to_string(), 1)], "others only, with their cursor");
}

#[test]
fn counts_survive_a_restart() {
    let mut sim = Sim::new();
    let a = sim.connect("alice");
    let b = sim.connect("bob");
    sim.recv(a, join("group:lobby"));
    sim.recv(b, join("group:lobby"));
    sim.recv(a, send("group:lobby", "@bob one"));
    sim.recv(a, send("group:lobby", "two"));
    let before = sim.chat().snapshot().clone();
    sim.restart();
    assert_eq!(sim.chat().snapshot(), &before);
    let b = sim.connect("bob");
    let frames = sim.take(b);
    let ServerMsg::Connected { rooms, unread_notifications, .. } = &frames[0] else { panic!() };
    assert_eq!((rooms[0].unread, rooms[0].highlight), (2, 1));
    assert_eq!(*unread_notifications, 1);
}
