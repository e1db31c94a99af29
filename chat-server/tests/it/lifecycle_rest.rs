//! The message lifecycle over REST (`/api/messages/{edit,delete,react}`): the same bodies as
//! the WebSocket frames, answered with the core's event, refused with the core's codes for the
//! caller only; and what the other members then read back (history, counts, notifications).

use std::net::SocketAddr;

use serde_json::{Value, json};

use crate::support::*;

/// alice and bob in `#lobby`; returns their tokens.
async fn two_in_lobby(addr: SocketAddr) -> (String, String) {
    let alice = register(addr, "alice").await;
    let bob = register(addr, "bob").await;
    for token in [&alice, &bob] {
        let r = post(addr, "/api/rooms/join", Some(token), json!({"room": "group:lobby"})).await;
        assert_eq!(r.status, 200, "{:?}", r.json());
    }
    (alice, bob)
}

async fn say(addr: SocketAddr, token: &str, body: Value) -> u64 {
    let r = post(addr, "/api/messages", Some(token), body).await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    r.json()["seq"].as_u64().expect("ack seq")
}

async fn history(addr: SocketAddr, token: &str) -> Vec<Value> {
    let r = get(addr, "/api/messages?room=group:lobby", Some(token)).await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    r.json()["messages"].as_array().expect("messages").clone()
}

async fn lobby_counts(addr: SocketAddr, token: &str) -> (u64, u64) {
    let rooms = get(addr, "/api/rooms", Some(token)).await.json();
    let lobby = rooms["rooms"].as_array().unwrap().iter().find(|r| r["room"] == "group:lobby").expect("lobby").clone();
    (lobby["unread"].as_u64().unwrap(), lobby["highlight"].as_u64().unwrap())
}

/// Asserts a refusal: HTTP status and error code.
fn refused(r: &Resp, status: u16, code: &str) {
    assert_eq!((r.status, r.code().as_str()), (status, code), "{:?}", String::from_utf8_lossy(&r.body));
}

#[tokio::test]
async fn edit_react_and_delete_through_rest() {
    let server = start().await;
    let addr = server.local_addr();
    let (alice, bob) = two_in_lobby(addr).await;
    let first = say(addr, &alice, json!({"room": "group:lobby", "content": "helo wrold"})).await;

    // The sender edits: the answer is the `message_edited` event.
    let r = post(
        addr,
        "/api/messages/edit",
        Some(&alice),
        json!({"room": "group:lobby", "seq": first, "content": "hello world"}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let edited = r.json();
    assert_eq!(edited["type"], "message_edited");
    assert_eq!((edited["room"].as_str(), edited["seq"].as_u64()), (Some("group:lobby"), Some(first)));
    assert_eq!(edited["content"], "hello world");
    assert!(edited["rev"].as_u64().is_some_and(|rev| rev > first), "an edit takes the next rev: {edited}");
    assert!(edited["edited_at"].as_u64().is_some());

    // Seed-style room naming works too; any member reacts; the answer is the `reaction` event.
    let r = post(
        addr,
        "/api/messages/react",
        Some(&bob),
        json!({"room_type": "group", "room_name": "lobby", "seq": first, "emoji": "\u{1F44D}", "add": true}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let reaction = r.json();
    assert_eq!(reaction["type"], "reaction");
    assert_eq!(
        (reaction["username"].as_str(), reaction["emoji"].as_str(), reaction["add"].as_bool()),
        (Some("bob"), Some("\u{1F44D}"), Some(true))
    );
    let r = post(
        addr,
        "/api/messages/react",
        Some(&alice),
        json!({"room": "group:lobby", "seq": first, "emoji": "\u{1F44D}", "add": true}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    // Reacting again changes nothing: the answer is the message as it is.
    let r = post(
        addr,
        "/api/messages/react",
        Some(&alice),
        json!({"room": "group:lobby", "seq": first, "emoji": "\u{1F44D}", "add": true}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let same = r.json();
    assert_eq!(same["type"], "message_updates");
    assert_eq!(same["messages"][0]["reactions"], json!([{"emoji": "\u{1F44D}", "users": ["bob", "alice"]}]));

    // History holds the current state: the new text, edited_at, the reactions in order.
    let page = history(addr, &bob).await;
    assert_eq!(page[0]["content"], "hello world");
    assert!(page[0]["edited_at"].as_u64().is_some());
    assert_eq!(page[0]["reactions"], json!([{"emoji": "\u{1F44D}", "users": ["bob", "alice"]}]));

    // Taking a reaction back.
    let r = post(
        addr,
        "/api/messages/react",
        Some(&bob),
        json!({"room": "group:lobby", "seq": first, "emoji": "\u{1F44D}", "add": false}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(history(addr, &alice).await[0]["reactions"], json!([{"emoji": "\u{1F44D}", "users": ["alice"]}]));

    // A reply quotes its original; deleting the original leaves a tombstone, and the reply
    // quotes nothing.
    let reply = say(addr, &bob, json!({"room": "group:lobby", "content": "indeed", "reply_to": first})).await;
    let page = history(addr, &alice).await;
    assert_eq!(page[1]["reply_to"], json!({"seq": first, "sender": "alice", "preview": "hello world"}));
    let r = post(addr, "/api/messages/delete", Some(&alice), json!({"room": "group:lobby", "seq": first})).await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let deleted = r.json();
    assert_eq!(deleted["type"], "message_deleted");
    assert_eq!(deleted["seq"].as_u64(), Some(first));
    assert!(deleted["deleted_at"].as_u64().is_some());
    let page = history(addr, &bob).await;
    let tomb = &page[0];
    assert_eq!(
        (tomb["seq"].as_u64(), tomb["sender"].as_str(), tomb["deleted"].as_bool()),
        (Some(first), Some("alice"), Some(true))
    );
    assert_eq!(tomb["content"], "");
    assert_eq!(tomb["mentions"], json!([]));
    assert!(tomb.get("reactions").is_none() && tomb.get("edited_at").is_none(), "{tomb}");
    assert_eq!(page[1]["seq"].as_u64(), Some(reply));
    assert_eq!(page[1]["reply_to"]["preview"], "");

    // The deleted message takes no edit or reaction.
    let r =
        post(addr, "/api/messages/edit", Some(&alice), json!({"room": "group:lobby", "seq": first, "content": "back"}))
            .await;
    refused(&r, 409, "message_deleted");
    let r = post(
        addr,
        "/api/messages/react",
        Some(&bob),
        json!({"room": "group:lobby", "seq": first, "emoji": "\u{1F389}", "add": true}),
    )
    .await;
    refused(&r, 409, "message_deleted");
    server.shutdown().await;
}

#[tokio::test]
async fn refusals_carry_the_cores_codes() {
    let server = start().await;
    let addr = server.local_addr();
    let (alice, bob) = two_in_lobby(addr).await;
    let carol = register(addr, "carol").await;
    let seq = say(addr, &alice, json!({"room": "group:lobby", "content": "mine"})).await;
    let lobby = |extra: Value| {
        let mut body = json!({"room": "group:lobby", "seq": seq});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };

    // Only the sender edits; only the sender deletes (in a public room).
    refused(
        &post(addr, "/api/messages/edit", Some(&bob), lobby(json!({"content": "hijacked"}))).await,
        403,
        "not_author",
    );
    let r = post(addr, "/api/messages/delete", Some(&bob), lobby(json!({}))).await;
    assert_eq!(r.status, 403, "{:?}", r.json());
    assert!(["forbidden", "not_author"].contains(&r.code().as_str()), "{:?}", r.json());
    assert_eq!(history(addr, &alice).await[0]["content"], "mine");

    // Unknown messages, bad emoji, non-members, no session, malformed bodies.
    let missing = json!({"room": "group:lobby", "seq": 99, "content": "x"});
    refused(&post(addr, "/api/messages/edit", Some(&alice), missing).await, 404, "message_not_found");
    for emoji in [":-)", "\u{1F44D}\u{1F44D}", ""] {
        let r = post(addr, "/api/messages/react", Some(&bob), lobby(json!({"emoji": emoji, "add": true}))).await;
        refused(&r, 400, "invalid_emoji");
    }
    let r = post(addr, "/api/messages/react", Some(&carol), lobby(json!({"emoji": "\u{1F44D}", "add": true}))).await;
    assert_eq!(r.status, 403, "{:?}", r.json());
    assert_eq!(r.code(), "not_a_member");
    let r = post(addr, "/api/messages/delete", None, lobby(json!({}))).await;
    refused(&r, 401, "unauthorized");
    let r = post(addr, "/api/messages/react", Some(&bob), lobby(json!({"emoji": "\u{1F44D}"}))).await;
    refused(&r, 400, "invalid_request");
    let r = get(addr, "/api/messages/edit", Some(&alice)).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("POST"));

    // Five reactions per user per message, then `too_many_reactions`.
    for emoji in ["\u{1F642}", "\u{1F600}", "\u{1F609}", "\u{1F61B}", "\u{1F62E}"] {
        let r = post(addr, "/api/messages/react", Some(&bob), lobby(json!({"emoji": emoji, "add": true}))).await;
        assert_eq!(r.status, 200, "{emoji}: {:?}", r.json());
    }
    let r = post(addr, "/api/messages/react", Some(&bob), lobby(json!({"emoji": "\u{1F622}", "add": true}))).await;
    refused(&r, 409, "too_many_reactions");
    server.shutdown().await;
}

/// A deleted mention lowers the mentioned member's counts and retracts their notification; an
/// edit that adds a mention notifies once.
#[tokio::test]
async fn deleting_a_mention_clears_counts_and_the_notification() {
    let server = start().await;
    let addr = server.local_addr();
    let (alice, bob) = two_in_lobby(addr).await;
    let plain = say(addr, &alice, json!({"room": "group:lobby", "content": "hi all"})).await;
    let mention = say(addr, &alice, json!({"room": "group:lobby", "content": "@bob look"})).await;
    assert_eq!(lobby_counts(addr, &bob).await, (2, 1));
    assert_eq!(get(addr, "/api/notifications", Some(&bob)).await.json()["unread"], 1);

    let r = post(addr, "/api/messages/delete", Some(&alice), json!({"room": "group:lobby", "seq": mention})).await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(lobby_counts(addr, &bob).await, (1, 0));
    let notes = get(addr, "/api/notifications", Some(&bob)).await.json();
    assert_eq!((notes["unread"].as_u64(), notes["items"].as_array().map(Vec::len)), (Some(0), Some(0)), "{notes}");

    // An edit that mentions bob notifies him once; editing again does not notify again.
    let r = post(
        addr,
        "/api/messages/edit",
        Some(&alice),
        json!({"room": "group:lobby", "seq": plain, "content": "hi all and @bob"}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(lobby_counts(addr, &bob).await, (1, 1));
    let r = post(
        addr,
        "/api/messages/edit",
        Some(&alice),
        json!({"room": "group:lobby", "seq": plain, "content": "hi all, @bob"}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let notes = get(addr, "/api/notifications", Some(&bob)).await.json();
    assert_eq!(notes["items"].as_array().map(Vec::len), Some(1), "{notes}");
    assert_eq!(notes["items"][0]["seq"].as_u64(), Some(plain));
    server.shutdown().await;
}
