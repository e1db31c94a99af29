//! The message lifecycle: edits, deletions, reactions, replies, each rule and refusal, and the
//! counts (unread, highlight, notifications) under every event.

use chat_core::log::Reactions;
use chat_core::protocol::ResumePoint;
use chat_core::{ClientMsg, Config, ErrorCode, HistoryQuery, HistoryRange, Journal, ReplyTo, RoomKey, ServerMsg};

use crate::sim::*;

pub fn edit(key: &str, seq: u64, content: &str) -> ClientMsg {
    ClientMsg::EditMessage { room: room(key), seq, content: content.into(), client_id: None }
}

pub fn delete(key: &str, seq: u64) -> ClientMsg {
    ClientMsg::DeleteMessage { room: room(key), seq }
}

pub fn react(key: &str, seq: u64, emoji: &str, add: bool) -> ClientMsg {
    ClientMsg::React { room: room(key), seq, emoji: emoji.into(), add }
}

pub fn reply(key: &str, reply_to: u64, content: &str) -> ClientMsg {
    ClientMsg::SendMessage {
        attachments: Vec::new(),
        room: room(key),
        content: content.into(),
        client_id: None,
        reply_to: Some(reply_to),
    }
}

fn lobby() -> RoomKey {
    "group:lobby".parse().unwrap()
}

/// The room's messages as the journal holds them now.
fn history(sim: &Sim) -> Vec<chat_core::Message> {
    let query = HistoryQuery { room: lobby(), range: HistoryRange::Latest, limit: 100 };
    sim.journal().history(&query).unwrap()
}

fn counts(sim: &Sim, name: &str) -> (u64, u64) {
    let u = sim.chat().unread(&user(name), &lobby()).unwrap();
    (u.unread, u.highlight)
}

fn read_states(frames: &[ServerMsg]) -> Vec<(u64, u64)> {
    frames
        .iter()
        .filter_map(|f| match f {
            ServerMsg::ReadState { unread, highlight, .. } => Some((*unread, *highlight)),
            _ => None,
        })
        .collect()
}

fn removed_notifications(frames: &[ServerMsg]) -> Vec<u64> {
    frames
        .iter()
        .flat_map(|f| match f {
            ServerMsg::NotificationUpdate { removed, .. } => removed.clone(),
            _ => Vec::new(),
        })
        .collect()
}

fn mention_notifications(frames: &[ServerMsg]) -> Vec<u64> {
    frames
        .iter()
        .filter_map(|f| match f {
            ServerMsg::MentionNotification(n) => Some(n.seq),
            _ => None,
        })
        .collect()
}

#[test]
fn an_edit_reaches_every_member_and_history_shows_the_current_text() {
    let (mut sim, a, b) = two_in_lobby();
    sim.recv(a, send("group:lobby", "helo"));
    sim.recv(a, edit("group:lobby", 1, "hello"));
    for s in [a, b] {
        let frames = sim.take(s);
        let edited: Vec<_> = frames
            .iter()
            .filter_map(|f| match f {
                ServerMsg::MessageEdited { seq, rev, content, .. } => Some((*seq, *rev, content.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(edited, [(1, 2, "hello".to_owned())], "message 1 was event 1, its edit event 2");
    }
    sim.recv(a, send("group:lobby", "next"));
    let page = history(&sim);
    assert_eq!(page[0].content, "hello");
    assert_eq!(page[0].edited_at, Some(sim.now()));
    assert_eq!((page[1].seq, page[1].rev), (2, 3), "seq counts messages, rev counts events");
    assert_eq!(sim.chat().room(&lobby()).unwrap().last_rev(), 3);
    assert_eq!(counts(&sim, "bob"), (2, 0), "an edit adds no unread message");
}

#[test]
fn edits_are_refused_for_others_missing_deleted_and_late_messages() {
    let mut config = Config::default();
    config.edit_window_ms = Some(60_000);
    let mut sim = Sim::with_config(config);
    let a = sim.connect("alice");
    let b = sim.connect("bob");
    sim.recv(a, join("group:lobby"));
    sim.recv(b, join("group:lobby"));
    sim.recv(a, send("group:lobby", "one"));
    sim.recv(a, send("group:lobby", "two"));
    sim.take(a);
    sim.take(b);
    sim.recv(b, edit("group:lobby", 1, "mine now"));
    sim.recv(a, edit("group:lobby", 0, "x"));
    sim.recv(a, edit("group:lobby", 3, "x"));
    sim.recv(a, edit("group:lobby", 1, "  "));
    sim.recv(a, edit("group:lobby", 1, "evil \u{202E}gnp.exe"));
    assert_eq!(errors(&sim.take(b)), [ErrorCode::NotAuthor]);
    assert_eq!(
        errors(&sim.take(a)),
        [ErrorCode::MessageNotFound, ErrorCode::MessageNotFound, ErrorCode::EmptyMessage, ErrorCode::InvalidContent]
    );
    sim.recv(a, delete("group:lobby", 2));
    sim.take(a);
    sim.recv(a, edit("group:lobby", 2, "back"));
    assert_eq!(errors(&sim.take(a)), [ErrorCode::MessageDeleted]);
    sim.advance(60_001);
    sim.recv(a, edit("group:lobby", 1, "too late"));
    assert_eq!(errors(&sim.take(a)), [ErrorCode::EditWindowPassed]);
    assert_eq!(history(&sim)[0].content, "one");
    assert_eq!(sim.chat().room(&lobby()).unwrap().last_rev(), 3, "refusals take no rev");
}

#[test]
fn an_identical_edit_is_a_no_op_answered_with_the_current_message() {
    let (mut sim, a, b) = two_in_lobby();
    sim.recv(a, send("group:lobby", "same"));
    sim.take(a);
    sim.take(b);
    sim.recv(a, edit("group:lobby", 1, "same"));
    let frames = sim.take(a);
    assert!(
        matches!(&frames[..], [ServerMsg::MessageUpdates { messages, more: false, .. }] if messages[0].content == "same")
    );
    assert!(sim.take(b).is_empty());
    assert_eq!(sim.chat().room(&lobby()).unwrap().last_rev(), 1);
    assert!(history(&sim)[0].edited_at.is_none());
}

#[test]
fn an_edit_moves_highlights_and_notifications_with_its_mentions() {
    let (mut sim, a, b) = two_in_lobby();
    let c = sim.connect("carol");
    sim.recv(c, join("group:lobby"));
    sim.recv(a, send("group:lobby", "hi @bob"));
    sim.take(b);
    sim.take(c);
    assert_eq!(counts(&sim, "bob"), (1, 1));
    let bob_id = sim.chat().snapshot().notification_about(&user("bob"), &lobby(), 1).unwrap();

    sim.recv(a, edit("group:lobby", 1, "hi @carol"));
    let bob = sim.take(b);
    assert_eq!(removed_notifications(&bob), [bob_id], "bob's notification is retracted");
    assert_eq!(read_states(&bob), [(1, 0)], "bob loses the highlight, keeps the unread message");
    let carol = sim.take(c);
    assert_eq!(mention_notifications(&carol), [1], "carol is notified once");
    assert_eq!(read_states(&carol), [(1, 1)]);
    assert_eq!(sim.chat().snapshot().unread_notifications(&user("bob")), 0);
    assert_eq!(sim.chat().snapshot().notifications_of(&user("bob"), 10), []);

    // Still mentioned: no second notification, the preview follows the text.
    sim.recv(a, edit("group:lobby", 1, "hi again @carol"));
    let carol = sim.take(c);
    assert!(mention_notifications(&carol).is_empty() && read_states(&carol).is_empty());
    let inbox = sim.chat().snapshot().notifications_of(&user("carol"), 10);
    assert_eq!(inbox.iter().map(|n| n.preview.as_str()).collect::<Vec<_>>(), ["hi again @carol"]);
    assert_eq!(counts(&sim, "carol"), (1, 1));
    sim.recv(c, ClientMsg::MarkRead { room: room("group:lobby"), seq: None });
    sim.recv(a, edit("group:lobby", 1, "hi again"));
    assert_eq!(counts(&sim, "carol"), (0, 0));
    sim.recv(a, edit("group:lobby", 1, "hi @carol, read already"));
    assert_eq!(counts(&sim, "carol"), (0, 0), "a read message gives no highlight");
    assert_eq!(mention_notifications(&sim.take(c)), [1], "but a new mention still notifies");
}

#[test]
fn deleting_an_unread_message_lowers_every_count_and_retracts_its_notification() {
    let (mut sim, a, b) = two_in_lobby();
    let c = sim.connect("carol");
    sim.recv(c, join("group:lobby"));
    sim.recv(a, send("group:lobby", "one"));
    sim.recv(a, send("group:lobby", "secret @bob"));
    sim.recv(c, ClientMsg::MarkRead { room: room("group:lobby"), seq: None });
    sim.take(b);
    sim.take(c);
    assert_eq!((counts(&sim, "bob"), counts(&sim, "carol")), ((2, 1), (0, 0)));

    sim.recv(a, delete("group:lobby", 2));
    let bob = sim.take(b);
    assert!(bob.iter().any(|f| matches!(f, ServerMsg::MessageDeleted { seq: 2, rev: 3, .. })));
    assert_eq!(read_states(&bob), [(1, 0)]);
    assert_eq!(removed_notifications(&bob).len(), 1);
    let carol = sim.take(c);
    assert!(carol.iter().any(|f| matches!(f, ServerMsg::MessageDeleted { seq: 2, .. })));
    assert!(read_states(&carol).is_empty(), "carol had read it: her counts did not move");
    assert_eq!(counts(&sim, "bob"), (1, 0));

    let page = history(&sim);
    let tomb = &page[1];
    assert!(tomb.deleted && tomb.content.is_empty() && tomb.mentions.is_empty() && tomb.deleted_at.is_some());
    assert_eq!((tomb.seq, tomb.rev, tomb.sender.as_str()), (2, 2, "alice"));
    // Later messages keep counting; the cursor passing the tombstone changes nothing.
    sim.recv(a, send("group:lobby", "three"));
    assert_eq!(counts(&sim, "bob"), (2, 0));
    sim.recv(b, ClientMsg::MarkRead { room: room("group:lobby"), seq: Some(2) });
    assert_eq!(counts(&sim, "bob"), (1, 0));
    // The restored core counts the same.
    sim.restart();
    assert_eq!(counts(&sim, "bob"), (1, 0));
    assert!(sim.chat().snapshot().is_deleted(&lobby(), 2));
}

#[test]
fn only_the_sender_or_a_private_rooms_owner_deletes_and_twice_is_a_no_op() {
    let (mut sim, a, b) = two_in_lobby();
    sim.recv(a, send("group:lobby", "alice's"));
    sim.recv(b, delete("group:lobby", 1));
    assert_eq!(errors(&sim.take(b)), [ErrorCode::Forbidden]);
    sim.recv(b, delete("group:lobby", 5));
    assert_eq!(errors(&sim.take(b)), [ErrorCode::MessageNotFound]);
    sim.recv(a, delete("group:lobby", 1));
    sim.take(a);
    sim.recv(a, delete("group:lobby", 1));
    assert!(matches!(&sim.take(a)[..], [ServerMsg::MessageUpdates { messages, .. }] if messages[0].deleted));
    assert_eq!(sim.chat().room(&lobby()).unwrap().last_rev(), 2);

    // The owner of a private room deletes anyone's message there.
    sim.recv(a, ClientMsg::CreateRoom { room_name: "den".into(), private: true });
    sim.recv(a, ClientMsg::Invite { room: room("group:den"), username: "bob".into() });
    sim.recv(b, ClientMsg::AcceptInvite { room: room("group:den") });
    sim.recv(b, send("group:den", "bob's"));
    sim.take(a);
    sim.take(b);
    sim.recv(a, delete("group:den", 1));
    assert!(sim.take(b).iter().any(|f| matches!(f, ServerMsg::MessageDeleted { seq: 1, .. })));
    sim.recv(a, send("group:den", "owner's"));
    sim.recv(b, delete("group:den", 2));
    assert_eq!(errors(&sim.take(b)), [ErrorCode::Forbidden]);
    // Not a member: the private room does not exist for carol.
    let answer = sim.request("carol", delete("group:den", 2));
    assert!(matches!(answer, ServerMsg::Error { code: ErrorCode::RoomNotFound, .. }));
}

#[test]
fn a_server_administrator_deletes_any_message_through_the_driver() {
    let (mut sim, a, b) = two_in_lobby();
    sim.recv(a, send("dm:alice:bob", "psst"));
    sim.recv(a, send("group:lobby", "spam"));
    sim.take(b);
    // Not a member of either room, and a plain request would be refused.
    assert!(matches!(
        sim.request("root", delete("group:lobby", 1)),
        ServerMsg::Error { code: ErrorCode::NotAMember, .. }
    ));
    let answer = sim.admin_request("root", delete("group:lobby", 1));
    assert!(matches!(answer, ServerMsg::MessageDeleted { seq: 1, rev: 2, .. }), "{answer:?}");
    let answer = sim.admin_request("root", delete("dm:alice:bob", 1));
    assert!(matches!(answer, ServerMsg::MessageDeleted { seq: 1, .. }), "{answer:?}");
    let dm: RoomKey = "dm:alice:bob".parse().unwrap();
    let u = sim.chat().unread(&user("bob"), &dm).unwrap();
    assert_eq!((u.unread, u.highlight), (0, 0), "the DM's unread message and highlight are gone");
    assert_eq!(sim.chat().snapshot().unread_notifications(&user("bob")), 0, "and its notification");
    assert!(sim.take(b).iter().any(|f| matches!(f, ServerMsg::MessageDeleted { .. })));
    let answer = sim.admin_request("root", delete("group:nowhere", 1));
    assert!(matches!(answer, ServerMsg::Error { code: ErrorCode::RoomNotFound, .. }));
    // The flag is for deletions only.
    let answer = sim.admin_request("root", edit("group:lobby", 1, "x"));
    assert!(matches!(answer, ServerMsg::Error { code: ErrorCode::NotAMember, .. }));
}

#[test]
fn reactions_are_listed_in_order_limited_and_never_change_counts() {
    let (mut sim, a, b) = two_in_lobby();
    sim.recv(a, send("group:lobby", "react to me"));
    sim.take(a);
    sim.take(b);
    sim.recv(b, react("group:lobby", 1, "👍", true));
    sim.recv(a, react("group:lobby", 1, "🎉", true));
    sim.recv(a, react("group:lobby", 1, "👍", true));
    let frames = sim.take(b);
    let events: Vec<_> = frames
        .iter()
        .filter_map(|f| match f {
            ServerMsg::Reaction { rev, emoji, username, add, .. } => {
                Some((*rev, emoji.clone(), username.to_string(), *add))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        events,
        [
            (2, "👍".into(), "bob".into(), true),
            (3, "🎉".into(), "alice".into(), true),
            (4, "👍".into(), "alice".into(), true)
        ]
    );
    assert_eq!(
        history(&sim)[0].reactions,
        [
            Reactions { emoji: "👍".into(), users: vec![user("bob"), user("alice")] },
            Reactions { emoji: "🎉".into(), users: vec![user("alice")] }
        ]
    );
    // Adding again and removing what is not there change nothing and send nothing to others.
    sim.take(a);
    sim.recv(b, react("group:lobby", 1, "👍", true));
    sim.recv(b, react("group:lobby", 1, "🎉", false));
    assert!(sim.take(b).iter().all(|f| matches!(f, ServerMsg::MessageUpdates { .. })));
    assert!(sim.take(a).iter().all(|f| !matches!(f, ServerMsg::Reaction { .. })));
    sim.recv(b, react("group:lobby", 1, "👍", false));
    let alice_only = |e: &str| Reactions { emoji: e.into(), users: vec![user("alice")] };
    assert_eq!(history(&sim)[0].reactions, [alice_only("👍"), alice_only("🎉")]);
    sim.recv(a, react("group:lobby", 1, "👍", false));
    assert_eq!(history(&sim)[0].reactions, [alice_only("🎉")], "an emoji nobody holds goes");
    assert_eq!(counts(&sim, "bob"), (1, 0));

    for bad in ["", "a", ":)", "👍👍", "👍 ", "\u{202E}👍"] {
        sim.recv(b, react("group:lobby", 1, bad, true));
    }
    assert_eq!(errors(&sim.take(b)), [ErrorCode::InvalidEmoji; 6]);
    // Five per user per message.
    for e in ["😀", "😃", "😄", "😁", "😆"] {
        sim.recv(b, react("group:lobby", 1, e, true));
    }
    sim.recv(b, react("group:lobby", 1, "😅", true));
    assert_eq!(errors(&sim.take(b)), [ErrorCode::TooManyReactions]);
    // Twenty distinct per message.
    let mut refused = Vec::new();
    for i in 0..20u32 {
        let s = sim.connect(&format!("u{}", i / 5));
        sim.recv(s, join("group:lobby"));
        sim.recv(s, react("group:lobby", 1, &char::from_u32(0x1F400 + i).unwrap().to_string(), true));
        refused.extend(errors(&sim.take(s)));
    }
    assert_eq!(history(&sim)[0].reactions.len(), 20, "🎉, the five of bob and 14 more");
    assert_eq!(refused, [ErrorCode::TooManyReactions; 6], "the 21st distinct emoji and later are refused");
    sim.recv(a, delete("group:lobby", 1));
    sim.recv(b, react("group:lobby", 1, "🎉", true));
    assert_eq!(errors(&sim.take(b)), [ErrorCode::MessageDeleted]);
    assert!(history(&sim)[0].reactions.is_empty(), "a deletion removes reactions from storage");
}

#[test]
fn a_reply_quotes_its_target_as_it_is_and_needs_an_earlier_message() {
    let (mut sim, a, b) = two_in_lobby();
    sim.recv(a, send("group:lobby", "question?"));
    sim.recv(b, reply("group:lobby", 1, "answer"));
    let frames = sim.take(a);
    let quoted: Vec<_> = frames
        .iter()
        .filter_map(|f| match f {
            ServerMsg::Message(m) if m.seq == 2 => m.reply_to.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(quoted, [Box::new(ReplyTo { seq: 1, sender: user("alice"), preview: "question?".into() })]);
    assert!(sim.take(b).iter().any(|f| matches!(f, ServerMsg::Ack { seq: 2, .. })));
    sim.recv(b, reply("group:lobby", 3, "to the future"));
    sim.recv(b, reply("group:lobby", 0, "to nothing"));
    assert_eq!(errors(&sim.take(b)), [ErrorCode::MessageNotFound, ErrorCode::MessageNotFound]);

    // The quote follows the target's edits and is empty once it is deleted.
    sim.recv(a, edit("group:lobby", 1, "better question?"));
    assert_eq!(history(&sim)[1].reply_to.as_ref().unwrap().preview, "better question?");
    sim.recv(a, delete("group:lobby", 1));
    assert_eq!(
        history(&sim)[1].reply_to,
        Some(Box::new(ReplyTo { seq: 1, sender: user("alice"), preview: String::new() }))
    );
    sim.recv(b, reply("group:lobby", 1, "to a tombstone"));
    let page = history(&sim);
    assert_eq!(page[2].reply_to.as_ref().map(|r| r.preview.as_str()), Some(""), "allowed, quoting nothing");
    // Over REST the answer is the ack, after the load.
    let answer = sim.request("bob", reply("group:lobby", 2, "via rest"));
    assert!(matches!(answer, ServerMsg::Ack { seq: 4, .. }), "{answer:?}");
}

#[test]
fn a_retried_reply_is_stored_once() {
    let (mut sim, a, b) = two_in_lobby();
    sim.recv(a, send("group:lobby", "q"));
    let retry = || ClientMsg::SendMessage {
        attachments: Vec::new(),
        room: room("group:lobby"),
        content: "r".into(),
        client_id: Some("r-1".into()),
        reply_to: Some(1),
    };
    sim.queue(chat_core::Input::Receive { session: b, msg: retry() });
    sim.queue(chat_core::Input::Receive { session: b, msg: retry() });
    sim.drain();
    let acks: Vec<bool> = sim
        .take(b)
        .iter()
        .filter_map(|f| match f {
            ServerMsg::Ack { seq: 2, duplicate, .. } => Some(*duplicate),
            _ => None,
        })
        .collect();
    assert_eq!(acks, [false, true]);
    assert_eq!(history(&sim).len(), 2);
}

#[test]
fn operations_on_one_message_run_in_order_on_its_current_state() {
    let (mut sim, a, b) = two_in_lobby();
    sim.recv(a, send("group:lobby", "v1"));
    sim.take(b);
    // Four changes in one batch: each is decided on the state the previous one left.
    for msg in [edit("group:lobby", 1, "v2 @bob"), edit("group:lobby", 1, "v3"), delete("group:lobby", 1)] {
        sim.queue(chat_core::Input::Receive { session: a, msg });
    }
    sim.queue(chat_core::Input::Receive { session: b, msg: react("group:lobby", 1, "👍", true) });
    sim.drain();
    let kinds: Vec<&str> = sim
        .take(b)
        .iter()
        .filter_map(|f| match f {
            ServerMsg::MessageEdited { .. } => Some("edited"),
            ServerMsg::MessageDeleted { .. } => Some("deleted"),
            ServerMsg::Error { code: ErrorCode::MessageDeleted, .. } => Some("refused"),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, ["edited", "edited", "deleted", "refused"]);
    assert_eq!(counts(&sim, "bob"), (0, 0));
    assert_eq!(sim.chat().snapshot().notifications_of(&user("bob"), 10), []);
    assert_eq!(sim.chat().room(&lobby()).unwrap().last_rev(), 4);
}

#[test]
fn rest_lifecycle_requests_answer_with_the_event() {
    let (mut sim, a, _b) = two_in_lobby();
    sim.recv(a, send("group:lobby", "hi"));
    let answer = sim.request("alice", edit("group:lobby", 1, "hello"));
    assert!(matches!(answer, ServerMsg::MessageEdited { seq: 1, rev: 2, .. }), "{answer:?}");
    let answer = sim.request("bob", react("group:lobby", 1, "👍", true));
    assert!(matches!(answer, ServerMsg::Reaction { rev: 3, add: true, .. }), "{answer:?}");
    let answer = sim.request("bob", react("group:lobby", 1, "👍", true));
    assert!(matches!(answer, ServerMsg::MessageUpdates { .. }), "{answer:?}");
    let answer = sim.request("alice", delete("group:lobby", 1));
    assert!(matches!(answer, ServerMsg::MessageDeleted { rev: 4, .. }), "{answer:?}");
}

#[test]
fn resume_sends_the_changes_to_held_messages_then_the_missed_ones() {
    let (mut sim, a, b) = two_in_lobby();
    for text in ["one", "two", "three"] {
        sim.recv(a, send("group:lobby", text));
    }
    // Bob holds 1..=3 and has seen every event so far (rev 3).
    sim.disconnect(b);
    sim.recv(a, edit("group:lobby", 2, "two!"));
    sim.recv(a, react("group:lobby", 1, "👍", true));
    sim.recv(a, send("group:lobby", "four"));
    sim.recv(a, delete("group:lobby", 3));
    let resume =
        |last_rev| ClientMsg::Resume { rooms: vec![ResumePoint { room: "group:lobby".into(), last_seq: 3, last_rev }] };
    for last_rev in [Some(3), None] {
        let b = sim.connect("bob");
        sim.take(b);
        sim.recv(b, resume(last_rev));
        let frames = sim.take(b);
        let summary: Vec<(String, Vec<u64>)> = frames
            .iter()
            .map(|f| match f {
                ServerMsg::MessageUpdates { messages, more: false, .. } => {
                    ("updates".into(), messages.iter().map(|m| m.seq).collect())
                }
                ServerMsg::History { messages, resume: true, more: false, .. } => {
                    ("history".into(), messages.iter().map(|m| m.seq).collect())
                }
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(summary, [("updates".into(), vec![1, 2, 3]), ("history".into(), vec![4])], "{last_rev:?}");
        let ServerMsg::MessageUpdates { messages, .. } = &frames[0] else { unreachable!() };
        assert_eq!(messages[1].content, "two!");
        assert!(messages[2].deleted && messages[0].reactions.len() == 1);
        sim.disconnect(b);
    }
    // Up to date: nothing to send.
    let b = sim.connect("bob");
    sim.take(b);
    sim.recv(
        b,
        ClientMsg::Resume { rooms: vec![ResumePoint { room: "group:lobby".into(), last_seq: 4, last_rev: Some(7) }] },
    );
    assert!(sim.take(b).is_empty());
    // Too many events since: start over.
    for i in 0..501 {
        sim.advance(20); // within the rate limit
        sim.recv(a, react("group:lobby", 4, "🎉", i % 2 == 0));
    }
    let b2 = sim.connect("bob");
    sim.take(b2);
    sim.recv(
        b2,
        ClientMsg::Resume { rooms: vec![ResumePoint { room: "group:lobby".into(), last_seq: 4, last_rev: Some(7) }] },
    );
    assert!(matches!(&sim.take(b2)[..], [ServerMsg::ResumeReset { latest_seq: 4, .. }]));
}

#[test]
fn history_and_lifecycle_frames_round_trip_with_the_documented_fields() {
    let (mut sim, a, b) = two_in_lobby();
    sim.recv(a, send("group:lobby", "hi @bob"));
    sim.recv(b, reply("group:lobby", 1, "yo"));
    sim.recv(a, react("group:lobby", 2, "👍", true));
    sim.recv(a, edit("group:lobby", 1, "hi"));
    sim.recv(b, delete("group:lobby", 2));
    let page = history(&sim);
    let json = serde_json::to_value(&page).unwrap();
    assert_eq!(json[0]["edited_at"], serde_json::json!(sim.now().0));
    assert!(
        json[0].get("deleted").is_none() && json[0].get("reactions").is_none() && json[0].get("reply_to").is_none()
    );
    assert_eq!(json[1]["deleted"], true);
    assert_eq!(json[1]["content"], "");
    assert_eq!(json[1]["mentions"], serde_json::json!([]));
    assert_eq!(json[1]["reply_to"], serde_json::json!({"seq": 1, "sender": "alice", "preview": "hi"}));
    assert!(json[1].get("reactions").is_none() && json[1]["deleted_at"].is_u64() && json[1]["rev"] == 2);
    let frames = sim.take(b);
    let kinds: Vec<String> = frames
        .iter()
        .map(|f| serde_json::to_value(f).unwrap()["type"].as_str().unwrap().to_owned())
        .filter(|t| ["message_edited", "message_deleted", "reaction"].contains(&t.as_str()))
        .collect();
    assert_eq!(kinds, ["reaction", "message_edited", "message_deleted"]);
    let edited = frames.iter().find(|f| matches!(f, ServerMsg::MessageEdited { .. })).unwrap();
    let v = serde_json::to_value(edited).unwrap();
    let fields: std::collections::BTreeSet<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(fields, ["content", "edited_at", "mentions", "type", "room", "rev", "seq"].into_iter().collect());
    let c: ClientMsg =
        serde_json::from_str(r#"{"type":"react","room":"group:lobby","seq":1,"emoji":"👍","add":true}"#).unwrap();
    assert_eq!(c, react("group:lobby", 1, "👍", true));
    let c: ClientMsg =
        serde_json::from_str(r#"{"type":"send_message","room":"group:lobby","content":"x","reply_to":3}"#).unwrap();
    assert!(matches!(c, ClientMsg::SendMessage { reply_to: Some(3), .. }));
}
