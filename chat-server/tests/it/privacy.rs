use serde_json::{Value, json};

use crate::support::*;

fn room_keys(rooms: &Value) -> Vec<String> {
    rooms["rooms"].as_array().unwrap().iter().map(|r| r["room"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn nobody_reads_another_users_dms_or_notifications() {
    let server = start().await;
    let addr = server.local_addr();
    let alice = register(addr, "alice").await;
    let bob = register(addr, "bob").await;
    let carol = register(addr, "carol").await;

    // Bob is DM-able right after registering, before he ever connected.
    let ack =
        post(addr, "/api/messages", Some(&alice), json!({"room_type": "dm", "target": "bob", "content": "the secret"}))
            .await;
    assert_eq!(ack.status, 200, "{:?}", ack.json());
    assert_eq!(ack.json()["room"], "dm:alice:bob");

    let page = get(addr, "/api/messages?room=dm%3Aalice%3Abob", Some(&bob)).await;
    assert_eq!(page.status, 200);
    let messages = page.json()["messages"].as_array().unwrap().clone();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["content"], "the secret");
    assert_eq!(messages[0]["sender"], "alice");
    // The seed's style names the same room.
    let seed = get(addr, "/api/messages?room_type=dm&target=alice", Some(&bob)).await;
    assert_eq!(seed.json()["messages"].as_array().unwrap().len(), 1);

    // Carol: refused by key, and the seed's `user=` parameter changes nothing.
    for path in [
        "/api/messages?room=dm:alice:bob",
        "/api/messages?room=dm:alice:bob&user=bob",
        "/api/room_users?room=dm:alice:bob",
    ] {
        let r = get(addr, path, Some(&carol)).await;
        assert_eq!(r.status, 403, "{path}: {:?}", r.json());
        assert_eq!(r.code(), "forbidden");
        assert!(!String::from_utf8_lossy(&r.body).contains("the secret"));
    }
    // Her own DM with bob does not exist: not found, not someone else's.
    let none = get(addr, "/api/messages?room_type=dm&target=bob", Some(&carol)).await;
    assert_eq!(none.status, 404);
    assert_eq!(none.code(), "room_not_found");

    // Notifications are the caller's own.
    let bobs = get(addr, "/api/notifications", Some(&bob)).await.json();
    assert_eq!(bobs["type"], "notifications");
    assert_eq!(bobs["unread"], 1);
    assert_eq!(bobs["items"][0]["kind"], "dm");
    assert_eq!(bobs["items"][0]["sender"], "alice");
    for path in ["/api/notifications", "/api/notifications?user=bob"] {
        let carols = get(addr, path, Some(&carol)).await.json();
        assert_eq!(carols["items"].as_array().unwrap().len(), 0, "{path}");
        assert_eq!(carols["unread"], 0);
    }
    // Carol marking "all" read touches only hers.
    let r = post(addr, "/api/notifications/read", Some(&carol), json!({})).await;
    assert_eq!(r.status, 200);
    assert_eq!(get(addr, "/api/notifications", Some(&bob)).await.json()["unread"], 1);
    let r = post(addr, "/api/notifications/read", Some(&bob), json!({"ids": [1]})).await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(get(addr, "/api/notifications", Some(&bob)).await.json()["unread"], 0);

    // Rooms list: each sees only their own rooms, with counts.
    let bob_rooms = get(addr, "/api/rooms", Some(&bob)).await.json();
    assert_eq!(room_keys(&bob_rooms), vec!["dm:alice:bob"]);
    assert_eq!(bob_rooms["rooms"][0]["unread"], 1);
    assert_eq!(bob_rooms["rooms"][0]["highlight"], 1);
    assert!(room_keys(&get(addr, "/api/rooms", Some(&carol)).await.json()).is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn private_rooms_are_invite_only() {
    let server = start().await;
    let addr = server.local_addr();
    let alice = register(addr, "alice").await;
    let bob = register(addr, "bob").await;
    let carol = register(addr, "carol").await;

    let created = post(addr, "/api/rooms", Some(&alice), json!({"room_name": "plans", "private": true})).await;
    assert_eq!(created.status, 201, "{:?}", created.json());
    assert_eq!(created.json()["type"], "room_joined");
    assert_eq!(created.json()["kind"], "private");
    let again = post(addr, "/api/rooms", Some(&bob), json!({"room_name": "plans"})).await;
    assert_eq!(again.status, 409);
    assert_eq!(again.code(), "room_exists");

    // Not in the public directory; not readable or joinable by others.
    let directory = get(addr, "/api/directory", Some(&carol)).await.json();
    assert!(!directory.to_string().contains("group:plans"));
    // A private room answers non-members exactly as a room that does not exist: its name cannot
    // be probed (reading, joining, listing members, inviting).
    let read = get(addr, "/api/messages?room=group:plans", Some(&carol)).await;
    assert_eq!(read.status, 404);
    assert_eq!(read.code(), "room_not_found");
    let join = post(addr, "/api/rooms/join", Some(&carol), json!({"room": "group:plans"})).await;
    assert_eq!(join.status, 404);
    assert_eq!(join.code(), "room_not_found");
    let users = get(addr, "/api/room_users?room=group:plans", Some(&carol)).await;
    assert_eq!(users.status, 404);

    // The owner invites; others cannot.
    let r = post(addr, "/api/rooms/invite", Some(&carol), json!({"room": "group:plans", "username": "carol"})).await;
    assert_eq!(r.status, 404);
    let r = post(addr, "/api/rooms/invite", Some(&alice), json!({"room": "group:plans", "username": "bob"})).await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(r.json()["type"], "invite_sent");
    let r = post(addr, "/api/rooms/invite", Some(&alice), json!({"room": "group:plans", "username": "ghost"})).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.code(), "unknown_user");
    // An invitation is pending until the invitee accepts it: no membership before.
    assert!(!room_keys(&get(addr, "/api/rooms", Some(&bob)).await.json()).contains(&"group:plans".to_owned()));
    assert_eq!(get(addr, "/api/room_users?room=group:plans", Some(&bob)).await.status, 404);
    let r = post(addr, "/api/rooms/accept", Some(&bob), json!({"room": "group:plans"})).await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(r.json()["type"], "room_joined");
    let r = post(addr, "/api/rooms/accept", Some(&bob), json!({"room": "group:plans"})).await;
    assert_eq!(r.code(), "no_invitation", "an invitation is accepted once");
    assert!(room_keys(&get(addr, "/api/rooms", Some(&bob)).await.json()).contains(&"group:plans".to_owned()));
    let users = get(addr, "/api/room_users?room=group:plans", Some(&bob)).await;
    assert_eq!(users.status, 200);
    let users = users.json();
    let mut names: Vec<&str> =
        users["users"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    names.sort_unstable();
    assert_eq!(names, vec!["alice", "bob"]);

    // Only the owner removes.
    let r = post(addr, "/api/rooms/remove", Some(&bob), json!({"room": "group:plans", "username": "alice"})).await;
    assert_eq!(r.status, 403);
    let r = post(addr, "/api/rooms/remove", Some(&alice), json!({"room": "group:plans", "username": "bob"})).await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert!(!room_keys(&get(addr, "/api/rooms", Some(&bob)).await.json()).contains(&"group:plans".to_owned()));
    assert_eq!(get(addr, "/api/messages?room=group:plans", Some(&bob)).await.status, 404);

    // Unknown rooms are 404.
    let r = get(addr, "/api/messages?room=group:nowhere", Some(&bob)).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.code(), "room_not_found");
    server.shutdown().await;
}

#[tokio::test]
async fn history_pages_and_mentions() {
    let server = start().await;
    let addr = server.local_addr();
    let alice = register(addr, "alice").await;
    let bob = register(addr, "bob").await;
    for who in [&alice, &bob] {
        assert_eq!(
            post(addr, "/api/rooms/join", Some(who), json!({"room_type": "group", "room_name": "lobby"})).await.status,
            200
        );
    }
    for i in 1..=5 {
        let content = if i == 3 { "hey @bob look".to_owned() } else { format!("message {i}") };
        let r = post(addr, "/api/messages", Some(&alice), json!({"room": "group:lobby", "content": content})).await;
        assert_eq!(r.json()["seq"], i);
    }
    let latest = get(addr, "/api/messages?room=group:lobby&limit=2", Some(&bob)).await.json();
    let seqs: Vec<u64> = latest["messages"].as_array().unwrap().iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, vec![4, 5]);
    let older = get(addr, "/api/messages?room=group:lobby&before=4&limit=2", Some(&bob)).await.json();
    let seqs: Vec<u64> = older["messages"].as_array().unwrap().iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, vec![2, 3]);
    let too_many = get(addr, "/api/messages?room=group:lobby&limit=1000", Some(&bob)).await;
    assert_eq!(too_many.status, 400);

    let rooms = get(addr, "/api/rooms", Some(&bob)).await.json();
    assert_eq!(rooms["type"], "rooms", "the core's answer, as over the WebSocket");
    assert_eq!(rooms["more"], false);
    assert_eq!(rooms["rooms"][0]["unread"], 5);
    assert_eq!(rooms["rooms"][0]["highlight"], 1);
    assert_eq!(rooms["unread_notifications"], 1);
    let notes = get(addr, "/api/notifications", Some(&bob)).await.json();
    assert_eq!(notes["items"][0]["kind"], "mention");
    assert_eq!(notes["items"][0]["seq"], 3);

    let read = post(addr, "/api/rooms/read", Some(&bob), json!({"room": "group:lobby"})).await;
    assert_eq!(read.status, 200, "{:?}", read.json());
    let rooms = get(addr, "/api/rooms", Some(&bob)).await.json();
    assert_eq!(rooms["rooms"][0]["unread"], 0);
    assert_eq!(rooms["rooms"][0]["highlight"], 0);
    server.shutdown().await;
}

#[tokio::test]
async fn directory_pages_filter_by_prefix() {
    let server = start().await;
    let addr = server.local_addr();
    let alice = register(addr, "alice").await;
    for name in ["lobby", "lounge", "random"] {
        assert_eq!(post(addr, "/api/rooms", Some(&alice), json!({"room_name": name})).await.status, 201);
    }
    let page = get(addr, "/api/directory?prefix=lo&limit=1", Some(&alice)).await.json();
    let names: Vec<&str> = page["rooms"].as_array().unwrap().iter().map(|r| r["room"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["group:lobby"], "{page}");
    let next = page["next"].as_str().expect("a next page").to_owned();
    let page = get(addr, &format!("/api/directory?prefix=lo&limit=1&after={next}"), Some(&alice)).await.json();
    let names: Vec<&str> = page["rooms"].as_array().unwrap().iter().map(|r| r["room"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["group:lounge"], "{page}");
    let users = get(addr, "/api/users?prefix=ali", Some(&alice)).await.json();
    assert_eq!(users["users"].as_array().unwrap().len(), 1, "{users}");
    assert_eq!(get(addr, "/api/directory?limit=many", Some(&alice)).await.status, 400);
    server.shutdown().await;
}
