use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn cross_origin_upgrades_are_refused() {
    let server = start().await;
    let addr = server.local_addr();
    let token = register(addr, "alice").await;
    let bearer = format!("Bearer {token}");
    let cookie = format!("chat_session={token}");
    for origin in ["http://evil.example", "null", &format!("https://{addr}"), "http://localhost:1"] {
        let status = refused_status(ws_connect(addr, &[("origin", origin), ("cookie", &cookie)]).await);
        assert_eq!(status, 403, "origin {origin}");
        let status = refused_status(ws_connect(addr, &[("origin", origin), ("authorization", &bearer)]).await);
        assert_eq!(status, 403, "origin {origin} with a bearer token");
    }
    // A cookie without any Origin is not a browser we trust with it.
    assert_eq!(refused_status(ws_connect(addr, &[("cookie", &cookie)]).await), 403);
    // A bad token is 401.
    let forged = format!("Bearer {}", "b".repeat(64));
    assert_eq!(refused_status(ws_connect(addr, &[("authorization", &forged)]).await), 401);
    server.shutdown().await;
}

#[tokio::test]
async fn same_origin_cookie_and_bearer_connect() {
    let server = start().await;
    let addr = server.local_addr();
    let token = register(addr, "alice").await;
    let origin = format!("http://{addr}");
    let cookie = format!("chat_session={token}");
    let (mut ws, response) = ws_connect(addr, &[("origin", &origin), ("cookie", &cookie)]).await.expect("same origin");
    assert!(response.headers().get("sec-websocket-protocol").is_none(), "nothing offered, nothing echoed");
    let connected = ws_next(&mut ws).await;
    assert_eq!(connected["type"], "connected");
    assert_eq!(connected["username"], "alice");

    let bearer = format!("Bearer {token}");
    let (mut ws2, _) = ws_connect(addr, &[("authorization", &bearer)]).await.expect("bearer without origin");
    assert_eq!(ws_next(&mut ws2).await["type"], "connected");
    server.shutdown().await;
}

#[tokio::test]
async fn extra_origins_from_the_config_are_allowed() {
    let mut config = chat_server::ServerConfig::ephemeral();
    config.origins = vec!["https://chat.example.org/".into()];
    let server = chat_server::Server::start(config).await.unwrap();
    let addr = server.local_addr();
    let token = register(addr, "alice").await;
    let cookie = format!("chat_session={token}");
    let ok = ws_connect(addr, &[("origin", "https://chat.example.org"), ("cookie", &cookie)]).await;
    assert!(ok.is_ok());
    let refused = ws_connect(addr, &[("origin", "https://other.example.org"), ("cookie", &cookie)]).await;
    assert_eq!(refused_status(refused), 403);
    server.shutdown().await;
}

#[tokio::test]
async fn first_frame_register_signs_up_then_logs_in() {
    let server = start().await;
    let addr = server.local_addr();
    let (mut ws, _) = ws_connect(addr, &[]).await.expect("no credentials: first-frame auth");
    ws_send(&mut ws, json!({"type": "join_room", "room": "group:lobby"})).await;
    let refused = ws_next(&mut ws).await;
    assert_eq!(refused["type"], "error");
    assert_eq!(refused["code"], "unauthorized");
    ws_send(&mut ws, json!({"type": "register", "username": "Zoe", "password": "password-zoe"})).await;
    let registered = ws_next(&mut ws).await;
    assert_eq!(registered["type"], "registered", "{registered}");
    assert_eq!(registered["username"], "zoe");
    let token = registered["token"].as_str().unwrap().to_owned();
    assert_eq!(ws_next(&mut ws).await["type"], "connected");
    // The token works over REST too.
    assert_eq!(get(addr, "/api/me", Some(&token)).await.json()["username"], "zoe");

    // Same name again: a login; the wrong password is refused.
    let (mut ws2, _) = ws_connect(addr, &[]).await.unwrap();
    ws_send(&mut ws2, json!({"type": "register", "username": "zoe", "password": "wrong-password"})).await;
    let bad = ws_next(&mut ws2).await;
    assert_eq!(bad["type"], "error");
    assert_eq!(bad["code"], "bad_credentials");
    ws_send(&mut ws2, json!({"type": "register", "token": token})).await;
    let resumed = ws_next(&mut ws2).await;
    assert_eq!(resumed["type"], "registered");
    assert_eq!(resumed["username"], "zoe");
    assert_eq!(ws_next(&mut ws2).await["type"], "connected");

    // And the password is the one set at sign-up.
    let login = post(addr, "/api/login", None, json!({"username": "zoe", "password": "password-zoe"})).await;
    assert_eq!(login.status, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn logout_closes_the_socket() {
    let server = start().await;
    let addr = server.local_addr();
    let token = register(addr, "bob").await;
    let bearer = format!("Bearer {token}");
    let (mut ws, _) = ws_connect(addr, &[("authorization", &bearer)]).await.unwrap();
    assert_eq!(ws_next(&mut ws).await["type"], "connected");
    // The same user logged in on another device, with another token.
    let other = post(addr, "/api/login", None, json!({"username": "bob", "password": "password-bob"})).await;
    let other_token = other.json()["token"].as_str().expect("a token").to_owned();
    let other_bearer = format!("Bearer {other_token}");
    let (mut phone, _) = ws_connect(addr, &[("authorization", &other_bearer)]).await.unwrap();
    assert_eq!(ws_next(&mut phone).await["type"], "connected");

    let out = post(addr, "/api/logout", Some(&token), json!({})).await;
    assert_eq!(out.status, 200);
    assert_eq!(ws_closed(&mut ws).await, Some(1000));
    // Only that login's sockets close: the other device keeps working.
    ws_send(&mut phone, json!({"type": "list_rooms"})).await;
    assert_eq!(ws_next(&mut phone).await["type"], "room_list");
    // The token is gone: reconnecting with it fails.
    assert_eq!(refused_status(ws_connect(addr, &[("authorization", &bearer)]).await), 401);
    server.shutdown().await;
}

#[tokio::test]
async fn msgpack_subprotocol_and_live_delivery() {
    let server = start().await;
    let addr = server.local_addr();
    let alice = register(addr, "alice").await;
    let bob = register(addr, "bob").await;
    for who in [&alice, &bob] {
        assert_eq!(post(addr, "/api/rooms/join", Some(who), json!({"room": "group:lobby"})).await.status, 200);
    }
    let bearer = format!("Bearer {bob}");
    let (mut ws, response) =
        ws_connect(addr, &[("authorization", &bearer), ("sec-websocket-protocol", "chat.v1.msgpack, chat.v1.json")])
            .await
            .unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], "chat.v1.msgpack");
    let connected = ws_next(&mut ws).await;
    assert_eq!(connected["type"], "connected");
    assert_eq!(connected["rooms"][0]["room"], "group:lobby");

    let r = post(addr, "/api/messages", Some(&alice), json!({"room": "group:lobby", "content": "hello @bob"})).await;
    assert_eq!(r.status, 200);
    let (mut message, mut note) = (None, None);
    while message.is_none() || note.is_none() {
        let event = ws_next(&mut ws).await;
        match event["type"].as_str() {
            Some("message") => message = Some(event),
            Some("mention_notification") => note = Some(event),
            _ => {}
        }
    }
    let message = message.unwrap();
    assert_eq!(message["content"], "hello @bob");
    assert_eq!(message["sender"], "alice");
    assert_eq!(note.unwrap()["sender"], "alice");

    let unknown = ws_connect(addr, &[("authorization", &bearer), ("sec-websocket-protocol", "chat.v2")]).await;
    assert_eq!(refused_status(unknown), 400);
    server.shutdown().await;
}

#[tokio::test]
async fn logout_closes_first_frame_sockets_too() {
    let server = start().await;
    let addr = server.local_addr();
    // Signed in with a first-frame password: the token comes back in `registered`.
    let (mut first, _) = ws_connect(addr, &[]).await.unwrap();
    ws_send(&mut first, json!({"type": "register", "username": "dana", "password": "password-dana"})).await;
    let registered = ws_next(&mut first).await;
    let token = registered["token"].as_str().expect("a token").to_owned();
    assert_eq!(ws_next(&mut first).await["type"], "connected");
    // Resumed with that token in a first frame.
    let (mut resumed, _) = ws_connect(addr, &[]).await.unwrap();
    ws_send(&mut resumed, json!({"type": "register", "token": token})).await;
    assert_eq!(ws_next(&mut resumed).await["type"], "registered");
    assert_eq!(ws_next(&mut resumed).await["type"], "connected");
    // Another login of the same user stays.
    let other = post(addr, "/api/login", None, json!({"username": "dana", "password": "password-dana"})).await;
    let other_bearer = format!("Bearer {}", other.json()["token"].as_str().unwrap());
    let (mut phone, _) = ws_connect(addr, &[("authorization", &other_bearer)]).await.unwrap();
    assert_eq!(ws_next(&mut phone).await["type"], "connected");

    assert_eq!(post(addr, "/api/logout", Some(&token), json!({})).await.status, 200);
    // A bound so that a socket left open fails the test instead of hanging it.
    let patience = std::time::Duration::from_secs(30);
    let closed = tokio::time::timeout(patience, ws_closed(&mut first)).await.expect("closed at logout");
    assert_eq!(closed, Some(1000), "the password first-frame socket");
    let closed = tokio::time::timeout(patience, ws_closed(&mut resumed)).await.expect("closed at logout");
    assert_eq!(closed, Some(1000), "the token first-frame socket");
    ws_send(&mut phone, json!({"type": "list_rooms"})).await;
    assert_eq!(ws_next(&mut phone).await["type"], "room_list");
    server.shutdown().await;
}
