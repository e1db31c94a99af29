//! A user's own account over REST: password change (ending the other sessions), the session
//! list and revocation, log out everywhere, export, and deletion.

use serde_json::json;

use crate::support::*;

async fn login_as(addr: std::net::SocketAddr, name: &str, password: &str, agent: &str) -> String {
    let body = serde_json::to_vec(&json!({"username": name, "password": password})).unwrap();
    let r =
        send(addr, "POST", "/api/login", &[("content-type", "application/json"), ("user-agent", agent)], Some(body))
            .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    r.json()["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_password_change_needs_the_old_one_and_ends_every_other_session() {
    let server = start().await;
    let addr = server.local_addr();
    let phone = register(addr, "bob").await;
    let laptop = login_as(addr, "bob", "password-bob", "Netscape/4.0").await;
    let auth = format!("Bearer {phone}");
    let (mut ws, _) = ws_connect(addr, &[("authorization", &auth)]).await.unwrap();
    assert_eq!(ws_next(&mut ws).await["type"], "connected");

    let wrong = post(
        addr,
        "/api/account/password",
        Some(&laptop),
        json!({"old_password": "nope-nope", "new_password": "new-pass-1"}),
    )
    .await;
    assert_eq!((wrong.status, wrong.code()), (403, "wrong_password".to_owned()));
    assert_eq!(get(addr, "/api/me", Some(&phone)).await.status, 200, "a refused change ends nothing");
    let short = post(
        addr,
        "/api/account/password",
        Some(&laptop),
        json!({"old_password": "password-bob", "new_password": "x"}),
    )
    .await;
    assert_eq!(short.code(), "invalid_password");

    let ok = post(
        addr,
        "/api/account/password",
        Some(&laptop),
        json!({"old_password": "password-bob", "new_password": "new-pass-1"}),
    )
    .await;
    assert_eq!(ok.status, 200, "{:?}", ok.json());
    assert_eq!(ok.json()["sessions_ended"], 1);
    assert_eq!(ws_closed(&mut ws).await, Some(1000), "the other session's socket closes");
    assert_eq!(get(addr, "/api/me", Some(&phone)).await.status, 401);
    assert_eq!(get(addr, "/api/me", Some(&laptop)).await.status, 200, "this session goes on");
    assert_eq!(
        post(addr, "/api/login", None, json!({"username": "bob", "password": "password-bob"})).await.status,
        401
    );
    login_as(addr, "bob", "new-pass-1", "x").await;
    server.shutdown().await;
}

#[tokio::test]
async fn sessions_are_listed_with_their_use_and_end_one_by_one_or_all_at_once() {
    let server = start().await;
    let addr = server.local_addr();
    register(addr, "carol").await;
    let mosaic = login_as(addr, "carol", "password-carol", "Mosaic/1.0").await;
    let lynx = login_as(addr, "carol", "password-carol", "Lynx/2.8").await;
    let other = register(addr, "dave").await;

    let list = get(addr, "/api/account/sessions", Some(&lynx)).await.json();
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 3, "{list}");
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["user_agent"], "Lynx/2.8");
    assert_eq!(current[0]["address"], "127.0.0.1");
    assert!(current[0]["last_used"].as_u64().unwrap() >= current[0]["created"].as_u64().unwrap());
    for s in sessions {
        assert_eq!(s["id"].as_str().unwrap().len(), 16);
        assert!(!list.to_string().contains(&lynx), "tokens are never listed");
    }
    let mosaic_id = sessions.iter().find(|s| s["user_agent"] == "Mosaic/1.0").unwrap()["id"].clone();

    // Another user cannot end carol's session, even knowing its id.
    let theirs = post(addr, "/api/account/sessions/revoke", Some(&other), json!({"id": mosaic_id})).await;
    assert_eq!(theirs.status, 404);
    assert_eq!(get(addr, "/api/me", Some(&mosaic)).await.status, 200);
    let r = post(addr, "/api/account/sessions/revoke", Some(&lynx), json!({"id": mosaic_id})).await;
    assert_eq!(r.status, 200);
    assert_eq!(get(addr, "/api/me", Some(&mosaic)).await.status, 401);
    let unknown = post(addr, "/api/account/sessions/revoke", Some(&lynx), json!({"id": "00112233445566ff"})).await;
    assert_eq!(unknown.status, 404);
    assert_eq!(get(addr, "/api/account/sessions", Some(&lynx)).await.json()["sessions"].as_array().unwrap().len(), 2);

    let all = post(addr, "/api/account/logout_all", Some(&lynx), json!({})).await;
    assert_eq!(all.status, 200);
    assert_eq!(all.json()["sessions_ended"], 2);
    assert!(all.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(get(addr, "/api/me", Some(&lynx)).await.status, 401);
    assert_eq!(get(addr, "/api/me", Some(&other)).await.status, 200, "other users are not affected");
    assert_eq!(get(addr, "/api/account/sessions", None).await.status, 401);
    server.shutdown().await;
}

#[tokio::test]
async fn export_holds_my_messages_rooms_and_notifications_only() {
    let server = start().await;
    let addr = server.local_addr();
    let erin = register(addr, "erin").await;
    let fred = register(addr, "fred").await;
    for token in [&erin, &fred] {
        post(addr, "/api/rooms/join", Some(token), json!({"room": "group:lobby"})).await;
    }
    for (token, content) in [(&erin, "mine one"), (&fred, "not mine @erin"), (&erin, "mine two")] {
        let r = post(addr, "/api/messages", Some(token), json!({"room": "group:lobby", "content": content})).await;
        assert_eq!(r.status, 200, "{:?}", r.json());
    }
    post(addr, "/api/messages", Some(&fred), json!({"room_type": "dm", "target": "erin", "content": "hi"})).await;
    let r = get(addr, "/api/account/export", Some(&erin)).await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-disposition").unwrap().contains("chat-export-erin.json"));
    let doc = r.json();
    assert_eq!(doc["username"], "erin");
    let mine: Vec<&str> = doc["messages"].as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(mine, ["mine one", "mine two"]);
    let rooms: Vec<&str> = doc["rooms"].as_array().unwrap().iter().map(|r| r["room"].as_str().unwrap()).collect();
    assert!(rooms.contains(&"group:lobby") && rooms.contains(&"dm:erin:fred"), "{rooms:?}");
    assert_eq!(doc["notifications"].as_array().unwrap().len(), 2, "the mention and the DM");
    assert_eq!(doc["truncated"], false);
    assert_eq!(get(addr, "/api/account/export", None).await.status, 401);
    server.shutdown().await;
}

#[tokio::test]
async fn deleting_an_account_needs_the_password_keeps_messages_and_retires_the_name() {
    let server = start().await;
    let addr = server.local_addr();
    let gina = register(addr, "gina").await;
    let hal = register(addr, "hal").await;
    for token in [&gina, &hal] {
        post(addr, "/api/rooms/join", Some(token), json!({"room": "group:lobby"})).await;
    }
    post(addr, "/api/messages", Some(&gina), json!({"room": "group:lobby", "content": "bye all"})).await;
    post(addr, "/api/messages", Some(&gina), json!({"room_type": "dm", "target": "hal", "content": "psst"})).await;

    let wrong = post(addr, "/api/account/delete", Some(&gina), json!({"password": "not-it-at-all"})).await;
    assert_eq!((wrong.status, wrong.code()), (403, "wrong_password".to_owned()));
    assert_eq!(get(addr, "/api/me", Some(&gina)).await.status, 200);
    let ok = post(addr, "/api/account/delete", Some(&gina), json!({"password": "password-gina"})).await;
    assert_eq!(ok.status, 200, "{:?}", ok.json());
    assert_eq!(ok.json()["rooms_left"], 1, "the lobby; a DM is not left");
    assert_eq!(get(addr, "/api/me", Some(&gina)).await.status, 401);
    let login = post(addr, "/api/login", None, json!({"username": "gina", "password": "password-gina"})).await;
    assert_eq!(login.code(), "bad_credentials");
    let again = post(addr, "/api/register", None, json!({"username": "GINA", "password": "password-new"})).await;
    assert_eq!((again.status, again.code()), (409, "username_taken".to_owned()), "the name is never reused");
    // What she wrote stays, in the room and in the DM.
    let lobby = get(addr, "/api/messages?room=group:lobby", Some(&hal)).await.json();
    assert_eq!(lobby["messages"][0]["sender"], "gina");
    let dm = get(addr, "/api/messages?room=dm:gina:hal", Some(&hal)).await.json();
    assert_eq!(dm["messages"][0]["content"], "psst");
    server.shutdown().await;
}
