//! The connect path is bounded: `connected` carries at most 100 light summaries, the rest follow
//! in `room_summaries` pages, so a user in many rooms is never sent more than a few events.

use chat_core::{ClientMsg, Config, LogEntry, RoomKind, ServerMsg, Timestamp};

use crate::sim::*;

/// `alice` and `bob` members of `n` public rooms, restored from a log (fast for big setups).
fn in_rooms(n: usize) -> Sim {
    let mut log = vec![LogEntry::UserAdded { user: user("alice") }, LogEntry::UserAdded { user: user("bob") }];
    for i in 0..n {
        let room: chat_core::RoomKey = format!("group:r{i:04}").parse().unwrap();
        log.push(LogEntry::RoomCreated {
            room: room.clone(),
            kind: RoomKind::Public,
            owner: None,
            timestamp: Timestamp(1),
        });
        log.push(LogEntry::MemberAdded { room: room.clone(), user: user("alice") });
        log.push(LogEntry::MemberAdded { room, user: user("bob") });
    }
    let mut journal = chat_core::MemoryJournal::new();
    chat_core::Journal::append(&mut journal, &log).unwrap();
    Sim::with_journal(Config::default(), journal)
}

#[test]
fn connected_is_paged_and_carries_no_member_lists() {
    let mut sim = in_rooms(250);
    let a = sim.connect("alice");
    let frames = sim.take(a);
    let [
        ServerMsg::Connected { rooms, more_rooms: true, .. },
        ServerMsg::RoomSummaries { rooms: p1, more: true },
        ServerMsg::RoomSummaries { rooms: p2, more: false },
    ] = &frames[..]
    else {
        panic!("{:?}", frames.iter().map(std::mem::discriminant).collect::<Vec<_>>())
    };
    assert_eq!((rooms.len(), p1.len(), p2.len()), (100, 100, 50));
    let all: Vec<String> = rooms.iter().chain(p1).chain(p2).map(|r| r.room.to_string()).collect();
    let want: Vec<String> = (0..250).map(|i| format!("group:r{i:04}")).collect();
    assert_eq!(all, want, "every room once, in key order");
    assert!(rooms.iter().chain(p1).chain(p2).all(|r| r.users.is_empty() && r.read_receipts.is_empty()));
    // The member list comes on request.
    sim.recv(a, ClientMsg::RoomUsers { room: room("group:r0007") });
    let frames = sim.take(a);
    let [ServerMsg::RoomUsersUpdate { users, .. }] = &frames[..] else { panic!("{frames:?}") };
    assert_eq!(users.len(), 2);
}

#[test]
fn a_small_account_gets_one_connected_frame() {
    let mut sim = in_rooms(100);
    let a = sim.connect("alice");
    let frames = sim.take(a);
    assert!(matches!(&frames[..], [ServerMsg::Connected { more_rooms: false, rooms, .. }] if rooms.len() == 100));
}

#[test]
fn a_user_in_a_thousand_rooms_connects_with_a_dozen_events_and_others_get_one_presence() {
    let mut sim = in_rooms(1_000);
    let b = sim.connect("bob");
    assert!(sim.take(b).len() <= 12);
    let a = sim.connect("alice");
    let frames = sim.take(a);
    assert!(frames.len() <= 12, "{} events at connect", frames.len());
    let summaries: usize = frames
        .iter()
        .map(|f| match f {
            ServerMsg::Connected { rooms, .. } | ServerMsg::RoomSummaries { rooms, .. } => rooms.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(summaries, 1_000);
    // Bob shares all 1,000 rooms with Alice: one presence event, not one per room.
    let frames = sim.take(b);
    assert!(
        matches!(&frames[..], [ServerMsg::Presence { username, online: true }] if username.as_str() == "alice"),
        "{} frames",
        frames.len()
    );
    sim.disconnect(a);
    let frames = sim.take(b);
    assert!(matches!(&frames[..], [ServerMsg::Presence { online: false, .. }]), "{} frames", frames.len());
}

#[test]
fn a_user_put_in_300_rooms_by_someone_else_can_still_connect() {
    let mut sim = Sim::new();
    let b = sim.connect("bob");
    sim.input(chat_core::Input::AddUser { user: user("alice") });
    for i in 0..300 {
        sim.recv(b, join(&format!("group:spam{i}")));
        sim.recv(b, ClientMsg::Invite { room: room(&format!("group:spam{i}")), username: "alice".into() });
        sim.advance(100); // within bob's rate limits
    }
    let a = sim.connect("alice");
    let frames = sim.take(a);
    assert!(matches!(frames.first(), Some(ServerMsg::Connected { .. })), "connected comes first");
    assert!(frames.len() <= 12, "{} events at connect", frames.len());
    assert!(!sim.closed().contains(&a));
}
