//! `POST /api/admin/messages/delete`: an administrator deletes any message, DMs included,
//! without being a member; the deletion retracts the notification and is audited; nobody else
//! may call it.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn an_administrator_deletes_any_message_and_it_is_audited() {
    let server = start().await;
    let addr = server.local_addr();
    let root = register(addr, "root").await; // the first account: the administrator
    let bob = register(addr, "bob").await;
    let carol = register(addr, "carol").await;

    let ack =
        post(addr, "/api/messages", Some(&bob), json!({"room_type": "dm", "target": "carol", "content": "psst"})).await;
    assert_eq!(ack.status, 200, "{:?}", ack.json());
    let (room, seq) = (ack.json()["room"].as_str().unwrap().to_owned(), ack.json()["seq"].as_u64().unwrap());
    assert_eq!(get(addr, "/api/notifications", Some(&carol)).await.json()["unread"], 1);

    // Nobody but an administrator: not the recipient, not even the sender.
    for token in [&carol, &bob] {
        let refused = post(addr, "/api/admin/messages/delete", Some(token), json!({"room": room, "seq": seq})).await;
        assert_eq!((refused.status, refused.code()), (403, "forbidden".to_owned()));
    }
    let history = |token: String| {
        let path = format!("/api/messages?room={room}");
        async move { get(addr, &path, Some(&token)).await.json()["messages"].as_array().unwrap().clone() }
    };
    assert_eq!(history(carol.clone()).await[0]["content"], "psst", "the refusals changed nothing");

    // The administrator is no member of the DM, and deletes it.
    let deleted = post(addr, "/api/admin/messages/delete", Some(&root), json!({"room": room, "seq": seq})).await;
    assert_eq!(deleted.status, 200, "{:?}", deleted.json());
    assert_eq!(deleted.json()["type"], "message_deleted");
    let kept = history(carol.clone()).await;
    assert_eq!((kept[0]["deleted"].clone(), kept[0]["content"].clone()), (json!(true), json!("")), "a tombstone");
    assert_eq!(get(addr, "/api/notifications", Some(&carol)).await.json()["unread"], 0, "the notification went");

    let audit = get(addr, "/api/admin/audit", Some(&root)).await.json();
    assert!(audit_actions(&audit).contains(&("message_delete".into(), format!("{room}#{seq}"))), "{audit}");

    // Deleting it again changes nothing (the core answers with the current state); a missing
    // message keeps its code. Neither is audited.
    let again = post(addr, "/api/admin/messages/delete", Some(&root), json!({"room": room, "seq": seq})).await;
    assert_eq!((again.status, again.json()["type"].clone()), (200, json!("message_updates")));
    let missing = post(addr, "/api/admin/messages/delete", Some(&root), json!({"room": room, "seq": 99})).await;
    assert_eq!((missing.status, missing.code()), (404, "message_not_found".to_owned()));
    assert_eq!(
        audit_actions(&get(addr, "/api/admin/audit", Some(&root)).await.json()).len(),
        1,
        "only the deletion is audited"
    );
    server.shutdown().await;
}
