//! Attachments in messages through the real server: members of the room read them, others get
//! 404; leaving a room or deleting the message ends that; a message cannot carry someone else's
//! upload; garbage collection keeps referenced files and takes released ones.

use std::time::Duration;

use serde_json::json;

use crate::attachments::{files_in, png, start_in, uploaded, wait_until_gone};
use crate::support::{get, post, register};

#[tokio::test]
async fn members_read_a_messages_attachments_and_nobody_else_does() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path(), |_| {}).await;
    let addr = server.local_addr();
    let (alice, bob, carol) =
        (register(addr, "alice").await, register(addr, "bob").await, register(addr, "carol").await);
    assert_eq!(
        post(addr, "/api/rooms", Some(&alice), json!({"room_name": "lobby", "private": false})).await.status,
        201
    );
    assert_eq!(post(addr, "/api/rooms/join", Some(&bob), json!({"room": "group:lobby"})).await.status, 200);
    let a = uploaded(addr, &alice, "cat.png", &png(20, 10)).await;
    let id = a["id"].as_str().unwrap().to_owned();
    let path = format!("/api/attachments/{id}");
    assert_eq!(get(addr, &path, Some(&bob)).await.status, 404, "not referenced yet");

    // Bob cannot send alice's upload.
    let stolen =
        post(addr, "/api/messages", Some(&bob), json!({"room": "group:lobby", "content": "", "attachments": [id]}))
            .await;
    assert_eq!((stolen.status, stolen.code()), (404, "attachment_not_found".to_owned()));

    let sent =
        post(addr, "/api/messages", Some(&alice), json!({"room": "group:lobby", "content": "", "attachments": [id]}))
            .await;
    assert_eq!(sent.status, 200, "{}", String::from_utf8_lossy(&sent.body));
    let history = get(addr, "/api/messages?room=group:lobby", Some(&bob)).await.json();
    let message = &history["messages"][0];
    assert_eq!(message["content"], "");
    assert_eq!(message["attachments"][0]["id"], id.as_str());
    assert_eq!(message["attachments"][0]["name"], "cat.png");
    assert_eq!(message["attachments"][0]["width"], 20);

    assert_eq!(get(addr, &path, Some(&bob)).await.status, 200);
    assert_eq!(get(addr, &format!("{path}/thumbnail"), Some(&bob)).await.status, 200);
    for token in [Some(carol.as_str()), None] {
        let r = get(addr, &path, token).await;
        assert_eq!((r.status, r.code()), (404, "attachment_not_found".to_owned()), "{token:?}");
    }
    // Leaving the room ends bob's access; the uploader keeps hers.
    assert_eq!(post(addr, "/api/rooms/leave", Some(&bob), json!({"room": "group:lobby"})).await.status, 200);
    assert_eq!(get(addr, &path, Some(&bob)).await.status, 404);
    assert_eq!(post(addr, "/api/rooms/join", Some(&carol), json!({"room": "group:lobby"})).await.status, 200);
    assert_eq!(get(addr, &path, Some(&carol)).await.status, 200, "a member now");
    // Deleting the message releases the file.
    let seq = message["seq"].as_u64().unwrap();
    let deleted = post(addr, "/api/messages/delete", Some(&alice), json!({"room": "group:lobby", "seq": seq})).await;
    assert_eq!(deleted.status, 200);
    assert_eq!(get(addr, &path, Some(&carol)).await.status, 404);
    let history = get(addr, "/api/messages?room=group:lobby", Some(&carol)).await.json();
    assert!(history["messages"][0].get("attachments").is_none());
    server.shutdown().await;
}

#[tokio::test]
async fn too_many_attachments_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path(), |_| {}).await;
    let addr = server.local_addr();
    let alice = register(addr, "alice").await;
    post(addr, "/api/rooms", Some(&alice), json!({"room_name": "lobby", "private": false})).await;
    let a = uploaded(addr, &alice, "a.txt", b"a").await;
    let ids: Vec<_> = std::iter::repeat_n(a["id"].clone(), 2).collect();
    let r =
        post(addr, "/api/messages", Some(&alice), json!({"room": "group:lobby", "content": "x", "attachments": ids}))
            .await;
    assert_eq!((r.status, r.code()), (400, "too_many_attachments".to_owned()));
    server.shutdown().await;
}

#[tokio::test]
async fn collection_keeps_referenced_files_and_takes_released_ones() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path(), |c| {
        c.attachments.grace = Duration::from_millis(300);
        c.attachments.gc_interval = Duration::from_millis(100);
    })
    .await;
    let addr = server.local_addr();
    let alice = register(addr, "alice").await;
    post(addr, "/api/rooms", Some(&alice), json!({"room_name": "lobby", "private": false})).await;
    let kept = uploaded(addr, &alice, "kept.txt", b"referenced").await;
    let stray = uploaded(addr, &alice, "stray.txt", b"never sent").await;
    let (kept, stray) = (kept["id"].as_str().unwrap().to_owned(), stray["id"].as_str().unwrap().to_owned());
    let sent = post(
        addr,
        "/api/messages",
        Some(&alice),
        json!({"room": "group:lobby", "content": "f", "attachments": [kept]}),
    )
    .await;
    assert_eq!(sent.status, 200);
    wait_until_gone(dir.path(), &stray).await;
    // The pass that took the stray file saw the referenced one, older than the grace period by
    // now too, and kept it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(files_in(dir.path()), vec![kept.clone()]);
    let seq = sent.json()["seq"].as_u64().unwrap();
    post(addr, "/api/messages/delete", Some(&alice), json!({"room": "group:lobby", "seq": seq})).await;
    wait_until_gone(dir.path(), &kept).await;
    assert!(files_in(dir.path()).is_empty());
    server.shutdown().await;
}
