//! Messages with attachments: the driver resolves the ids, the message carries exactly what it
//! resolved; someone else's upload, too many, or one twice is refused and nothing is stored; a
//! message may be only attachments; deleting it drops them. And a model property over random
//! uploads and sends.

use chat_core::attachment::{Attachment, AttachmentId};
use chat_core::{ClientMsg, ErrorCode, HistoryQuery, HistoryRange, Journal, LogEntry, ServerMsg};
use proptest::prelude::*;

use crate::sim::*;

fn attachment(n: u8, name: &str) -> Attachment {
    Attachment {
        id: AttachmentId::from_bytes([n; 32]),
        name: name.into(),
        size: 100 + u64::from(n),
        content_type: "image/png".into(),
        width: Some(4),
        height: Some(3),
    }
}

fn send_with(content: &str, ids: &[AttachmentId]) -> ClientMsg {
    ClientMsg::SendMessage {
        room: room("group:lobby"),
        content: content.into(),
        client_id: None,
        reply_to: None,
        attachments: ids.to_vec(),
    }
}

fn lobby_sim() -> Sim {
    let mut sim = Sim::new();
    sim.request("alice", ClientMsg::CreateRoom { room_name: "lobby".parse().unwrap(), private: false });
    sim.request("bob", join("group:lobby"));
    sim
}

fn stored(sim: &Sim) -> Vec<chat_core::Message> {
    let query = HistoryQuery { room: "group:lobby".parse().unwrap(), range: HistoryRange::Latest, limit: 100 };
    sim.journal().history(&query).unwrap()
}

fn refusal(reply: &ServerMsg) -> Option<ErrorCode> {
    match reply {
        ServerMsg::Error { code, .. } => Some(*code),
        _ => None,
    }
}

#[test]
fn a_message_carries_exactly_the_resolved_attachments() {
    let mut sim = lobby_sim();
    let (cat, dog) = (attachment(1, "cat.png"), attachment(2, "dog.png"));
    sim.upload(&user("alice"), cat.clone());
    sim.upload(&user("alice"), dog.clone());
    let bob = sim.connect("bob");
    sim.take(bob);
    let reply = sim.request("alice", send_with("look", &[dog.id, cat.id]));
    assert!(matches!(reply, ServerMsg::Ack { seq: 1, .. }), "{reply:?}");
    let messages = stored(&sim);
    assert_eq!(messages[0].attachments, [dog.clone(), cat.clone()], "in the order sent");
    let seen = sim.take(bob);
    let delivered = seen.iter().find_map(|m| match m {
        ServerMsg::Message(m) => Some(m.attachments.clone()),
        _ => None,
    });
    assert_eq!(delivered, Some(vec![dog, cat]));
    let json = serde_json::to_value(&seen[0]).unwrap();
    assert_eq!(json["attachments"][0]["name"], "dog.png");
}

#[test]
fn someone_elses_upload_is_refused_and_nothing_is_stored() {
    let mut sim = lobby_sim();
    let cat = attachment(1, "cat.png");
    sim.upload(&user("bob"), cat.clone());
    let reply = sim.request("alice", send_with("mine now", &[cat.id]));
    assert_eq!(refusal(&reply), Some(ErrorCode::AttachmentNotFound));
    let unknown = sim.request("alice", send_with("x", &[AttachmentId::from_bytes([9; 32])]));
    assert_eq!(refusal(&unknown), Some(ErrorCode::AttachmentNotFound));
    assert!(stored(&sim).is_empty());
    assert!(!sim.trace().iter().any(|e| matches!(e, Event::Persist(LogEntry::Message(_)))));
}

#[test]
fn only_attachments_is_a_message_and_limits_hold() {
    let mut sim = lobby_sim();
    let cat = attachment(1, "cat.png");
    sim.upload(&user("alice"), cat.clone());
    assert!(matches!(sim.request("alice", send_with("", &[cat.id])), ServerMsg::Ack { .. }));
    assert_eq!(refusal(&sim.request("alice", send_with("", &[]))), Some(ErrorCode::EmptyMessage));
    let twice = sim.request("alice", send_with("x", &[cat.id, cat.id]));
    assert_eq!(refusal(&twice), Some(ErrorCode::TooManyAttachments));
    let many: Vec<AttachmentId> = (10..21).map(|n| AttachmentId::from_bytes([n; 32])).collect();
    assert_eq!(refusal(&sim.request("alice", send_with("x", &many))), Some(ErrorCode::TooManyAttachments));
    // Not a member: refused before the driver is asked.
    sim.request("bob", ClientMsg::LeaveRoom { room: room("group:lobby") });
    sim.upload(&user("bob"), attachment(3, "b.png"));
    let outside = sim.request("bob", send_with("x", &[AttachmentId::from_bytes([3; 32])]));
    assert_eq!(refusal(&outside), Some(ErrorCode::NotAMember));
    assert_eq!(stored(&sim).len(), 1);
}

#[test]
fn deleting_a_message_drops_its_attachments() {
    let mut sim = lobby_sim();
    let cat = attachment(1, "cat.png");
    sim.upload(&user("alice"), cat.clone());
    sim.request("alice", send_with("cat", &[cat.id]));
    sim.request("alice", ClientMsg::DeleteMessage { room: room("group:lobby"), seq: 1 });
    let m = &stored(&sim)[0];
    assert!(m.deleted && m.attachments.is_empty());
}

proptest! {
    /// Whatever was uploaded by whom, a message is stored iff every id it names is its sender's
    /// upload, and then carries exactly those attachments, in order.
    #[test]
    fn messages_carry_exactly_their_senders_uploads(
        uploads in proptest::collection::vec((0..3usize, 0..6u8), 0..8),
        sends in proptest::collection::vec((0..3usize, proptest::collection::vec(0..6u8, 1..4)), 1..6),
    ) {
        let names = ["alice", "bob", "carol"];
        let mut sim = lobby_sim();
        sim.request("carol", join("group:lobby"));
        let mut owned: Vec<(usize, u8)> = Vec::new();
        for (who, n) in uploads {
            sim.upload(&user(names[who]), attachment(n, &format!("{who}-{n}")));
            owned.push((who, n));
        }
        let mut expected = Vec::new();
        for (who, ns) in sends {
            let ids: Vec<AttachmentId> = ns.iter().map(|&n| AttachmentId::from_bytes([n; 32])).collect();
            let reply = sim.request(names[who], send_with("x", &ids));
            let distinct = ns.iter().enumerate().all(|(i, n)| !ns[..i].contains(n));
            let all_own = ns.iter().all(|n| owned.contains(&(who, *n)));
            if distinct && all_own {
                prop_assert!(matches!(reply, ServerMsg::Ack { .. }), "{:?}", reply);
                // The first upload of that id by the sender is the one resolved.
                expected.push(ns.iter().map(|&n| attachment(n, &format!("{who}-{n}"))).collect::<Vec<_>>());
            } else {
                prop_assert!(refusal(&reply).is_some(), "{:?}", reply);
            }
        }
        let got: Vec<Vec<Attachment>> = stored(&sim).into_iter().map(|m| m.attachments).collect();
        prop_assert_eq!(got, expected);
    }
}
