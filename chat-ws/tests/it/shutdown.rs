use chat_core::{ClientMsg, Codec, HistoryQuery, HistoryRange, Journal, ServerMsg};
use chat_ws::HubError;

use crate::support::{TestServer, config};

#[tokio::test]
async fn graceful_shutdown_commits_and_closes_with_1001() {
    let (mut server, journal) = TestServer::memory(config()).await;
    let mut alice = server.client("alice", Codec::Json).await;
    let mut bob = server.client("bob", Codec::MsgPack).await;
    alice.join("group:lobby").await;
    bob.join("group:lobby").await;
    alice.send_acked("group:lobby", "before shutdown", None).await;

    // Shutdown waits for the clients' close handshakes, so read them concurrently.
    let hub = server.hub.clone();
    let shutdown = tokio::spawn(async move { hub.shutdown().await });
    assert_eq!(alice.close_code().await, Some(1001));
    assert_eq!(bob.close_code().await, Some(1001));
    shutdown.await.unwrap();
    let hub = server.hub.clone();
    (&mut server.task).await.unwrap();
    assert_eq!(hub.connect("carol".parse().unwrap()).await.err(), Some(HubError::Closed));
    assert_eq!(hub.metrics().sessions, 0);
    let room = "group:lobby".parse().unwrap();
    let page = journal.lock().history(&HistoryQuery { room, range: HistoryRange::Latest, limit: 10 }).unwrap();
    assert_eq!(page.len(), 1);
}

#[tokio::test]
async fn messages_survive_a_restart_on_chat_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.redb");
    {
        let store = chat_store::Store::open(&path).unwrap();
        let server = TestServer::start(config(), store).await;
        let mut alice = server.client("alice", Codec::Json).await;
        alice.join("group:lobby").await;
        alice.send_acked("group:lobby", "durable", Some("d-1")).await;
        let hub = server.hub.clone();
        let shutdown = tokio::spawn(async move { hub.shutdown().await });
        assert_eq!(alice.close_code().await, Some(1001));
        shutdown.await.unwrap();
    }
    let store = chat_store::Store::open(&path).unwrap();
    let server = TestServer::start(config(), store).await;
    let mut alice = server.client("alice", Codec::MsgPack).await;
    // The retry after the restart is recognised: stored once.
    assert_eq!(alice.send_acked("group:lobby", "durable", Some("d-1")).await, (1, true));
    alice
        .send(&ClientMsg::History {
            room: crate::support::room("group:lobby"),
            before: None,
            after: None,
            limit: None,
            around: None,
        })
        .await;
    let page = alice
        .until(|m| match m {
            ServerMsg::History { messages, resume: false, .. } => Some(messages.clone()),
            _ => None,
        })
        .await;
    assert_eq!(page.iter().map(|m| m.content.as_str()).collect::<Vec<_>>(), ["durable"]);
}
