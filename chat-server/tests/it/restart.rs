use chat_server::{Database, Server, ServerConfig};
use serde_json::{Value, json};

use crate::support::*;

fn room<'a>(rooms: &'a Value, key: &str) -> &'a Value {
    rooms["rooms"].as_array().unwrap().iter().find(|r| r["room"] == key).unwrap_or_else(|| panic!("{key} in {rooms}"))
}

#[tokio::test]
async fn everything_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::ephemeral();
    config.database = Database::File(dir.path().join("chat.redb"));

    let server = Server::start(config.clone()).await.unwrap();
    let addr = server.local_addr();
    let alice = register(addr, "alice").await;
    let bob = register(addr, "bob").await;
    register(addr, "carol").await;
    register(addr, "dave").await;
    assert_eq!(
        post(addr, "/api/rooms", Some(&alice), json!({"room_name": "plans", "private": true})).await.status,
        201
    );
    for invitee in ["bob", "dave"] {
        let r =
            post(addr, "/api/rooms/invite", Some(&alice), json!({"room": "group:plans", "username": invitee})).await;
        assert_eq!(r.status, 200, "{:?}", r.json());
    }
    // Bob accepts; dave's invitation stays pending across the restart.
    assert_eq!(post(addr, "/api/rooms/accept", Some(&bob), json!({"room": "group:plans"})).await.status, 200);
    for content in ["first", "ping @bob", "third"] {
        let r = post(addr, "/api/messages", Some(&alice), json!({"room": "group:plans", "content": content})).await;
        assert_eq!(r.status, 200);
    }
    let r = post(
        addr,
        "/api/messages",
        Some(&alice),
        json!({"room_type": "dm", "target": "bob", "content": "psst", "client_id": "c-1"}),
    )
    .await;
    assert_eq!(r.status, 200);
    // Bob reads the first message of the room.
    assert_eq!(post(addr, "/api/rooms/read", Some(&bob), json!({"room": "group:plans", "seq": 1})).await.status, 200);
    let before_rooms = get(addr, "/api/rooms", Some(&bob)).await.json();
    let before_notes = get(addr, "/api/notifications", Some(&bob)).await.json();
    server.shutdown().await;

    let server = Server::start(config).await.expect("restarts on the same file");
    let addr = server.local_addr();
    // Sessions survive (tokens are stored hashed), and passwords too.
    assert_eq!(get(addr, "/api/me", Some(&bob)).await.json()["username"], "bob");
    let login = post(addr, "/api/login", None, json!({"username": "carol", "password": "password-carol"})).await;
    assert_eq!(login.status, 200);
    let dup = post(addr, "/api/register", None, json!({"username": "alice", "password": "password-new"})).await;
    assert_eq!(dup.status, 409);

    let rooms = get(addr, "/api/rooms", Some(&bob)).await.json();
    assert_eq!(rooms, before_rooms);
    let plans = room(&rooms, "group:plans");
    assert_eq!(plans["kind"], "private");
    assert_eq!(plans["owner"], "alice");
    assert_eq!(plans["read_seq"], 1);
    assert_eq!(plans["unread"], 2);
    assert_eq!(plans["highlight"], 1);
    let dm = room(&rooms, "dm:alice:bob");
    assert_eq!(dm["unread"], 1);
    assert_eq!(rooms["unread_notifications"], 2);
    assert_eq!(get(addr, "/api/notifications", Some(&bob)).await.json(), before_notes);

    let page = get(addr, "/api/messages?room=group:plans", Some(&alice)).await.json();
    let contents: Vec<&str> =
        page["messages"].as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(contents, vec!["first", "ping @bob", "third"]);
    // Membership survived: carol is still not allowed in.
    let carol = login.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(get(addr, "/api/messages?room=group:plans", Some(&carol)).await.status, 404);
    // The pending invitation survived: dave accepts it now, and reads the room.
    let dave = post(addr, "/api/login", None, json!({"username": "dave", "password": "password-dave"})).await;
    let dave = dave.json()["token"].as_str().unwrap().to_owned();
    let accepted = post(addr, "/api/rooms/accept", Some(&dave), json!({"room": "group:plans"})).await;
    assert_eq!(accepted.status, 200, "{:?}", accepted.json());
    assert_eq!(accepted.json()["type"], "room_joined");
    assert_eq!(get(addr, "/api/messages?room=group:plans", Some(&dave)).await.status, 200);
    // The idempotency key survived: a retry returns the original, not a copy.
    let retry = post(
        addr,
        "/api/messages",
        Some(&alice),
        json!({"room_type": "dm", "target": "bob", "content": "psst", "client_id": "c-1"}),
    )
    .await;
    assert_eq!(retry.json()["duplicate"], true);
    assert_eq!(retry.json()["seq"], 1);
    // New messages continue the sequence.
    let next =
        post(addr, "/api/messages", Some(&alice), json!({"room": "group:plans", "content": "after restart"})).await;
    assert_eq!(next.json()["seq"], 4);
    server.shutdown().await;
}

#[tokio::test]
async fn expired_login_tokens_are_deleted_at_start_up() {
    use sha2::Digest;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.redb");
    let hash = |token: &str| -> [u8; 32] { sha2::Sha256::digest(token.as_bytes()).into() };

    let mut short = ServerConfig::ephemeral();
    short.database = Database::File(path.clone());
    short.limits.session_ttl = std::time::Duration::from_millis(1);
    let server = Server::start(short).await.unwrap();
    let alice = register(server.local_addr(), "alice").await;
    server.shutdown().await;
    assert!(chat_store::Store::open(&path).unwrap().token(&hash(&alice)).unwrap().is_some(), "stored until swept");

    let mut normal = ServerConfig::ephemeral();
    normal.database = Database::File(path.clone());
    let server = Server::start(normal).await.unwrap();
    // Alice's token is never presented again (presenting it would delete it too): only the
    // start-up sweep can remove it.
    let bob = register(server.local_addr(), "bob").await;
    server.shutdown().await;

    let store = chat_store::Store::open(&path).unwrap();
    assert_eq!(store.token(&hash(&alice)).unwrap(), None, "the expired token was deleted");
    assert!(store.token(&hash(&bob)).unwrap().is_some(), "a live token is kept");
}
