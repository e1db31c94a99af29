//! Attachments in messages through the real server: members of the room read them, others get
//! 404; leaving a room or deleting the message ends that; a message cannot carry someone else's
//! upload; garbage collection keeps referenced files and takes released ones.

use std::time::Duration;

use serde_json::json;

use crate::support::{
    AttachmentServer, attachment_id, create_room, get, png, post, quick_collection, register, send_with_attachments,
    uploaded, wait_until_collected,
};

#[tokio::test]
async fn members_read_a_messages_attachments_and_nobody_else_does() {
    let server = AttachmentServer::start(|_| {}).await;
    let addr = server.addr;
    let (alice, bob, carol) =
        (register(addr, "alice").await, register(addr, "bob").await, register(addr, "carol").await);
    create_room(addr, &alice, "lobby", false).await;
    assert_eq!(post(addr, "/api/rooms/join", Some(&bob), json!({"room": "group:lobby"})).await.status, 200);
    let id = attachment_id(&uploaded(addr, &alice, "cat.png", &png(20, 10)).await);
    let path = format!("/api/attachments/{id}");
    assert_eq!(get(addr, &path, Some(&bob)).await.status, 404, "not referenced yet");

    // Bob cannot send alice's upload.
    let stolen = send_with_attachments(addr, &bob, "group:lobby", "", &[&id]).await;
    assert_eq!((stolen.status, stolen.code()), (404, "attachment_not_found".to_owned()));

    let sent = send_with_attachments(addr, &alice, "group:lobby", "", &[&id]).await;
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
    let server = AttachmentServer::start(|_| {}).await;
    let addr = server.addr;
    let alice = register(addr, "alice").await;
    create_room(addr, &alice, "lobby", false).await;
    let id = attachment_id(&uploaded(addr, &alice, "a.txt", b"a").await);
    let r = send_with_attachments(addr, &alice, "group:lobby", "x", &[&id, &id]).await;
    assert_eq!((r.status, r.code()), (400, "too_many_attachments".to_owned()));
    server.shutdown().await;
}

#[tokio::test]
async fn collection_keeps_referenced_files_and_takes_released_ones() {
    let server = AttachmentServer::start(quick_collection).await;
    let addr = server.addr;
    let alice = register(addr, "alice").await;
    create_room(addr, &alice, "lobby", false).await;
    let kept = attachment_id(&uploaded(addr, &alice, "kept.txt", b"referenced").await);
    let stray = attachment_id(&uploaded(addr, &alice, "stray.txt", b"never sent").await);
    let sent = send_with_attachments(addr, &alice, "group:lobby", "f", &[&kept]).await;
    assert_eq!(sent.status, 200);
    wait_until_collected(server.dir.path(), &stray).await;
    // The pass that took the stray file saw the referenced one, older than the grace period by
    // now too, and kept it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(server.files(), vec![kept.clone()]);
    let seq = sent.json()["seq"].as_u64().unwrap();
    post(addr, "/api/messages/delete", Some(&alice), json!({"room": "group:lobby", "seq": seq})).await;
    wait_until_collected(server.dir.path(), &kept).await;
    assert!(server.files().is_empty());
    server.shutdown().await;
}
