use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn register_then_login_and_use_the_token() {
    let server = start().await;
    let addr = server.local_addr();
    let r = post(addr, "/api/register", None, json!({"username": "Alice", "password": "correct horse"})).await;
    assert_eq!(r.status, 201);
    let body = r.json();
    assert_eq!(body["username"], "alice", "names are stored lower-case");
    let token = body["token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 64);
    let cookie = r.header("set-cookie").unwrap();
    assert!(cookie.starts_with(&format!("chat_session={token};")), "{cookie}");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "cookie lacks {attr}: {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP cookies cannot be Secure");

    let me = get(addr, "/api/me", Some(&token)).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["username"], "alice");

    let login = post(addr, "/api/login", None, json!({"username": "ALICE", "password": "correct horse"})).await;
    assert_eq!(login.status, 200);
    let second = login.json()["token"].as_str().unwrap().to_owned();
    assert_ne!(second, token, "every login gets its own token");
    assert_eq!(get(addr, "/api/me", Some(&second)).await.json()["username"], "alice");
    server.shutdown().await;
}

#[tokio::test]
async fn wrong_password_and_unknown_user_look_the_same() {
    let server = start().await;
    let addr = server.local_addr();
    register(addr, "bob").await;
    let wrong = post(addr, "/api/login", None, json!({"username": "bob", "password": "not the password"})).await;
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.code(), "bad_credentials");
    assert!(wrong.header("set-cookie").is_none());
    let unknown = post(addr, "/api/login", None, json!({"username": "nobody", "password": "whatever-123"})).await;
    assert_eq!(unknown.status, 401);
    assert_eq!(unknown.code(), "bad_credentials");
    assert_eq!(wrong.json()["error"]["message"], unknown.json()["error"]["message"]);
    server.shutdown().await;
}

#[tokio::test]
async fn duplicate_and_invalid_names_and_bad_passwords_are_refused() {
    let server = start().await;
    let addr = server.local_addr();
    register(addr, "carol").await;
    let dup = post(addr, "/api/register", None, json!({"username": "CAROL", "password": "another-password"})).await;
    assert_eq!(dup.status, 409);
    assert_eq!(dup.code(), "username_taken");
    // The original password still works: the duplicate changed nothing.
    let login = post(addr, "/api/login", None, json!({"username": "carol", "password": "password-carol"})).await;
    assert_eq!(login.status, 200);

    // The new-name rules: start and end with a letter or digit, no punctuation runs.
    for bad in ["", "has space", "émile", "a/b", "room", &"x".repeat(33), ".", "..", "-", "alice.", "al..ice", "_bob"]
    {
        let r = post(addr, "/api/register", None, json!({"username": bad, "password": "long enough"})).await;
        assert_eq!(r.status, 400, "name {bad:?}");
        assert_eq!(r.code(), "invalid_username", "name {bad:?}");
    }
    let short = post(addr, "/api/register", None, json!({"username": "dave", "password": "short"})).await;
    assert_eq!(short.status, 400);
    assert_eq!(short.code(), "invalid_password");
    let long = post(addr, "/api/register", None, json!({"username": "dave", "password": "x".repeat(129)})).await;
    assert_eq!(long.code(), "invalid_password");
    let missing = post(addr, "/api/register", None, json!({"username": "dave"})).await;
    assert_eq!(missing.status, 400);
    assert_eq!(missing.code(), "invalid_request");
    server.shutdown().await;
}

/// A POST of JSON from the client address `local` (any 127.0.0.0/8 address on loopback).
async fn post_from(local: &str, addr: std::net::SocketAddr, path: &str, body: serde_json::Value) -> Resp {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{local}:0").parse().unwrap()).unwrap();
    let tcp = socket.connect(addr).await.unwrap();
    let body = serde_json::to_vec(&body).unwrap();
    send_over(
        hyper_util::rt::TokioIo::new(tcp),
        addr,
        "POST",
        path,
        &[("content-type", "application/json")],
        Some(body),
    )
    .await
}

#[tokio::test]
async fn failed_logins_delay_the_guessing_address_not_the_owner() {
    let mut config = chat_server::ServerConfig::ephemeral();
    config.limits.login_failures_before_delay = 3;
    // Long enough that the test never outruns it.
    config.limits.login_failure_delay = std::time::Duration::from_secs(600);
    let server = chat_server::Server::start(config).await.unwrap();
    let addr = server.local_addr();
    register(addr, "erin").await;
    let guess = json!({"username": "erin", "password": "guess-guess"});
    let right = json!({"username": "erin", "password": "password-erin"});
    for _ in 0..3 {
        assert_eq!(post_from("127.0.0.3", addr, "/api/login", guess.clone()).await.status, 401);
    }
    let delayed = post_from("127.0.0.3", addr, "/api/login", right.clone()).await;
    assert_eq!(delayed.status, 429, "the guessing address waits, even with the right password");
    assert_eq!(delayed.code(), "rate_limited");
    let retry: u64 = delayed.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!((1..=600).contains(&retry), "{retry}");
    // The owner, at an address without recent failures, is never locked out of the account:
    // not by the guesses above, nor by guesses from yet another address.
    assert_eq!(post_from("127.0.0.4", addr, "/api/login", right.clone()).await.status, 200);
    for _ in 0..3 {
        assert_eq!(post_from("127.0.0.5", addr, "/api/login", guess.clone()).await.status, 401);
    }
    assert_eq!(post_from("127.0.0.4", addr, "/api/login", right.clone()).await.status, 200);
    // Other names are not affected from the guessing address either.
    register(addr, "frank").await;
    let frank = json!({"username": "frank", "password": "password-frank"});
    assert_eq!(post_from("127.0.0.3", addr, "/api/login", frank).await.status, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn cookie_authenticates_and_logout_ends_the_session() {
    let server = start().await;
    let addr = server.local_addr();
    let token = register(addr, "gina").await;
    let cookie = format!("theme=dark; chat_session={token}");
    let me = send(addr, "GET", "/api/me", &[("cookie", &cookie)], None).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["username"], "gina");

    let out = send(addr, "POST", "/api/logout", &[("cookie", &cookie)], None).await;
    assert_eq!(out.status, 200);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(send(addr, "GET", "/api/me", &[("cookie", &cookie)], None).await.status, 401);
    assert_eq!(get(addr, "/api/me", Some(&token)).await.status, 401);
    server.shutdown().await;
}

#[tokio::test]
async fn protected_endpoints_need_a_session() {
    let server = start().await;
    let addr = server.local_addr();
    for path in [
        "/api/me",
        "/api/messages?room=group:lobby",
        "/api/room_users?room=group:lobby",
        "/api/notifications",
        "/api/rooms",
        "/api/directory",
        "/api/users",
    ] {
        let r = get(addr, path, None).await;
        assert_eq!(r.status, 401, "{path}");
        assert_eq!(r.code(), "unauthorized", "{path}");
        let forged = get(addr, path, Some(&"a".repeat(64))).await;
        assert_eq!(forged.status, 401, "{path} with a made-up token");
    }
    for path in ["/api/notifications/read", "/api/rooms", "/api/messages", "/api/logout", "/api/rooms/invite"] {
        let r = post(addr, path, None, json!({})).await;
        assert_eq!(r.status, 401, "{path}");
    }
    // The seed's `?user=` impersonation does nothing.
    assert_eq!(get(addr, "/api/notifications?user=alice", None).await.status, 401);
    server.shutdown().await;
}

#[tokio::test]
async fn attempts_are_throttled_per_address() {
    let mut config = chat_server::ServerConfig::ephemeral();
    config.limits.auth_attempts_per_addr = 3;
    let server = chat_server::Server::start(config).await.unwrap();
    let addr = server.local_addr();
    register(addr, "hank").await;
    for _ in 0..2 {
        let r = post(addr, "/api/login", None, json!({"username": "hank", "password": "password-hank"})).await;
        assert_eq!(r.status, 200);
    }
    // The fourth attempt from this address in the minute, whatever the name.
    let r = post(addr, "/api/register", None, json!({"username": "ivy", "password": "password-ivy"})).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.code(), "rate_limited");
    let r = post(addr, "/api/login", None, json!({"username": "hank", "password": "password-hank"})).await;
    assert_eq!(r.status, 429);
    server.shutdown().await;
}
