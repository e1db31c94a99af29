//! Administrators and the registration policy over REST: the first account is the
//! administrator, every admin route refuses everyone else, invites, closed registration,
//! disabling (sockets closed at once, tokens refused), reset codes and the audit log.

use serde_json::{Value, json};

use crate::support::*;

async fn login(addr: std::net::SocketAddr, name: &str, password: &str) -> Resp {
    post(addr, "/api/login", None, json!({"username": name, "password": password})).await
}

fn token_of(r: &Resp) -> String {
    r.json()["token"].as_str().unwrap_or_else(|| panic!("a token in {:?}", r.json())).to_owned()
}

#[tokio::test]
async fn the_first_account_is_the_administrator_and_nobody_else_may_administer() {
    let server = start().await;
    let addr = server.local_addr();
    let first = post(addr, "/api/register", None, json!({"username": "root", "password": "password-root"})).await;
    assert_eq!(first.status, 201);
    assert_eq!(first.json()["admin"], true, "the first account of the database");
    let root = token_of(&first);
    let second = post(addr, "/api/register", None, json!({"username": "bob", "password": "password-bob"})).await;
    assert!(second.json().get("admin").is_none());
    let bob = token_of(&second);
    assert_eq!(get(addr, "/api/me", Some(&root)).await.json()["admin"], true);
    assert_eq!(get(addr, "/api/me", Some(&bob)).await.json()["admin"], false);

    let gets = ["/api/admin/users", "/api/admin/invites", "/api/admin/audit", "/api/admin/registration"];
    let posts: [(&str, Value); 8] = [
        ("/api/admin/users", json!({"username": "eve", "password": "password-eve"})),
        ("/api/admin/users/disable", json!({"username": "root"})),
        ("/api/admin/users/enable", json!({"username": "bob"})),
        ("/api/admin/users/reset_password", json!({"username": "root"})),
        ("/api/admin/invites", json!({"uses": 5})),
        ("/api/admin/invites/revoke", json!({"id": "0011223344556677"})),
        ("/api/admin/registration", json!({"mode": "open"})),
        ("/api/admin/messages/delete", json!({"room": "group:lobby", "seq": 1})),
    ];
    for path in gets {
        let r = get(addr, path, Some(&bob)).await;
        assert_eq!((r.status, r.code()), (403, "forbidden".to_owned()), "GET {path} as a non-admin");
        assert_eq!(get(addr, path, None).await.status, 401, "GET {path} without a session");
        assert_eq!(get(addr, path, Some(&root)).await.status, 200, "GET {path} as the admin");
    }
    for (path, body) in &posts {
        if path.ends_with("messages/delete") {
            continue; // wired once the core offers administrator deletion
        }
        let r = post(addr, path, Some(&bob), body.clone()).await;
        assert_eq!((r.status, r.code()), (403, "forbidden".to_owned()), "POST {path} as a non-admin");
        assert_eq!(post(addr, path, None, body.clone()).await.status, 401, "POST {path} without a session");
    }
    // Nothing the refused calls asked for happened.
    assert_eq!(login(addr, "root", "password-root").await.status, 200);
    assert_eq!(login(addr, "eve", "password-eve").await.status, 401);
    assert!(get(addr, "/api/admin/audit", Some(&root)).await.json()["entries"].as_array().unwrap().is_empty());

    let users = get(addr, "/api/admin/users", Some(&root)).await.json();
    let names: Vec<&str> = users["users"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["bob", "root"]);
    let root_row = &users["users"][1];
    assert_eq!((root_row["admin"].clone(), root_row["disabled"].clone()), (json!(true), json!(false)));
    assert!(root_row["created"].as_u64().unwrap() > 0);
    server.shutdown().await;
}

#[tokio::test]
async fn invite_mode_needs_a_code_that_is_spent_and_closed_mode_only_admins_create() {
    let server = start().await;
    let addr = server.local_addr();
    let root = register(addr, "root").await;
    let r = post(addr, "/api/admin/registration", Some(&root), json!({"mode": "invite"})).await;
    assert_eq!(r.json()["mode"], "invite");
    assert_eq!(get(addr, "/api/registration", None).await.json()["mode"], "invite");

    let no_code = post(addr, "/api/register", None, json!({"username": "carol", "password": "password-carol"})).await;
    assert_eq!((no_code.status, no_code.code()), (403, "invalid_invite".to_owned()));
    // The first-frame `register` carries no code: it signs nobody up, but still logs in.
    let (mut ws, _) = ws_connect(addr, &[]).await.unwrap();
    ws_send(&mut ws, json!({"type": "register", "username": "carol", "password": "password-carol"})).await;
    let refused = ws_next(&mut ws).await;
    assert_eq!((refused["type"].clone(), refused["code"].clone()), (json!("error"), json!("forbidden")), "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("invite"), "{refused}");
    ws_send(&mut ws, json!({"type": "register", "username": "root", "password": "password-root"})).await;
    assert_eq!(ws_next(&mut ws).await["type"], "registered");
    let invite = post(addr, "/api/admin/invites", Some(&root), json!({"uses": 1, "expires_in_hours": 2})).await;
    assert_eq!(invite.status, 201);
    let code = invite.json()["code"].as_str().unwrap().to_owned();
    let id = invite.json()["id"].as_str().unwrap().to_owned();
    let listed = get(addr, "/api/admin/invites", Some(&root)).await.json();
    assert_eq!(listed["invites"][0]["id"], id.as_str());
    assert_eq!(listed["invites"][0]["uses_left"], 1);
    assert!(listed.to_string().find(&code).is_none(), "the code is shown once, never listed");

    let with =
        |name: &str, code: &str| json!({"username": name, "password": format!("password-{name}"), "invite": code});
    let ok = post(addr, "/api/register", None, with("carol", &code)).await;
    assert_eq!(ok.status, 201, "{:?}", ok.json());
    let used = post(addr, "/api/register", None, with("dave", &code)).await;
    assert_eq!((used.status, used.code()), (403, "invalid_invite".to_owned()), "a used-up code");
    let made_up = post(addr, "/api/register", None, with("dave", "0123456789abcdef0123456789abcdef")).await;
    assert_eq!(made_up.code(), "invalid_invite");
    assert!(get(addr, "/api/admin/invites", Some(&root)).await.json()["invites"].as_array().unwrap().is_empty());

    // A revoked code admits nobody.
    let invite = post(addr, "/api/admin/invites", Some(&root), json!({"uses": 3})).await.json();
    let revoke = post(addr, "/api/admin/invites/revoke", Some(&root), json!({"id": invite["id"]})).await;
    assert_eq!(revoke.status, 200);
    let revoked = post(addr, "/api/register", None, with("dave", invite["code"].as_str().unwrap())).await;
    assert_eq!(revoked.code(), "invalid_invite");
    let again = post(addr, "/api/admin/invites/revoke", Some(&root), json!({"id": invite["id"]})).await;
    assert_eq!(again.status, 404);
    for bad in [json!({"uses": 0}), json!({"uses": 1001}), json!({"expires_in_hours": 0})] {
        assert_eq!(post(addr, "/api/admin/invites", Some(&root), bad.clone()).await.status, 400, "{bad}");
    }

    // Closed: nobody signs up, not even with a code; an administrator creates the account.
    post(addr, "/api/admin/registration", Some(&root), json!({"mode": "closed"})).await;
    let code = post(addr, "/api/admin/invites", Some(&root), json!({})).await.json()["code"].clone();
    let closed = post(addr, "/api/register", None, with("dave", code.as_str().unwrap())).await;
    assert_eq!((closed.status, closed.code()), (403, "registration_closed".to_owned()));
    let made =
        post(addr, "/api/admin/users", Some(&root), json!({"username": "dave", "password": "password-dave"})).await;
    assert_eq!(made.status, 201);
    assert_eq!(login(addr, "dave", "password-dave").await.status, 200);
    let bad_mode = post(addr, "/api/admin/registration", Some(&root), json!({"mode": "maybe"})).await;
    assert_eq!(bad_mode.status, 400);

    let audit = get(addr, "/api/admin/audit", Some(&root)).await.json();
    let done: Vec<String> = audit_actions(&audit).into_iter().map(|(a, _)| a).collect();
    assert_eq!(
        done,
        [
            "create_user",
            "invite_create",
            "registration",
            "invite_revoke",
            "invite_create",
            "invite_create",
            "registration"
        ],
        "newest first"
    );
    assert_eq!(audit["entries"][0]["actor"], "root");
    server.shutdown().await;
}

#[tokio::test]
async fn disabling_closes_sockets_at_once_and_refuses_tokens_until_enabled() {
    let server = start().await;
    let addr = server.local_addr();
    let root = register(addr, "root").await;
    let bob = register(addr, "bob").await;
    let auth = format!("Bearer {bob}");
    let (mut ws, _) = ws_connect(addr, &[("authorization", &auth)]).await.expect("bob connects");
    assert_eq!(ws_next(&mut ws).await["type"], "connected");

    let r = post(addr, "/api/admin/users/disable", Some(&root), json!({"username": "bob"})).await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(r.json()["sessions_ended"], 1);
    assert_eq!(ws_closed(&mut ws).await, Some(1000), "the open socket closes at once");
    let refused = get(addr, "/api/me", Some(&bob)).await;
    assert_eq!((refused.status, refused.code()), (401, "unauthorized".to_owned()), "a disabled account's token");
    assert_eq!(refused_status(ws_connect(addr, &[("authorization", &auth)]).await), 401);
    let disabled = login(addr, "bob", "password-bob").await;
    assert_eq!((disabled.status, disabled.code()), (403, "account_disabled".to_owned()));
    let wrong = login(addr, "bob", "not-the-password").await;
    assert_eq!(wrong.code(), "bad_credentials", "the state shows only with the right password");
    let users = get(addr, "/api/admin/users", Some(&root)).await.json();
    assert_eq!(users["users"][0]["disabled"], true);
    // Not oneself, not a stranger.
    assert_eq!(post(addr, "/api/admin/users/disable", Some(&root), json!({"username": "root"})).await.status, 400);
    assert_eq!(post(addr, "/api/admin/users/disable", Some(&root), json!({"username": "nobody"})).await.status, 404);

    assert_eq!(post(addr, "/api/admin/users/enable", Some(&root), json!({"username": "bob"})).await.status, 200);
    assert_eq!(get(addr, "/api/me", Some(&bob)).await.status, 401, "old tokens stay revoked");
    assert_eq!(login(addr, "bob", "password-bob").await.status, 200);
    let audit = get(addr, "/api/admin/audit", Some(&root)).await.json();
    assert_eq!(audit_actions(&audit), [("enable".into(), "bob".into()), ("disable".into(), "bob".into())]);
    server.shutdown().await;
}

#[tokio::test]
async fn a_reset_code_is_redeemed_once_and_ends_every_session() {
    let server = start().await;
    let addr = server.local_addr();
    let root = register(addr, "root").await;
    let bob = register(addr, "bob").await;
    let r = post(addr, "/api/admin/users/reset_password", Some(&root), json!({"username": "bob"})).await;
    assert_eq!(r.status, 200);
    let code = r.json()["code"].as_str().unwrap().to_owned();
    assert!(r.json()["expires"].as_u64().is_some());
    let redeem = |code: &str, user: &str| json!({"username": user, "code": code, "new_password": "brand-new-pass"});
    let wrong = post(addr, "/api/account/redeem_reset", None, redeem("0123456789abcdef0123456789abcdef", "bob")).await;
    assert_eq!((wrong.status, wrong.code()), (403, "invalid_reset_code".to_owned()));
    let other_user = post(addr, "/api/account/redeem_reset", None, redeem(&code, "root")).await;
    assert_eq!(other_user.code(), "invalid_reset_code", "a code is for its user only");
    let ok = post(addr, "/api/account/redeem_reset", None, redeem(&code, "bob")).await;
    assert_eq!(ok.status, 200, "{:?}", ok.json());
    assert_eq!(get(addr, "/api/me", Some(&token_of(&ok))).await.status, 200);
    assert_eq!(get(addr, "/api/me", Some(&bob)).await.status, 401, "earlier sessions end");
    assert_eq!(login(addr, "bob", "password-bob").await.status, 401);
    assert_eq!(login(addr, "bob", "brand-new-pass").await.status, 200);
    let reused = post(addr, "/api/account/redeem_reset", None, redeem(&code, "bob")).await;
    assert_eq!(reused.code(), "invalid_reset_code", "one time");
    let nobody = post(addr, "/api/admin/users/reset_password", Some(&root), json!({"username": "nobody"})).await;
    assert_eq!(nobody.status, 404);
    let audit = get(addr, "/api/admin/audit", Some(&root)).await.json();
    assert_eq!(audit_actions(&audit), [("reset_password".into(), "bob".into())]);
    server.shutdown().await;
}

#[tokio::test]
async fn revoked_administrators_are_refused_at_once() {
    // Administrator rights are read per request: the CLI's revoke (with the server stopped)
    // is tested in `backup.rs`; here a second administrator made through the file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.redb");
    let mut config = chat_server::ServerConfig::ephemeral();
    config.database = chat_server::Database::File(path.clone());
    let server = chat_server::Server::start(config.clone()).await.unwrap();
    let addr = server.local_addr();
    register(addr, "root").await;
    let bob = register(addr, "bob").await;
    server.shutdown().await;
    let grant = chat_server::commands::Command::Admin {
        action: chat_server::commands::AdminAction::Grant { name: "bob".into() },
    };
    chat_server::commands::run(&grant, &path).expect("grant with the server stopped");
    let server = chat_server::Server::start(config).await.unwrap();
    let addr = server.local_addr();
    assert_eq!(get(addr, "/api/admin/users", Some(&bob)).await.status, 200);
    let audit = get(addr, "/api/admin/audit", Some(&bob)).await.json();
    assert_eq!(audit_actions(&audit), [("admin_grant".into(), "bob".into())]);
    assert!(audit["entries"][0]["actor"].is_null(), "the command line has no account");
    server.shutdown().await;
}
