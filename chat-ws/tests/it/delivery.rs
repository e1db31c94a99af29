use chat_core::protocol::ResumePoint;
use chat_core::{ClientMsg, Codec, ServerMsg};

use crate::support::{TestServer, config};

async fn join_send_receive(alice_codec: Codec, bob_codec: Codec) {
    let (server, journal) = TestServer::memory(config()).await;
    let mut alice = server.client("alice", alice_codec).await;
    let mut bob = server.client("bob", bob_codec).await;
    alice.join("group:lobby").await;
    bob.join("group:lobby").await;

    let (seq, duplicate) = alice.send_acked("group:lobby", "hello @bob", Some("c-1")).await;
    assert_eq!((seq, duplicate), (1, false));
    let got = bob.next_message().await;
    assert_eq!(got.seq, 1);
    assert_eq!(got.content, "hello @bob");
    assert_eq!(got.sender.as_str(), "alice");
    assert_eq!(got.mentions.iter().map(|u| u.as_str()).collect::<Vec<_>>(), ["bob"]);
    // The sender sees its own message too.
    assert_eq!(alice.next_message().await.seq, 1);
    // Bob was mentioned: a notification follows.
    bob.until(|m| matches!(m, ServerMsg::MentionNotification(n) if n.sender.as_str() == "alice").then_some(())).await;
    // Durable before it was delivered.
    let stored = journal.lock().entries().iter().filter(|e| matches!(e, chat_core::LogEntry::Message(_))).count();
    assert_eq!(stored, 1);
    let metrics = server.hub.metrics();
    assert_eq!(metrics.messages, 1);
    assert_eq!(metrics.sessions, 2);
    assert!(metrics.deliveries >= 2 && metrics.commit_batches >= 1);
}

#[tokio::test]
async fn join_send_receive_json() {
    join_send_receive(Codec::Json, Codec::Json).await;
}

#[tokio::test]
async fn join_send_receive_msgpack() {
    join_send_receive(Codec::MsgPack, Codec::MsgPack).await;
}

#[tokio::test]
async fn mixed_codecs_share_a_room() {
    join_send_receive(Codec::Json, Codec::MsgPack).await;
}

#[tokio::test]
async fn retried_send_with_same_client_id_is_stored_once() {
    let (server, journal) = TestServer::memory(config()).await;
    let mut alice = server.client("alice", Codec::Json).await;
    let mut bob = server.client("bob", Codec::MsgPack).await;
    alice.join("group:lobby").await;
    bob.join("group:lobby").await;

    assert_eq!(alice.send_acked("group:lobby", "once", Some("retry-1")).await, (1, false));
    assert_eq!(alice.send_acked("group:lobby", "once", Some("retry-1")).await, (1, true));
    assert_eq!(alice.send_acked("group:lobby", "twice", Some("retry-2")).await, (2, false));

    // Bob sees seq 1 then seq 2: the retry was not delivered again.
    assert_eq!(bob.next_message().await.content, "once");
    let second = bob.next_message().await;
    assert_eq!((second.seq, second.content.as_str()), (2, "twice"));
    let stored: Vec<_> = journal
        .lock()
        .entries()
        .iter()
        .filter_map(|e| match e {
            chat_core::LogEntry::Message(m) => Some(m.content.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(stored, ["once", "twice"]);
    let room = "group:lobby".parse().unwrap();
    let last_seq = server.hub.query(move |chat| chat.room(&room).map(|r| r.last_seq())).await.unwrap();
    assert_eq!(last_seq, Some(2));
}

#[tokio::test]
async fn reconnect_and_resume_gets_exactly_the_missed_messages() {
    let (server, _journal) = TestServer::memory(config()).await;
    let mut alice = server.client("alice", Codec::Json).await;
    let mut bob = server.client("bob", Codec::MsgPack).await;
    alice.join("group:lobby").await;
    bob.join("group:lobby").await;
    alice.send_acked("group:lobby", "one", None).await;
    assert_eq!(bob.next_message().await.seq, 1);

    // Bob goes away; the hub sees the disconnect before the next message.
    drop(bob);
    let bob_gone = loop {
        let users = server.hub.query(|chat| chat.is_online(&"bob".parse().unwrap())).await.unwrap();
        if !users {
            break true;
        }
        tokio::task::yield_now().await;
    };
    assert!(bob_gone);
    alice.send_acked("group:lobby", "two", None).await;
    alice.send_acked("group:lobby", "three", None).await;

    let mut bob = server.client("bob", Codec::MsgPack).await;
    bob.send(&ClientMsg::Resume {
        rooms: vec![ResumePoint { room: "group:lobby".into(), last_seq: 1, last_rev: None }],
    })
    .await;
    let missed = bob
        .until(|m| match m {
            ServerMsg::History { messages, resume: true, .. } => Some(messages.clone()),
            _ => None,
        })
        .await;
    let missed: Vec<(u64, &str)> = missed.iter().map(|m| (m.seq, m.content.as_str())).collect();
    assert_eq!(missed, [(2, "two"), (3, "three")]);

    // And live delivery continues after the resume.
    alice.send_acked("group:lobby", "four", None).await;
    let live = bob.next_message().await;
    assert_eq!((live.seq, live.content.as_str()), (4, "four"));
}

#[tokio::test]
async fn rest_requests_and_add_user_go_through_the_hub() {
    let (server, journal) = TestServer::memory(config()).await;
    server.hub.add_user("carol".parse().unwrap()).await.unwrap();
    assert!(journal.lock().state().user(&"carol".parse().unwrap()).is_some());
    let mut alice = server.client("alice", Codec::Json).await;
    alice.join("group:lobby").await;

    let reply = server
        .hub
        .request("carol".parse().unwrap(), ClientMsg::JoinRoom { room: crate::support::room("group:lobby") })
        .await
        .unwrap();
    assert!(matches!(reply, ServerMsg::RoomJoined(_)), "{reply:?}");
    let reply = server
        .hub
        .request("carol".parse().unwrap(), crate::support::send("group:lobby", "via rest", Some("r1")))
        .await
        .unwrap();
    assert!(matches!(reply, ServerMsg::Ack { seq: 1, duplicate: false, .. }), "{reply:?}");
    assert_eq!(alice.next_message().await.content, "via rest");
}

/// The embedder path (no WebSocket): one `Deliver` is one shared frame, encoded once per codec.
#[tokio::test]
async fn session_links_share_one_frame_per_delivery() {
    use std::sync::Arc;

    use chat_ws::{OutFrame, SessionEvent, SessionLink};

    async fn next_message(link: &mut SessionLink) -> Arc<OutFrame> {
        loop {
            match link.recv().await {
                SessionEvent::Frame(frame) if matches!(frame.msg(), ServerMsg::Message(_)) => return frame,
                SessionEvent::Frame(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    let (server, _journal) = TestServer::memory(config()).await;
    let hub = &server.hub;
    let mut links = Vec::new();
    for name in ["ann", "ben", "cid"] {
        let mut link = hub.connect(name.parse().unwrap()).await.unwrap();
        link.send(ClientMsg::JoinRoom { room: crate::support::room("group:lobby") }).await.unwrap();
        loop {
            if let SessionEvent::Frame(f) = link.recv().await
                && matches!(f.msg(), ServerMsg::RoomJoined(_))
            {
                break;
            }
        }
        links.push(link);
    }
    links[0].send(crate::support::send("group:lobby", "shared", None)).await.unwrap();
    let mut frames = Vec::new();
    for link in &mut links {
        frames.push(next_message(link).await);
    }
    assert!(frames.iter().all(|f| Arc::ptr_eq(f, &frames[0])), "each recipient got its own copy");
    // Encoded once per codec: every recipient gets the same bytes (same allocation).
    let first = frames[0].bytes(Codec::Json).unwrap();
    let again = frames[1].bytes(Codec::Json).unwrap();
    assert_eq!(first.as_ptr(), again.as_ptr());
    assert_ne!(frames[2].bytes(Codec::MsgPack).unwrap().as_ptr(), first.as_ptr());
    assert_eq!(Codec::Json.decode_server(&first).unwrap(), *frames[0].msg());

    // Dropping a link disconnects its session exactly once.
    let ann_session = links[0].id();
    drop(links.remove(0));
    while hub.metrics().sessions != 2 {
        tokio::task::yield_now().await;
    }
    let gone = hub.query(move |chat| chat.session_user(ann_session).is_none()).await.unwrap();
    assert!(gone);
}

/// A tiny hub inbox: pumps wait for room (and keep writing meanwhile); nothing is lost.
#[tokio::test]
async fn a_full_inbox_delays_but_loses_nothing() {
    let mut config = config();
    config.inbox_capacity = 1;
    config.max_batch = 2;
    let (server, _journal) = TestServer::memory(config).await;
    let mut alice = server.client("alice", Codec::MsgPack).await;
    let mut bob = server.client("bob", Codec::Json).await;
    alice.join("group:lobby").await;
    bob.join("group:lobby").await;
    for i in 0..200 {
        alice.send(&crate::support::send("group:lobby", &format!("m{i}"), None)).await;
    }
    let mut acked = 0;
    while acked < 200 {
        alice.until(|m| matches!(m, ServerMsg::Ack { .. }).then_some(())).await;
        acked += 1;
    }
    for i in 0..200u64 {
        let m = bob.next_message().await;
        assert_eq!((m.seq, m.content), (i + 1, format!("m{i}")));
    }
    assert_eq!(server.hub.metrics().slow_consumers_closed, 0);
}

/// A history page of the largest messages is answered, never dropped: the core cuts it by
/// size and every frame fits the write buffer.
#[tokio::test]
async fn a_history_page_of_the_largest_messages_is_answered() {
    let (server, _journal) = TestServer::memory(crate::support::config()).await;
    let mut alice = server.client("alice", Codec::Json).await;
    alice.join("group:lobby").await;
    let big = "\u{1F600}".repeat(chat_core::Config::default().max_message_chars);
    for _ in 0..40 {
        alice.send_acked("group:lobby", &big, None).await;
    }
    let history = ClientMsg::History {
        room: crate::support::room("group:lobby"),
        before: None,
        after: None,
        limit: Some(100),
        around: None,
    };
    alice.send(&history).await;
    let (count, more) = alice
        .until(|m| match m {
            ServerMsg::History { messages, more, .. } => Some((messages.len(), *more)),
            _ => None,
        })
        .await;
    assert!(count > 0 && more, "{count} messages, more: {more}");
}
