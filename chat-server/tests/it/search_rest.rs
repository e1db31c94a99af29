//! `GET /api/search` and `history around` through the real server and chat-search: hits only
//! from rooms the caller reads now (a removal from a private room included, never another
//! pair's DM), edits and deletions reflected, a rebuild after the index directory is deleted,
//! mentions and code spans searchable as text, bad queries answered with clear errors.
//!
//! Indexing is asynchronous (a message is searchable within about half a second of its commit),
//! so a test waits for the index to show a change by asking again until it does; the waits are
//! bounded by a hang guard, never asserted on.

use std::net::SocketAddr;
use std::path::Path;

use chat_server::{Database, RunningServer, SearchDir, Server, ServerConfig};
use serde_json::{Value, json};

use crate::support::*;

/// A server with its database in `dir/chat.redb` and its index beside it (`dir/chat.search`)
/// when `file`; else in memory with its index in `dir/search`.
async fn start_in(dir: &Path, file: bool) -> RunningServer {
    let mut config = ServerConfig::ephemeral();
    if file {
        config.database = Database::File(dir.join("chat.redb"));
    } else {
        config.search = SearchDir::Dir(dir.join("search"));
    }
    Server::start(config).await.expect("server starts")
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn search(addr: SocketAddr, token: &str, params: &str) -> Resp {
    get(addr, &format!("/api/search?{params}"), Some(token)).await
}

async fn q(addr: SocketAddr, token: &str, text: &str) -> Value {
    let r = search(addr, token, &format!("q={}", encode(text))).await;
    assert_eq!(r.status, 200, "{text:?}: {:?}", String::from_utf8_lossy(&r.body));
    let page = r.json();
    assert_eq!(page["type"], "search_results");
    page
}

/// The (room, seq) of every hit, sorted.
fn hits(page: &Value) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["room"].as_str().unwrap().to_owned(), i["seq"].as_u64().unwrap()))
        .collect();
    out.sort();
    out
}

/// Asks `text` until `done` holds for the page (the index caught up), and returns that page
/// ([`wait_until`]).
async fn indexed(addr: SocketAddr, token: &str, text: &str, done: impl Fn(&Value) -> bool) -> Value {
    wait_until(&format!("the index to answer {text:?} as expected"), || q(addr, token, text), done).await
}

async fn say(addr: SocketAddr, token: &str, room: &str, content: &str) -> u64 {
    let r = post(addr, "/api/messages", Some(token), json!({"room": room, "content": content})).await;
    assert_eq!(r.status, 200, "{:?}", String::from_utf8_lossy(&r.body));
    r.json()["seq"].as_u64().unwrap()
}

fn owned(v: &[(&str, u64)]) -> Vec<(String, u64)> {
    v.iter().map(|(r, s)| ((*r).to_owned(), *s)).collect()
}

#[tokio::test]
async fn hits_come_only_from_rooms_the_caller_reads_now() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path(), false).await;
    let addr = server.local_addr();
    let alice = register(addr, "alice").await;
    let bob = register(addr, "bob").await;
    let carol = register(addr, "carol").await;
    let dave = register(addr, "dave").await;
    for t in [&alice, &bob, &carol] {
        assert_eq!(post(addr, "/api/rooms/join", Some(t), json!({"room": "group:lobby"})).await.status, 200);
    }
    assert_eq!(
        post(addr, "/api/rooms", Some(&alice), json!({"room_name": "secret", "private": true})).await.status,
        201
    );
    post(addr, "/api/rooms/invite", Some(&alice), json!({"room": "group:secret", "username": "bob"})).await;
    assert_eq!(post(addr, "/api/rooms/accept", Some(&bob), json!({"room": "group:secret"})).await.status, 200);
    say(addr, &alice, "group:lobby", "launch plans for friday").await;
    say(addr, &alice, "group:secret", "secret launch plans").await;
    say(addr, &alice, "dm:alice:bob", "our launch plans").await;
    say(addr, &carol, "dm:carol:dave", "carol's launch plans").await;

    let all = owned(&[("dm:alice:bob", 1), ("group:lobby", 1), ("group:secret", 1)]);
    indexed(addr, &alice, "launch plans", |p| hits(p) == all).await;
    // Everything is indexed once carol's DM is, too (each commit is indexed in order).
    indexed(addr, &carol, "launch plans", |p| hits(p).len() == 2).await;
    assert_eq!(hits(&q(addr, &bob, "launch plans").await), all);
    assert_eq!(hits(&q(addr, &carol, "launch plans").await), owned(&[("dm:carol:dave", 1), ("group:lobby", 1)]));
    assert_eq!(hits(&q(addr, &dave, "plans").await), owned(&[("dm:carol:dave", 1)]), "never another pair's DM");
    // in: narrows and never widens; a room filter needs membership.
    assert!(hits(&q(addr, &carol, "plans in:secret").await).is_empty());
    assert!(hits(&q(addr, &carol, "plans in:dm:alice:bob").await).is_empty());
    assert_eq!(search(addr, &carol, "q=plans&room=group%3Asecret").await.code(), "room_not_found");
    let r = search(addr, &bob, "q=plans&room=group%3Asecret").await;
    assert_eq!(hits(&r.json()), owned(&[("group:secret", 1)]));

    // Removed from the private room: its messages are gone from bob's results at once.
    let r = post(addr, "/api/rooms/remove", Some(&alice), json!({"room": "group:secret", "username": "bob"})).await;
    assert_eq!(r.status, 200);
    assert_eq!(hits(&q(addr, &bob, "launch plans").await), owned(&[("dm:alice:bob", 1), ("group:lobby", 1)]));
    assert_eq!(search(addr, &bob, "q=plans&room=group%3Asecret").await.code(), "room_not_found");
    // Leaving a public room too.
    assert_eq!(post(addr, "/api/rooms/leave", Some(&carol), json!({"room": "group:lobby"})).await.status, 200);
    assert_eq!(hits(&q(addr, &carol, "launch plans").await), owned(&[("dm:carol:dave", 1)]));

    // The same over the WebSocket frame.
    let bearer = format!("Bearer {bob}");
    let (mut ws, _) = ws_connect(addr, &[("authorization", &bearer)]).await.expect("upgrade");
    assert_eq!(ws_next(&mut ws).await["type"], "connected");
    ws_send(&mut ws, json!({"type": "search", "query": "launch plans"})).await;
    let page = loop {
        let event = ws_next(&mut ws).await;
        if event["type"] == "search_results" {
            break event;
        }
    };
    assert_eq!(hits(&page), owned(&[("dm:alice:bob", 1), ("group:lobby", 1)]));
    server.shutdown().await;
}

#[tokio::test]
async fn snippets_mark_the_matched_words_and_pages_continue() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path(), false).await;
    let addr = server.local_addr();
    let alice = register(addr, "alice").await;
    post(addr, "/api/rooms/join", Some(&alice), json!({"room": "group:lobby"})).await;
    for i in 1..=5 {
        say(addr, &alice, "group:lobby", &format!("déjà vu number {i}")).await;
    }
    let page = indexed(addr, &alice, "deja", |p| p["items"].as_array().unwrap().len() == 5).await;
    let first = &page["items"][0];
    assert_eq!(first["seq"], 5, "newest first");
    assert_eq!(first["sender"], "alice");
    assert_eq!(first["snippet"], "déjà vu number 5");
    assert_eq!(first["highlights"], json!([[0, 4]]), "UTF-16 offsets of 'déjà'");
    assert!(first["timestamp"].as_u64().unwrap() > 0);

    let r = search(addr, &alice, "q=deja&limit=2").await.json();
    assert_eq!(r["items"].as_array().unwrap().len(), 2);
    let next = r["next"].as_str().expect("a next cursor").to_owned();
    let r2 = search(addr, &alice, &format!("q=deja&limit=2&cursor={}", encode(&next))).await.json();
    let seqs =
        |p: &Value| p["items"].as_array().unwrap().iter().map(|i| i["seq"].as_u64().unwrap()).collect::<Vec<_>>();
    assert_eq!((seqs(&r), seqs(&r2)), (vec![5, 4], vec![3, 2]));
    let rel = search(addr, &alice, "q=deja+number+3&order=relevance").await.json();
    assert_eq!(seqs(&rel), [3]);
    // from= and filters without words.
    assert_eq!(seqs(&search(addr, &alice, "from=%40alice&limit=1").await.json()), [5]);
    assert!(search(addr, &alice, "q=deja&from=bob").await.json()["items"].as_array().unwrap().is_empty());
    assert!(search(addr, &alice, "q=deja&before=2000-01-01").await.json()["items"].as_array().unwrap().is_empty());
    assert_eq!(search(addr, &alice, "q=deja&after=2000-01-01").await.json()["items"].as_array().unwrap().len(), 5);

    // The context of a hit: history around.
    let r = get(addr, "/api/messages?room=group%3Alobby&around=3&limit=3", Some(&alice)).await;
    assert_eq!(r.status, 200);
    let around: Vec<u64> =
        r.json()["messages"].as_array().unwrap().iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    assert_eq!(around, [2, 3, 4]);
    let r = get(addr, "/api/messages?room=group%3Alobby&around=3&before=2", Some(&alice)).await;
    assert_eq!((r.status, r.code().as_str()), (400, "invalid_request"));
    server.shutdown().await;
}

#[tokio::test]
async fn edits_and_deletions_are_reflected() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path(), false).await;
    let addr = server.local_addr();
    let alice = register(addr, "alice").await;
    post(addr, "/api/rooms/join", Some(&alice), json!({"room": "group:lobby"})).await;
    let seq = say(addr, &alice, "group:lobby", "the alpha release").await;
    indexed(addr, &alice, "alpha", |p| hits(p) == owned(&[("group:lobby", seq)])).await;

    let r = post(
        addr,
        "/api/messages/edit",
        Some(&alice),
        json!({"room": "group:lobby", "seq": seq, "content": "the gamma release"}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", String::from_utf8_lossy(&r.body));
    indexed(addr, &alice, "gamma", |p| hits(p) == owned(&[("group:lobby", seq)])).await;
    assert!(hits(&q(addr, &alice, "alpha").await).is_empty(), "the old text is gone with the same commit");

    let r = post(addr, "/api/messages/delete", Some(&alice), json!({"room": "group:lobby", "seq": seq})).await;
    assert_eq!(r.status, 200);
    indexed(addr, &alice, "gamma", |p| hits(p).is_empty()).await;
    assert!(hits(&q(addr, &alice, "release").await).is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn mentions_and_code_spans_are_searchable_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path(), false).await;
    let addr = server.local_addr();
    let alice = register(addr, "alice").await;
    let bob = register(addr, "bob").await;
    for t in [&alice, &bob] {
        post(addr, "/api/rooms/join", Some(t), json!({"room": "group:lobby"})).await;
    }
    let seq = say(addr, &alice, "group:lobby", "hey @bob, `parse_frame()` fails on <img src=x onerror=alert(1)>").await;
    let one = owned(&[("group:lobby", seq)]);
    indexed(addr, &bob, "@bob", |p| hits(p) == one).await;
    for text in ["bob", "parse_frame", "`parse_frame()`", "parse frame", "\"fails on\"", "onerror"] {
        assert_eq!(hits(&q(addr, &bob, text).await), one, "{text:?}");
    }
    assert!(hits(&q(addr, &bob, "frame parse_").await).len() == 1, "words in any order");
    assert!(hits(&q(addr, &bob, "\"frame parse\"").await).is_empty(), "a phrase keeps its order");
    // The snippet is the text as sent (the UI sets it as text).
    let page = q(addr, &bob, "onerror").await;
    let snippet = page["items"][0]["snippet"].as_str().unwrap();
    assert!(snippet.contains("<img src=x onerror=alert(1)>"), "{snippet:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn bad_queries_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path(), false).await;
    let addr = server.local_addr();
    let alice = register(addr, "alice").await;
    let long = "x".repeat(513);
    let cases: Vec<(String, u16, &str)> = vec![
        ("q=".into(), 400, "invalid_query"),
        ("q=%20%20".into(), 400, "invalid_query"),
        ("q=%22unclosed".into(), 400, "invalid_query"),
        ("q=a&cursor=zzz".into(), 400, "invalid_query"),
        ("q=from%3A%21%21".into(), 400, "invalid_query"),
        ("q=a&before=yesterday".into(), 400, "invalid_query"),
        ("q=a&after=2026-13-01".into(), 400, "invalid_query"),
        (format!("q={}", "w%20".repeat(17)), 400, "invalid_query"),
        (format!("q={long}"), 400, "invalid_request"),
        ("q=a&limit=0".into(), 400, "invalid_request"),
        ("q=a&limit=51".into(), 400, "invalid_request"),
        ("q=a&limit=ten".into(), 400, "invalid_request"),
        ("q=a&order=best".into(), 400, "invalid_request"),
        ("q=a&from=no%20one".into(), 400, "invalid_username"),
        ("q=a&room=group%3Anope".into(), 404, "room_not_found"),
        ("q=a&room=bad".into(), 400, "invalid_room"),
    ];
    for (params, status, code) in cases {
        let r = search(addr, &alice, &params).await;
        assert_eq!((r.status, r.code()), (status, code.to_owned()), "{params}");
    }
    let r = get(addr, "/api/search?q=a", None).await;
    assert_eq!(r.status, 401);
    server.shutdown().await;
}

#[tokio::test]
async fn without_an_index_search_is_unavailable() {
    let server = start().await; // in memory: nothing beside the database
    let addr = server.local_addr();
    let alice = register(addr, "alice").await;
    let r = search(addr, &alice, "q=a").await;
    assert_eq!((r.status, r.code().as_str()), (503, "search_unavailable"));
    server.shutdown().await;
}

#[tokio::test]
async fn the_index_is_rebuilt_after_its_directory_is_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path(), true).await;
    let addr = server.local_addr();
    let alice = register(addr, "alice").await;
    post(addr, "/api/rooms/join", Some(&alice), json!({"room": "group:lobby"})).await;
    for i in 1..=3 {
        say(addr, &alice, "group:lobby", &format!("kept message {i}")).await;
    }
    let three = owned(&[("group:lobby", 1), ("group:lobby", 2), ("group:lobby", 3)]);
    indexed(addr, &alice, "kept", |p| hits(p) == three).await;
    server.shutdown().await;
    let index = dir.path().join("chat.search");
    assert!(index.join("search-version").exists(), "the index lives beside the database");
    std::fs::remove_dir_all(&index).unwrap();

    let server = start_in(dir.path(), true).await;
    let addr = server.local_addr();
    // Start-up did not wait for the rebuild; it runs in the background and fills the index.
    let page = indexed(addr, &alice, "kept", |p| hits(p) == three && p["stale"] == false).await;
    assert_eq!(page["items"][0]["snippet"], "kept message 3");
    assert!(index.join("search-version").exists());
    // New messages are indexed as before.
    say(addr, &alice, "group:lobby", "after the rebuild").await;
    indexed(addr, &alice, "rebuild", |p| hits(p) == owned(&[("group:lobby", 4)])).await;
    server.shutdown().await;
}

#[tokio::test]
async fn has_filters_and_file_names_are_searched_through_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let search_dir = dir.path().join("search");
    let server = start_with_attachments(&dir.path().join("files"), |c| c.search = SearchDir::Dir(search_dir)).await;
    let addr = server.local_addr();
    let (alice, bob, carol) =
        (register(addr, "alice").await, register(addr, "bob").await, register(addr, "carol").await);
    create_room(addr, &alice, "lobby", false).await;
    assert_eq!(post(addr, "/api/rooms/join", Some(&bob), json!({"room": "group:lobby"})).await.status, 200);
    let photo = attachment_id(&uploaded(addr, &alice, "beach-sunset.png", &png(16, 8)).await);
    let pdf = attachment_id(&uploaded(addr, &alice, "quarterly-report.pdf", b"%PDF-1.4 numbers").await);
    for (content, files) in
        [("holiday", vec![photo.as_str()]), ("", vec![pdf.as_str()]), ("quarterly numbers soon", vec![])]
    {
        let r = send_with_attachments(addr, &alice, "group:lobby", content, &files).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    let lobby = |seqs: &[u64]| seqs.iter().map(|s| ("group:lobby".to_owned(), *s)).collect::<Vec<_>>();
    indexed(addr, &bob, "has:attachment", |p| hits(p) == lobby(&[1, 2])).await;
    assert_eq!(hits(&q(addr, &bob, "has:image").await), lobby(&[1]));
    assert_eq!(hits(&q(addr, &bob, "has:files").await), lobby(&[2]));
    let r = search(addr, &bob, "has=image").await;
    assert_eq!(hits(&r.json()), lobby(&[1]), "has= alone, as a parameter");
    let r = search(addr, &bob, "q=holiday&has=file").await;
    assert!(hits(&r.json()).is_empty(), "has= and q together");
    for params in ["has=link", "q=has%3Alink"] {
        let r = search(addr, &bob, params).await;
        assert_eq!((r.status, r.code()), (400, "invalid_query".to_owned()), "{params}");
    }
    // A word finds a file's name; a message with only a file shows the name as its snippet.
    let page = q(addr, &bob, "quarterly").await;
    assert_eq!(hits(&page), lobby(&[2, 3]));
    let named = page["items"].as_array().unwrap().iter().find(|i| i["seq"] == 2).unwrap();
    assert_eq!(named["snippet"], "quarterly-report.pdf");
    assert_eq!(named["highlights"], json!([[0, 9]]));
    // Not a member: nothing, however the filter is put.
    assert!(hits(&q(addr, &carol, "has:attachment").await).is_empty());
    assert!(hits(&q(addr, &carol, "beach in:lobby").await).is_empty());

    // An edit keeps the photo; a deletion takes the PDF away.
    let r =
        post(addr, "/api/messages/edit", Some(&alice), json!({"room": "group:lobby", "seq": 1, "content": "the pier"}))
            .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    indexed(addr, &bob, "has:image pier", |p| hits(p) == lobby(&[1])).await;
    assert!(hits(&q(addr, &bob, "holiday").await).is_empty());
    let r = post(addr, "/api/messages/delete", Some(&alice), json!({"room": "group:lobby", "seq": 2})).await;
    assert_eq!(r.status, 200);
    indexed(addr, &bob, "has:file", |p| hits(p).is_empty()).await;
    assert_eq!(hits(&q(addr, &bob, "quarterly").await), lobby(&[3]));
    server.shutdown().await;
}
