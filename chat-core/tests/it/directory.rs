//! The directory (`list_rooms`, `list_users`) and the caller's own lists (`my_rooms`,
//! `room_users`): paged, filtered by name prefix, and authorised by the core.

use std::collections::BTreeSet;

use chat_core::protocol::DirectoryQuery;
use chat_core::{ClientMsg, Config, ErrorCode, Input, LogEntry, RoomKind, ServerMsg, Timestamp};
use proptest::prelude::*;

use crate::sim::*;

fn query(prefix: Option<&str>, after: Option<&str>, limit: Option<u32>) -> DirectoryQuery {
    DirectoryQuery { prefix: prefix.map(Into::into), after: after.map(Into::into), limit }
}

/// A chat restored from a log that creates these group rooms (and users), for large setups.
fn restored(rooms: &[(String, RoomKind)], users: &[String]) -> Sim {
    let mut log: Vec<LogEntry> = users.iter().map(|u| LogEntry::UserAdded { user: user(u) }).collect();
    for (name, kind) in rooms {
        let room = format!("group:{name}").parse().unwrap();
        let owner = (*kind == RoomKind::Private).then(|| user("owner"));
        log.push(LogEntry::RoomCreated { room, kind: *kind, owner, timestamp: Timestamp(1) });
    }
    let mut journal = chat_core::MemoryJournal::new();
    chat_core::Journal::append(&mut journal, &log).unwrap();
    Sim::with_journal(Config::default(), journal)
}

/// Pages through `list_rooms` with `prefix` and `limit`; returns the room names in order.
fn all_rooms(sim: &mut Sim, prefix: Option<&str>, limit: u32) -> Vec<String> {
    let mut names = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let reply = sim.request("alice", ClientMsg::ListRooms(query(prefix, after.as_deref(), Some(limit))));
        let ServerMsg::RoomList { rooms, next } = reply else { panic!("{reply:?}") };
        assert!(rooms.len() <= limit as usize);
        names.extend(rooms.iter().map(|r| r.room.to_string().trim_start_matches("group:").to_owned()));
        match next {
            Some(n) => {
                assert_eq!(Some(&n), names.last(), "next is the last name of the page");
                after = Some(n);
            }
            None => return names,
        }
    }
}

#[test]
fn twenty_thousand_rooms_cannot_hide_lobby() {
    let mut rooms: Vec<(String, RoomKind)> = (0..20_000).map(|i| (format!("aaa{i:05}"), RoomKind::Public)).collect();
    rooms.push(("lobby".into(), RoomKind::Public));
    rooms.push(("lobster".into(), RoomKind::Private));
    let mut sim = restored(&rooms, &[]);
    let reply = sim.request("alice", ClientMsg::ListRooms(query(Some("LOB"), None, None)));
    let ServerMsg::RoomList { rooms: page, next } = reply else { panic!("{reply:?}") };
    let names: Vec<String> = page.iter().map(|r| r.room.to_string()).collect();
    assert_eq!(names, ["group:lobby"], "prefix filter; private rooms are not listed");
    assert_eq!(next, None);

    // Unfiltered: default pages of 100, sorted, `next` to continue.
    let reply = sim.request("alice", ClientMsg::ListRooms(DirectoryQuery::default()));
    let ServerMsg::RoomList { rooms: page, next } = reply else { panic!("{reply:?}") };
    assert_eq!(page.len(), 100);
    assert_eq!(page[0].room.to_string(), "group:aaa00000");
    assert_eq!(next.as_deref(), Some("aaa00099"));
    let reply = sim.request("alice", ClientMsg::ListRooms(query(None, Some("aaa19999"), None)));
    let ServerMsg::RoomList { rooms: page, next } = reply else { panic!("{reply:?}") };
    assert_eq!(page.iter().map(|r| r.room.to_string()).collect::<Vec<_>>(), ["group:lobby"]);
    assert_eq!(next, None);

    for limit in [0, 1_001] {
        let reply = sim.request("alice", ClientMsg::ListRooms(query(None, None, Some(limit))));
        assert!(matches!(reply, ServerMsg::Error { code: ErrorCode::InvalidRequest, .. }), "{reply:?}");
    }
}

#[test]
fn user_list_pages_by_name_with_presence() {
    let users: Vec<String> = (0..250).map(|i| format!("u{i:03}")).collect();
    let mut sim = restored(&[], &users);
    let s = sim.connect("u005");
    sim.take(s);
    sim.recv(s, ClientMsg::ListUsers(query(Some("u00"), None, Some(3))));
    let frames = sim.take(s);
    let [ServerMsg::UserList { users: page, next }] = &frames[..] else { panic!("{frames:?}") };
    let names: Vec<(&str, bool)> = page.iter().map(|u| (u.username.as_str(), u.online)).collect();
    assert_eq!(names, [("u000", false), ("u001", false), ("u002", false)]);
    assert_eq!(next.as_deref(), Some("u002"));
    sim.recv(s, ClientMsg::ListUsers(query(Some("u00"), next.as_deref(), Some(1_000))));
    let frames = sim.take(s);
    let [ServerMsg::UserList { users: page, next: None }] = &frames[..] else { panic!("{frames:?}") };
    assert_eq!(page.len(), 7);
    assert!(page.iter().any(|u| u.username.as_str() == "u005" && u.online));
}

#[test]
fn my_rooms_and_room_users_are_answered_and_authorised_by_the_core() {
    let (mut sim, a, b) = two_in_lobby();
    let c = sim.connect("carol");
    for i in 0..5 {
        sim.recv(a, join(&format!("group:r{i}")));
    }
    sim.recv(a, send("dm:alice:bob", "psst"));
    sim.recv(b, ClientMsg::CreateRoom { room_name: "hidden".into(), private: true });
    for s in [a, b, c] {
        sim.take(s);
    }

    // my_rooms: the caller's rooms in key order, paged with `after`.
    let reply = sim.request("alice", ClientMsg::MyRooms { after: None, limit: Some(4) });
    let ServerMsg::Rooms { rooms, more: true, unread_notifications: 0 } = reply else { panic!("{reply:?}") };
    let keys: Vec<String> = rooms.iter().map(|r| r.room.to_string()).collect();
    assert_eq!(keys, ["group:lobby", "group:r0", "group:r1", "group:r2"]);
    assert!(rooms.iter().all(|r| r.users.is_empty()), "pages carry no member lists");
    let reply = sim.request("alice", ClientMsg::MyRooms { after: Some("group:r2".into()), limit: None });
    let ServerMsg::Rooms { rooms, more: false, .. } = reply else { panic!("{reply:?}") };
    let keys: Vec<String> = rooms.iter().map(|r| r.room.to_string()).collect();
    assert_eq!(keys, ["group:r3", "group:r4", "dm:alice:bob"]);
    let reply = sim.request("alice", ClientMsg::MyRooms { after: None, limit: Some(101) });
    assert!(matches!(reply, ServerMsg::Error { code: ErrorCode::InvalidRequest, .. }), "{reply:?}");

    // room_users: members only; someone else's DM is forbidden.
    let reply = sim.request("bob", ClientMsg::RoomUsers { room: room("dm:alice:bob") });
    let ServerMsg::RoomUsersUpdate { users, .. } = reply else { panic!("{reply:?}") };
    let names: Vec<(&str, bool)> = users.iter().map(|u| (u.username.as_str(), u.online)).collect();
    assert_eq!(names, [("alice", true), ("bob", true)]);
    for (who, key, code) in [
        ("carol", "dm:alice:bob", ErrorCode::Forbidden),
        ("carol", "group:r1", ErrorCode::NotAMember),
        ("carol", "group:nope", ErrorCode::RoomNotFound),
        ("carol", "bad key", ErrorCode::InvalidRoom),
    ] {
        let reply = sim.request(who, ClientMsg::RoomUsers { room: room(key) });
        assert!(matches!(reply, ServerMsg::Error { code: c, .. } if c == code), "{who} {key}: {reply:?}");
    }
    // Over the WebSocket too.
    sim.recv(c, ClientMsg::RoomUsers { room: room("group:lobby") });
    assert_eq!(errors(&sim.take(c)), [ErrorCode::NotAMember]);
}

#[test]
fn summaries_say_what_the_member_may_do() {
    let (mut sim, a, b) = two_in_lobby();
    sim.recv(a, ClientMsg::CreateRoom { room_name: "mine".into(), private: true });
    sim.recv(a, send("dm:alice:bob", "hi"));
    sim.take(a);
    sim.take(b);
    let reply = sim.request("alice", ClientMsg::MyRooms { after: None, limit: None });
    let ServerMsg::Rooms { rooms, .. } = reply else { panic!("{reply:?}") };
    let flags: Vec<(String, bool, bool, bool, bool)> =
        rooms.iter().map(|r| (r.room.to_string(), r.can_invite, r.can_leave, r.can_remove, r.can_delete)).collect();
    assert_eq!(
        flags,
        [
            ("group:lobby".into(), true, true, false, false),
            ("group:mine".into(), true, false, true, true),
            ("dm:alice:bob".into(), false, false, false, false),
        ]
    );
    let reply = sim.request("bob", ClientMsg::MyRooms { after: None, limit: None });
    let ServerMsg::Rooms { rooms, .. } = reply else { panic!("{reply:?}") };
    assert!(rooms.iter().all(|r| r.room.to_string() != "group:mine"));
    // A member of the private room who does not own it may not delete others' messages.
    sim.recv(a, ClientMsg::Invite { room: room("group:mine"), username: "bob".into() });
    sim.recv(b, join("group:mine"));
    let reply = sim.request("bob", ClientMsg::MyRooms { after: None, limit: None });
    let ServerMsg::Rooms { rooms, .. } = reply else { panic!("{reply:?}") };
    let mine = rooms.iter().find(|r| r.room.to_string() == "group:mine").expect("bob is a member");
    assert!(!mine.can_delete && !mine.can_remove);
    sim.input(Input::Tick);
}

proptest! {
    #[test]
    fn paging_the_directory_lists_exactly_the_matching_public_rooms_in_order(
        rooms in proptest::collection::btree_map("[a-c][a-c0-9]{0,3}", proptest::bool::weighted(0.8), 0..60),
        prefix in proptest::option::of("[a-c]{0,2}"),
        limit in 1u32..8,
    ) {
        let list: Vec<(String, RoomKind)> = rooms
            .iter()
            .map(|(n, public)| (n.clone(), if *public { RoomKind::Public } else { RoomKind::Private }))
            .collect();
        let mut sim = restored(&list, &[]);
        let got = all_rooms(&mut sim, prefix.as_deref(), limit);
        let want: Vec<String> = rooms
            .iter()
            .filter(|(n, public)| **public && n.starts_with(prefix.as_deref().unwrap_or("")))
            .map(|(n, _)| n.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        prop_assert_eq!(got, want);
    }
}

/// The sorted directory is kept as rooms and users are created, not rebuilt: rooms created live
/// after a restore land in order among the restored ones, and a restart gives the same pages.
#[test]
fn rooms_created_after_a_restore_are_listed_in_order() {
    let rooms: Vec<(String, RoomKind)> = ["beta", "delta"].iter().map(|n| (n.to_string(), RoomKind::Public)).collect();
    let mut sim = restored(&rooms, &[]);
    let a = sim.connect("alice");
    for name in ["gamma", "alpha", "epsilon"] {
        sim.recv(a, join(&format!("group:{name}")));
    }
    sim.recv(a, ClientMsg::CreateRoom { room_name: "secret".into(), private: true });
    sim.drain();
    let expected = ["alpha", "beta", "delta", "epsilon", "gamma"];
    assert_eq!(all_rooms(&mut sim, None, 2), expected);
    sim.restart();
    assert_eq!(all_rooms(&mut sim, None, 2), expected);
    let reply = sim.request("alice", ClientMsg::ListUsers(query(Some("al"), None, None)));
    let ServerMsg::UserList { users, .. } = reply else { panic!("{reply:?}") };
    assert_eq!(users.iter().map(|u| u.username.as_str()).collect::<Vec<_>>(), ["alice"]);
}
