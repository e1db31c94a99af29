use serde_json::json;

use crate::support::*;

fn assert_secure(r: &Resp, what: &str) {
    assert_eq!(r.header("content-security-policy"), Some(chat_server::CONTENT_SECURITY_POLICY), "{what}");
    let csp = r.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{what}");
    assert!(csp.contains("frame-ancestors 'none'"), "{what}");
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"), "{what}");
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"), "{what}");
    assert_eq!(r.header("x-frame-options"), Some("DENY"), "{what}");
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let server = start().await;
    let addr = server.local_addr();
    let token = register(addr, "alice").await;
    assert_secure(&get(addr, "/healthz", None).await, "healthz");
    assert_secure(&get(addr, "/", None).await, "index");
    assert_secure(&get(addr, "/nope", None).await, "404");
    assert_secure(&get(addr, "/api/rooms", None).await, "401");
    assert_secure(&get(addr, "/api/rooms", Some(&token)).await, "200 json");
    assert_secure(&get(addr, "/ws", None).await, "426");
    server.shutdown().await;
}

#[tokio::test]
async fn health_and_metrics() {
    let server = start().await;
    let addr = server.local_addr();
    let health = get(addr, "/healthz", None).await;
    assert_eq!(health.status, 200);
    assert_eq!(&health.body[..], b"ok\n");

    let token = register(addr, "alice").await;
    let sent = post(addr, "/api/messages", Some(&token), json!({"room": "group:lobby", "content": "hi"})).await;
    assert_eq!(sent.status, 404, "the room does not exist yet: {:?}", sent.json());
    let joined = post(addr, "/api/rooms/join", Some(&token), json!({"room": "group:lobby"})).await;
    assert_eq!(joined.status, 200, "{:?}", joined.json());
    let sent = post(addr, "/api/messages", Some(&token), json!({"room": "group:lobby", "content": "hi"})).await;
    assert_eq!(sent.status, 200);
    assert_eq!(sent.json()["type"], "ack");

    let metrics = get(addr, "/metrics", None).await;
    assert_eq!(metrics.status, 200);
    assert!(metrics.header("content-type").unwrap().starts_with("text/plain"));
    let text = String::from_utf8(metrics.body.to_vec()).unwrap();
    let value = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("{name} missing from\n{text}"))
            .parse()
            .unwrap()
    };
    assert_eq!(value("chat_messages_total"), 1.0);
    assert!(value("chat_commit_batches_total") >= 1.0);
    assert_eq!(value("chat_registrations_total"), 1.0);
    for name in [
        "chat_deliveries_total",
        "chat_slow_consumers_closed_total",
        "chat_sessions",
        "chat_sessions_opened_total",
        "chat_commit_batch_size_mean",
    ] {
        value(name);
    }
    assert!(text.contains("chat_http_responses_total{status=\"201\"} 1"), "{text}");
    assert!(text.contains("chat_http_responses_total{status=\"404\"} 1"), "{text}");
    server.shutdown().await;
}

#[tokio::test]
async fn oversize_bodies_are_refused() {
    let server = start().await;
    let addr = server.local_addr();
    let big = vec![b'x'; 64 * 1024 + 1];
    let r = send(addr, "POST", "/api/register", &[("content-type", "application/json")], Some(big)).await;
    assert_eq!(r.status, 413);
    assert_eq!(r.code(), "body_too_large");
    let token = register(addr, "alice").await;
    let auth = format!("Bearer {token}");
    let huge = serde_json::to_vec(&json!({"room": "group:lobby", "content": "y".repeat(70_000)})).unwrap();
    let r = send(
        addr,
        "POST",
        "/api/messages",
        &[("content-type", "application/json"), ("authorization", &auth)],
        Some(huge),
    )
    .await;
    assert_eq!(r.status, 413);

    // Without a Content-Length (chunked) the limit still holds while streaming.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let chunk = format!("{:x}\r\n{}\r\n", 8192, "z".repeat(8192));
    for _ in 0..9 {
        if tcp.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let mut response = vec![0u8; 1024];
    let n = tcp.read(&mut response).await.unwrap();
    let status_line = String::from_utf8_lossy(&response[..n]);
    assert!(status_line.starts_with("HTTP/1.1 413"), "{status_line}");
    server.shutdown().await;
}

#[tokio::test]
async fn malformed_requests_get_clear_errors() {
    let server = start().await;
    let addr = server.local_addr();
    let r = send(addr, "POST", "/api/login", &[("content-type", "text/plain")], Some(b"{}".to_vec())).await;
    assert_eq!(r.status, 415, "form-style posts are refused");
    let r =
        send(addr, "POST", "/api/login", &[("content-type", "application/json")], Some(b"{not json".to_vec())).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "invalid_request");
    let r = get(addr, "/api/login", None).await;
    assert_eq!(r.status, 405);
    let r = get(addr, "/api/nothing-here", None).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.code(), "not_found");
    let token = register(addr, "alice").await;
    let r = get(addr, "/api/messages?room=group:lobby&limit=many", Some(&token)).await;
    assert_eq!(r.status, 400);
    let r = get(addr, "/api/messages?room=lobby", Some(&token)).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "invalid_room");
    let r = get(addr, "/api/messages", Some(&token)).await;
    assert_eq!(r.code(), "invalid_room");
    server.shutdown().await;
}

#[tokio::test]
async fn static_files_are_served_with_etags() {
    let server = start().await;
    let addr = server.local_addr();
    let names: Vec<&str> = chat_server::assets::names().collect();
    let traversal = get(addr, "/static/..%2FCargo.toml", None).await;
    assert_eq!(traversal.status, 404);
    let Some(name) = names.iter().find(|n| **n != "index.html") else {
        // No assets embedded: nothing more to check.
        assert_eq!(get(addr, "/", None).await.status, 404);
        return;
    };
    let index = get(addr, "/", None).await;
    assert_eq!(index.status, 200);
    assert!(index.header("content-type").unwrap().starts_with("text/html"));
    assert_eq!(index.header("cache-control"), Some("no-cache"));

    let file = get(addr, &format!("/static/{name}"), None).await;
    assert_eq!(file.status, 200);
    let etag = file.header("etag").expect("etag").to_owned();
    assert!(file.header("cache-control").is_some());
    let again = send(addr, "GET", &format!("/static/{name}"), &[("if-none-match", &etag)], None).await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    let stale = send(addr, "GET", &format!("/static/{name}"), &[("if-none-match", "\"old\"")], None).await;
    assert_eq!(stale.status, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn rest_sends_are_rate_limited_per_user() {
    let mut config = chat_server::ServerConfig::ephemeral();
    // A burst of 3 that never refills, so the test does not depend on timing.
    config.chat.send_burst = 3;
    config.chat.send_rate_per_sec = 0;
    let server = chat_server::Server::start(config).await.unwrap();
    let addr = server.local_addr();
    let alice = register(addr, "alice").await;
    let bob = register(addr, "bob").await;
    for who in [&alice, &bob] {
        assert_eq!(post(addr, "/api/rooms/join", Some(who), json!({"room": "group:lobby"})).await.status, 200);
    }
    for i in 1..=3 {
        let r =
            post(addr, "/api/messages", Some(&alice), json!({"room": "group:lobby", "content": format!("m{i}")})).await;
        assert_eq!(r.status, 200);
    }
    let r = post(addr, "/api/messages", Some(&alice), json!({"room": "group:lobby", "content": "one too many"})).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.code(), "rate_limited");
    // Per user: bob still sends, and alice still reads.
    let r = post(addr, "/api/messages", Some(&bob), json!({"room": "group:lobby", "content": "hi"})).await;
    assert_eq!(r.status, 200);
    let page = get(addr, "/api/messages?room=group:lobby", Some(&alice)).await.json();
    assert_eq!(page["messages"].as_array().unwrap().len(), 4, "the refused message was not stored");
    server.shutdown().await;
}

#[tokio::test]
async fn wrong_methods_get_405_with_allow() {
    let server = start().await;
    let addr = server.local_addr();
    let r = get(addr, "/api/login", None).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.code(), "method_not_allowed");
    assert_eq!(r.header("allow"), Some("POST"));
    let r = send(addr, "DELETE", "/api/messages", &[], None).await;
    assert_eq!(r.status, 405);
    let allow: Vec<&str> = r.header("allow").expect("Allow").split(',').map(str::trim).collect();
    for method in ["GET", "HEAD", "POST"] {
        assert!(allow.contains(&method), "{allow:?}");
    }
    let r = send(addr, "POST", "/healthz", &[], None).await;
    assert_eq!(r.status, 405);
    assert!(r.header("allow").unwrap().contains("GET"));
    // HEAD works wherever GET does.
    assert_eq!(send(addr, "HEAD", "/healthz", &[], None).await.status, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn query_strings_are_percent_decoded() {
    let server = start().await;
    let addr = server.local_addr();
    let alice = register(addr, "alice").await;
    assert_eq!(post(addr, "/api/rooms/join", Some(&alice), json!({"room": "group:lobby"})).await.status, 200);
    let page = get(addr, "/api/messages?room=group%3Alobby&limit=%35", Some(&alice)).await;
    assert_eq!(page.status, 200, "{:?}", page.json());
    assert_eq!(page.json()["room"], "group:lobby");
    let seed = get(addr, "/api/messages?room_type=group&room_name=lobby", Some(&alice)).await;
    assert_eq!(seed.status, 200);
    let bad = get(addr, "/api/messages?room_type=channel&room_name=lobby", Some(&alice)).await;
    assert_eq!(bad.status, 400);
    server.shutdown().await;
}
