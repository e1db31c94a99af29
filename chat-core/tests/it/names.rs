//! New names (users at registration, rooms at create / first join) follow stricter rules than
//! stored ones: start and end with a letter or digit, no two of `_ . -` in a row.

use chat_core::{ClientMsg, Config, ErrorCode, LogEntry, RoomKind, RoomName, ServerMsg, UserName};
use proptest::prelude::*;

use crate::sim::*;

#[test]
fn look_alike_names_cannot_be_new_but_stored_ones_keep_working() {
    for bad in [".", "..", "-", "_", "alice.", "alice..", "a..b", "a._b", ".alice", "-x"] {
        assert!(UserName::parse_new(bad).is_err(), "{bad} is refused as a new user name");
        assert!(RoomName::parse_new(bad).is_err(), "{bad} is refused as a new room name");
        assert!(RoomName::new(bad).is_ok(), "{bad} still parses as a stored name");
    }
    for good in ["alice", "a", "a.b", "a_b-c.d", "R2D2", "x9"] {
        assert_eq!(UserName::parse_new(good).unwrap(), UserName::new(good).unwrap());
    }

    let mut sim = Sim::new();
    let a = sim.connect("alice");
    sim.take(a);
    sim.recv(a, ClientMsg::CreateRoom { room_name: "team.".into(), private: false });
    sim.recv(a, join("group:..")); // a public room is created on first join: a new name
    sim.recv(a, ClientMsg::CreateRoom { room_name: "a--b".into(), private: true });
    assert_eq!(errors(&sim.take(a)), [ErrorCode::InvalidRoom; 3]);
    for key in ["group:team.", "group:..", "group:a--b"] {
        assert!(sim.chat().room(&key.parse().unwrap()).is_none(), "{key} was not created");
    }
}

#[test]
fn rooms_and_users_stored_under_old_rules_stay_usable() {
    let old_room: chat_core::RoomKey = "group:team.".parse().unwrap();
    let log = [
        LogEntry::UserAdded { user: user("bob.") },
        LogEntry::RoomCreated {
            room: old_room.clone(),
            kind: RoomKind::Public,
            owner: None,
            timestamp: Default::default(),
        },
        LogEntry::MemberAdded { room: old_room.clone(), user: user("bob.") },
    ];
    let mut journal = chat_core::MemoryJournal::new();
    chat_core::Journal::append(&mut journal, &log).unwrap();
    let mut sim = Sim::with_journal(Config::default(), journal);
    let b = sim.connect("bob.");
    let a = sim.connect("alice");
    sim.recv(a, join("group:team."));
    assert!(sim.take(a).iter().any(|f| matches!(f, ServerMsg::RoomJoined(s) if s.room == old_room)));
    sim.recv(a, send("group:team.", "hi @bob."));
    let frames = sim.take(b);
    assert_eq!(messages(&frames), [("group:team.".into(), 1, "hi @bob.".into())]);
    // `@bob.` is sentence punctuation after `bob`: the stored name `bob.` is not mentioned (the
    // reason new names may not end in punctuation).
    assert!(!frames.iter().any(|f| matches!(f, ServerMsg::MentionNotification(_))));
}

/// The rule, written out naively.
fn naive_new_name_ok(raw: &str) -> bool {
    let lower = raw.to_ascii_lowercase();
    let b = lower.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let punct = |c: u8| matches!(c, b'_' | b'.' | b'-');
    !b.is_empty()
        && b.len() <= 32
        && b.iter().all(|&c| alnum(c) || punct(c))
        && alnum(b[0])
        && alnum(b[b.len() - 1])
        && !b.windows(2).any(|w| punct(w[0]) && punct(w[1]))
}

proptest! {
    #[test]
    fn parse_new_accepts_exactly_the_documented_names(raw in "[a-cA-C0-9_.\\- ]{0,34}") {
        let naive = naive_new_name_ok(&raw);
        prop_assert_eq!(RoomName::parse_new(&raw).is_ok(), naive, "room {:?}", raw);
        let reserved = ["room", "here"].contains(&raw.to_ascii_lowercase().as_str());
        prop_assert_eq!(UserName::parse_new(&raw).is_ok(), naive && !reserved, "user {:?}", raw);
        if naive {
            prop_assert!(RoomName::new(&raw).is_ok(), "every new name is a valid stored name");
        }
    }

    #[test]
    fn create_room_creates_exactly_the_rooms_with_valid_new_names(raw in "[ab_.\\-]{1,5}") {
        let mut sim = Sim::new();
        let a = sim.connect("alice");
        sim.take(a);
        sim.recv(a, ClientMsg::CreateRoom { room_name: raw.clone(), private: false });
        let created = sim.take(a).iter().any(|f| matches!(f, ServerMsg::RoomJoined(_)));
        prop_assert_eq!(created, naive_new_name_ok(&raw), "{:?}", raw);
        let key = chat_core::RoomKey::Group(RoomName::new(&raw).unwrap());
        prop_assert_eq!(sim.chat().room(&key).is_some(), created);
    }
}
