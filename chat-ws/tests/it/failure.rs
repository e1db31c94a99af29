use std::time::Duration;

use chat_core::{ClientMsg, Codec, ServerMsg};

use crate::support::{Client, Read, TestServer, config};

#[tokio::test]
async fn slow_reader_is_closed_while_others_get_every_message() {
    let mut config = config();
    config.session_queue = 8;
    let (server, _journal) = TestServer::memory(config).await;
    let mut alice = server.client("alice", Codec::Json).await;
    let mut bob = server.client("bob", Codec::MsgPack).await;
    let mut carol = Client::open(server.addr, Some("carol"), Codec::Json, Some(4096)).await;
    carol.until(|m| matches!(m, ServerMsg::Connected { .. }).then_some(())).await;
    for client in [&mut alice, &mut bob, &mut carol] {
        client.join("group:lobby").await;
    }

    // Bob reads everything in the background; carol reads nothing from here on.
    let bob_task = tokio::spawn(async move {
        let mut seqs = Vec::new();
        loop {
            let m = bob.next_message().await;
            seqs.push(m.seq);
            if m.content == "last" {
                return seqs;
            }
        }
    });

    let big = "x".repeat(3_900);
    let mut sent = 0u64;
    while server.hub.metrics().slow_consumers_closed == 0 {
        assert!(sent < 50_000, "carol was never closed as a slow consumer");
        alice.send_acked("group:lobby", &big, None).await;
        sent += 1;
        // Alice reads her own copy so she never becomes slow herself.
        alice.next_message().await;
    }
    alice.send_acked("group:lobby", "last", None).await;
    sent += 1;

    let seqs = bob_task.await.unwrap();
    assert_eq!(seqs, (1..=sent).collect::<Vec<_>>(), "bob missed or reordered messages");
    assert_eq!(server.hub.metrics().slow_consumers_closed, 1);

    // Carol gets what was buffered, then the connection ends (close 1008 if it got through).
    let mut carol_saw = 0u64;
    let end = loop {
        match carol.read().await {
            Read::Event(ServerMsg::Message(_)) => carol_saw += 1,
            Read::Event(_) => {}
            Read::Closed(frame) => break frame.map(|f| u16::from(f.code)),
            Read::Ended => break None,
        }
    };
    assert!(carol_saw < sent, "carol got everything ({carol_saw}) but was closed as slow");
    assert!(matches!(end, None | Some(1008)), "unexpected close {end:?}");
}

#[tokio::test]
async fn failed_commit_acknowledges_nothing_and_clients_can_resume() {
    let (server, journal) = TestServer::memory(config()).await;
    let mut alice = server.client("alice", Codec::Json).await;
    let mut bob = server.client("bob", Codec::MsgPack).await;
    alice.join("group:lobby").await;
    bob.join("group:lobby").await;

    journal.lock().fail_next_appends(1);
    alice.send(&crate::support::send("group:lobby", "lost", Some("c-1"))).await;
    // Neither an ack nor a message arrives before the close.
    for client in [&mut alice, &mut bob] {
        let code = loop {
            match client.read().await {
                Read::Event(ServerMsg::Ack { .. } | ServerMsg::Message(_)) => panic!("acknowledged a failed commit"),
                Read::Event(_) => {}
                Read::Closed(frame) => break frame.map(|f| u16::from(f.code)),
                Read::Ended => break None,
            }
        };
        assert_eq!(code, Some(1011));
    }
    assert_eq!(server.hub.metrics().commit_failures, 1);
    assert!(journal.lock().entries().iter().all(|e| !matches!(e, chat_core::LogEntry::Message(_))));

    // Reconnect: nothing was stored, and the same client id is accepted as new.
    let mut alice = server.client("alice", Codec::Json).await;
    let mut bob = server.client("bob", Codec::MsgPack).await;
    let history = ClientMsg::History {
        room: crate::support::room("group:lobby"),
        before: None,
        after: None,
        limit: None,
        around: None,
    };
    bob.send(&history).await;
    let stored = bob
        .until(|m| match m {
            ServerMsg::History { messages, .. } => Some(messages.len()),
            _ => None,
        })
        .await;
    assert_eq!(stored, 0);
    assert_eq!(alice.send_acked("group:lobby", "kept", Some("c-1")).await, (1, false));
    assert_eq!(bob.next_message().await.content, "kept");
}

#[tokio::test]
async fn kick_closes_one_session_with_1000() {
    let (server, _journal) = TestServer::memory(config()).await;
    let mut alice = Client::open(server.addr, Some("alice"), Codec::Json, None).await;
    let session = alice
        .until(|m| match m {
            ServerMsg::Connected { session, .. } => Some(*session),
            _ => None,
        })
        .await;
    let mut bob = server.client("bob", Codec::Json).await;
    server.hub.kick(chat_core::SessionId(session));
    assert_eq!(alice.close_code().await, Some(1000));
    bob.send(&ClientMsg::ListRooms(Default::default())).await;
    bob.until(|m| matches!(m, ServerMsg::RoomList { .. }).then_some(())).await;
}

#[tokio::test]
async fn silent_peer_is_pinged_then_closed_as_idle() {
    let mut config = config();
    config.limits.ping_interval = Duration::from_millis(50);
    config.limits.idle_timeout = Duration::from_millis(150);
    config.limits.write_timeout = Duration::from_millis(300);
    let (server, _journal) = TestServer::memory(config).await;
    // A raw TCP peer that completes the handshake and then never reads nor answers pings: use
    // a tungstenite client but only poll it after the server has given up.
    let mut quiet = server.client("quiet", Codec::Json).await;
    // Wait (without reading) until the hub has dropped the session.
    while server.hub.metrics().sessions > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut saw_ping = false;
    let code = loop {
        match tokio::time::timeout(crate::support::HANG_GUARD, futures::StreamExt::next(&mut quiet.ws)).await {
            Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Ping(_)))) => saw_ping = true,
            Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Close(frame)))) => {
                break frame.map(|f| u16::from(f.code));
            }
            Ok(Some(Ok(_))) => {}
            _ => break None,
        }
    };
    assert!(saw_ping, "no ping before the idle close");
    assert_eq!(code, Some(1001));
}

#[tokio::test]
async fn a_peer_that_answers_pings_stays_connected() {
    let mut config = config();
    config.limits.ping_interval = Duration::from_millis(100);
    config.limits.idle_timeout = Duration::from_secs(3);
    let (server, _journal) = TestServer::memory(config).await;
    let mut client = server.client("chatty", Codec::Json).await;
    // Reading answers each ping (tungstenite queues the pong and flushes it on the next read).
    let mut pings = 0;
    while pings < 3 {
        match tokio::time::timeout(crate::support::HANG_GUARD, futures::StreamExt::next(&mut client.ws)).await {
            Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Ping(_)))) => pings += 1,
            Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Close(frame)))) => panic!("closed: {frame:?}"),
            Ok(Some(Ok(_))) => {}
            other => panic!("connection ended: {other:?}"),
        }
    }
    client.send(&ClientMsg::ListRooms(Default::default())).await;
    client.until(|m| matches!(m, ServerMsg::RoomList { .. }).then_some(())).await;
    assert_eq!(server.hub.metrics().sessions, 1);
}

/// A failed commit reaches a REST caller as a typed error that keeps the journal's own error
/// as its source.
#[tokio::test]
async fn a_failed_commit_keeps_the_journal_error_as_its_source() {
    let (server, journal) = TestServer::memory(config()).await;
    journal.lock().fail_next_appends(1);
    let join = ClientMsg::JoinRoom { room: crate::support::room("group:lobby") };
    let error = server.hub.request("ivan".parse().unwrap(), join.clone()).await.unwrap_err();
    assert!(matches!(&error, chat_ws::HubError::CommitFailed(chat_ws::JournalError::Journal(_))), "{error:?}");
    let mut chain = Vec::new();
    let mut source: Option<&dyn std::error::Error> = Some(&error);
    while let Some(e) = source {
        chain.push(e.to_string());
        source = e.source();
    }
    assert_eq!(chain.last().map(String::as_str), Some("injected append failure"), "{chain:?}");
    // The next commit works: the hub restored the core and goes on.
    assert!(matches!(server.hub.request("ivan".parse().unwrap(), join).await, Ok(ServerMsg::RoomJoined(_))));
}

/// The core's close reason reaches the client's close frame.
#[tokio::test]
async fn a_flooding_session_is_closed_with_the_cores_reason() {
    let mut config = config();
    config.chat.op_rate_per_sec = 1;
    config.chat.op_burst = 1;
    config.chat.max_strikes = 5;
    let (server, _journal) = TestServer::memory(config).await;
    let mut flood = server.client("flood", Codec::Json).await;
    let mut calm = server.client("calm", Codec::Json).await;
    for _ in 0..50 {
        flood.send(&ClientMsg::ListRooms(Default::default())).await;
    }
    assert_eq!(flood.close_frame().await, Some((1008, "flooding".to_owned())));
    calm.send(&ClientMsg::ListUsers(Default::default())).await;
    calm.until(|m| matches!(m, ServerMsg::UserList { .. }).then_some(())).await;
}

/// One member of a busy room: keeps `window` sends in flight until it sent `to_send`, reads
/// everything, and returns the seqs of every message it received, once `expected` arrived.
async fn chatter(mut client: Client, to_send: usize, window: usize, expected: usize) -> Vec<u64> {
    let mut sent = 0;
    let mut seqs = Vec::with_capacity(expected);
    while sent < window.min(to_send) {
        client.send(&crate::support::send("group:busy", "x", None)).await;
        sent += 1;
    }
    while seqs.len() < expected {
        match client.read().await {
            Read::Event(ServerMsg::Ack { .. }) if sent < to_send => {
                client.send(&crate::support::send("group:busy", "x", None)).await;
                sent += 1;
            }
            Read::Event(ServerMsg::Message(m)) => seqs.push(m.seq),
            Read::Event(ServerMsg::Error { code, message, .. }) => panic!("refused: {code} {message}"),
            Read::Event(_) => {}
            other => panic!("a reader that kept reading was closed: {other:?}"),
        }
    }
    seqs
}

/// Overload slows the senders, not the readers: many members keep sends in flight in one room
/// (far more than a reader's queue per batch); every member reads as fast as it can, and none
/// is closed as a slow consumer: the hub stops taking input until the readers catch up.
#[tokio::test]
async fn overload_slows_senders_before_closing_readers() {
    let mut config = config();
    config.session_queue = 16;
    // Never stop waiting for a reader here: the test must not depend on scheduling.
    config.reader_grace = crate::support::HANG_GUARD;
    let (server, _journal) = TestServer::memory(config).await;
    let (members, per_member, window) = (12, 60, 8);
    let mut clients = Vec::new();
    for i in 0..members {
        let mut client = server.client(&format!("m{i}"), Codec::Json).await;
        client.join("group:busy").await;
        clients.push(client);
    }
    let expected = members * per_member;
    let tasks: Vec<_> = clients.into_iter().map(|c| tokio::spawn(chatter(c, per_member, window, expected))).collect();
    for task in tasks {
        let seqs = task.await.unwrap();
        assert_eq!(seqs, (1..=expected as u64).collect::<Vec<_>>());
    }
    let metrics = server.hub.metrics();
    assert_eq!(metrics.slow_consumers_closed, 0);
    assert!(metrics.input_paused > 0, "the hub never held back input: the test did not overload it");
}

/// A session past the per-user cap is closed with the core's reason.
#[tokio::test]
async fn a_session_past_the_per_user_cap_is_closed_with_too_many_sessions() {
    let mut config = config();
    config.chat.max_sessions_per_user = 1;
    let (server, _journal) = TestServer::memory(config).await;
    let _first = server.client("judy", Codec::Json).await;
    let mut second = Client::open(server.addr, Some("judy"), Codec::Json, None).await;
    assert_eq!(second.close_frame().await, Some((1008, "too many sessions".to_owned())));
}
