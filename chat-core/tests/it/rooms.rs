//! Rooms: public rooms on first join, private rooms with an owner, DMs between exactly two.

use chat_core::{ClientMsg, ErrorCode, RoomKind, ServerMsg};

use crate::sim::*;

#[test]
fn public_room_is_created_on_first_join_and_membership_survives_disconnect() {
    let mut sim = Sim::new();
    let a = sim.connect("alice");
    sim.take(a);
    sim.recv(a, join("group:lobby"));
    let frames = sim.take(a);
    assert!(frames.iter().any(|f| matches!(f, ServerMsg::RoomJoined(s) if s.kind == RoomKind::Public)));
    sim.disconnect(a);
    let key = "group:lobby".parse().unwrap();
    assert!(sim.chat().is_member(&user("alice"), &key), "membership is persistent");
    assert!(!sim.chat().is_online(&user("alice")));
    let a2 = sim.connect("alice");
    let frames = sim.take(a2);
    let ServerMsg::Connected { rooms, .. } = &frames[0] else { panic!("first frame is connected: {frames:?}") };
    assert_eq!(rooms.len(), 1);
    assert_eq!(rooms[0].room.to_string(), "group:lobby");
}

#[test]
fn seed_style_room_refs_work() {
    let mut sim = Sim::new();
    let a = sim.connect("alice");
    let b = sim.connect("bob");
    let seed_join = r#"{"type":"join_room","room_type":"group","room_name":"Lobby"}"#;
    sim.recv(a, chat_core::Codec::Json.decode_client(seed_join.as_bytes()).unwrap());
    sim.recv(b, join("group:lobby"));
    sim.take(a);
    let seed_send = r#"{"type":"send_message","room_type":"group","room_name":"lobby","content":"hello"}"#;
    sim.recv(b, chat_core::Codec::Json.decode_client(seed_send.as_bytes()).unwrap());
    assert_eq!(messages(&sim.take(a)), [("group:lobby".into(), 1, "hello".into())]);
    let dm = r#"{"type":"send_message","room_type":"dm","target":"alice","content":"psst"}"#;
    sim.recv(b, chat_core::Codec::Json.decode_client(dm.as_bytes()).unwrap());
    assert_eq!(messages(&sim.take(a)), [("dm:alice:bob".into(), 1, "psst".into())]);
}

#[test]
fn private_rooms_are_invite_only_and_owned() {
    let mut sim = Sim::new();
    let a = sim.connect("alice");
    let b = sim.connect("bob");
    let c = sim.connect("carol");
    sim.recv(a, ClientMsg::CreateRoom { room_name: "secret".into(), private: true });
    sim.take(b);
    // Not probeable: a private room answers a non-member exactly as a missing one does.
    sim.recv(b, join("group:secret"));
    sim.recv(b, join("group:bad..name")); // not a valid new name
    sim.recv(b, ClientMsg::Invite { room: room("group:secret"), username: "carol".into() });
    assert_eq!(errors(&sim.take(b)), [ErrorCode::RoomNotFound, ErrorCode::InvalidRoom, ErrorCode::RoomNotFound]);

    // Only the owner invites; the invitation is pending until accepted.
    sim.take(a);
    sim.recv(a, ClientMsg::Invite { room: room("group:secret"), username: "bob".into() });
    let frames = sim.take(a);
    assert!(
        matches!(&frames[..], [ServerMsg::InviteSent { username, .. }] if username.as_str() == "bob"),
        "{frames:?}"
    );
    let frames = sim.take(b);
    assert!(matches!(&frames[..], [ServerMsg::Invitation(i)] if i.inviter.as_str() == "alice"), "{frames:?}");
    assert!(!sim.chat().is_member(&user("bob"), &"group:secret".parse().unwrap()));
    sim.recv(a, ClientMsg::Invite { room: room("group:secret"), username: "bob".into() });
    assert_eq!(errors(&sim.take(a)), [ErrorCode::AlreadyInvited]);
    sim.recv(b, ClientMsg::AcceptInvite { room: room("group:secret") });
    assert!(sim.take(b).iter().any(|f| matches!(f, ServerMsg::RoomJoined(s) if s.room.to_string() == "group:secret")));
    sim.recv(b, ClientMsg::AcceptInvite { room: room("group:secret") });
    assert_eq!(errors(&sim.take(b)), [ErrorCode::NoInvitation]);
    sim.recv(a, ClientMsg::Invite { room: room("group:secret"), username: "bob".into() });
    assert_eq!(errors(&sim.take(a)), [ErrorCode::AlreadyMember]);
    sim.recv(b, ClientMsg::Invite { room: room("group:secret"), username: "carol".into() });
    assert_eq!(errors(&sim.take(b)), [ErrorCode::Forbidden]);

    sim.take(c);
    sim.recv(a, send("group:secret", "members only"));
    assert_eq!(messages(&sim.take(b)).len(), 1);
    assert!(messages(&sim.take(c)).is_empty(), "non-members receive nothing");

    // The owner removes; the removed member is told and receives nothing more.
    sim.recv(a, ClientMsg::Remove { room: room("group:secret"), username: "bob".into() });
    assert!(sim.take(b).iter().any(|f| matches!(f, ServerMsg::RoomLeft { .. })));
    sim.recv(a, send("group:secret", "bob is gone"));
    assert!(messages(&sim.take(b)).is_empty());
    sim.recv(
        b,
        ClientMsg::History { room: room("group:secret"), before: None, after: None, limit: None, around: None },
    );
    assert_eq!(errors(&sim.take(b)), [ErrorCode::RoomNotFound]);

    sim.recv(a, ClientMsg::LeaveRoom { room: room("group:secret") });
    assert_eq!(errors(&sim.take(a)), [ErrorCode::OwnerCannotLeave]);
    sim.recv(b, ClientMsg::CreateRoom { room_name: "SECRET".into(), private: false });
    assert_eq!(errors(&sim.take(b)), [ErrorCode::RoomExists]);
}

#[test]
fn dms_are_private_to_their_two_users() {
    let mut sim = Sim::new();
    let a = sim.connect("alice");
    let b = sim.connect("bob");
    let c = sim.connect("carol");
    sim.recv(
        a,
        ClientMsg::SendMessage {
            attachments: Vec::new(),
            room: chat_core::RoomRef {
                room_type: Some(chat_core::RoomType::Dm),
                target: Some("bob".into()),
                ..Default::default()
            },
            content: "hi bob".into(),
            client_id: None,
            reply_to: None,
        },
    );
    assert_eq!(messages(&sim.take(b)), [("dm:alice:bob".into(), 1, "hi bob".into())]);
    sim.take(c);
    for msg in [
        join("dm:alice:bob"),
        send("dm:alice:bob", "let me in"),
        ClientMsg::History { room: room("dm:alice:bob"), before: None, after: None, limit: None, around: None },
        ClientMsg::MarkRead { room: room("dm:alice:bob"), seq: None },
        ClientMsg::Typing { room: room("dm:alice:bob"), active: true },
    ] {
        sim.recv(c, msg);
        let frames = sim.take(c);
        assert_eq!(errors(&frames), [ErrorCode::Forbidden], "{frames:?}");
    }
    sim.recv(c, ClientMsg::Invite { room: room("dm:alice:bob"), username: "carol".into() });
    assert_eq!(errors(&sim.take(c)), [ErrorCode::Forbidden]);
    sim.recv(a, ClientMsg::Invite { room: room("dm:alice:bob"), username: "carol".into() });
    assert_eq!(errors(&sim.take(a)), [ErrorCode::Forbidden]);
    sim.recv(a, ClientMsg::LeaveRoom { room: room("dm:alice:bob") });
    assert_eq!(errors(&sim.take(a)), [ErrorCode::CannotLeaveDm]);

    // A DM to a user nobody knows, or to oneself, is refused.
    sim.recv(a, send("dm:alice:zed", "hello?"));
    assert_eq!(errors(&sim.take(a)), [ErrorCode::UnknownUser]);
    sim.recv(a, send("dm:alice:alice", "me"));
    assert_eq!(errors(&sim.take(a)), [ErrorCode::InvalidRoom]);
    assert!(messages(&sim.take(c)).is_empty());
}

#[test]
fn requests_answer_exactly_once_and_are_authorised() {
    let mut sim = Sim::new();
    sim.input(chat_core::Input::AddUser { user: user("bob") });
    let joined = sim.request("alice", join("group:lobby"));
    assert!(matches!(joined, ServerMsg::RoomJoined(_)));
    let ack = sim.request("alice", send("dm:alice:bob", "via rest"));
    assert!(matches!(ack, ServerMsg::Ack { seq: 1, .. }), "{ack:?}");
    let denied = sim.request(
        "carol",
        ClientMsg::History { room: room("dm:alice:bob"), before: None, after: None, limit: None, around: None },
    );
    assert!(matches!(denied, ServerMsg::Error { code: ErrorCode::Forbidden, .. }), "{denied:?}");
    let page = sim.request(
        "bob",
        ClientMsg::History { room: room("dm:alice:bob"), before: None, after: None, limit: None, around: None },
    );
    let ServerMsg::History { messages, .. } = page else { panic!("{page:?}") };
    assert_eq!(messages.len(), 1);
    let typing = sim.request("alice", ClientMsg::Typing { room: room("group:lobby"), active: true });
    assert!(matches!(typing, ServerMsg::Error { code: ErrorCode::Unsupported, .. }));
}
