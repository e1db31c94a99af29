//! `chat-server backup` while the server runs under load (through the control socket), the
//! copy restoring to a server that shows every acknowledged message; `check`; `admin grant`
//! and `revoke` refusing while the server holds the file.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chat_server::commands::{AdminAction, Command, CommandError, run};
use chat_server::{Database, Server, ServerConfig};
use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_load_restores_every_acknowledged_message() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.redb");
    let mut config = ServerConfig::ephemeral();
    config.database = Database::File(db.clone());
    // The writer sends as fast as acks come back: no per-user rate limit may refuse it.
    config.chat.send_rate_per_sec = 100_000;
    config.chat.send_burst = 100_000;
    config.chat.op_rate_per_sec = 100_000;
    config.chat.op_burst = 100_000;
    let server = Server::start(config.clone()).await.unwrap();
    let addr = server.local_addr();
    let alice = register(addr, "alice").await;
    post(addr, "/api/rooms/join", Some(&alice), json!({"room": "group:lobby"})).await;

    // A writer acknowledges messages one after another; `acked` is the highest acked seq.
    let acked = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (acked, stop, alice) = (acked.clone(), stop.clone(), alice.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let r = post(
                    addr,
                    "/api/messages",
                    Some(&alice),
                    json!({"room": "group:lobby", "content": format!("m{n}")}),
                )
                .await;
                assert_eq!(r.status, 200, "{:?}", r.json());
                acked.fetch_max(r.json()["seq"].as_u64().unwrap(), Ordering::SeqCst);
            }
        })
    };
    while acked.load(Ordering::SeqCst) < 200 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let copy = dir.path().join("backup.redb");
    let before = acked.load(Ordering::SeqCst);
    let (db2, copy2) = (db.clone(), copy.clone());
    let out = tokio::task::spawn_blocking(move || run(&Command::Backup { path: copy2 }, &db2)).await.unwrap();
    let out = out.expect("backup while the server runs");
    assert!(out.contains("by the running server"), "{out}");
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    let total = acked.load(Ordering::SeqCst);
    assert!(total > before, "the server kept writing during the backup");
    // A second backup to the same file is refused (it exists).
    let again = run(&Command::Backup { path: copy.clone() }, &db);
    assert!(matches!(again, Err(CommandError::Usage(_))), "{again:?}");
    // The server holds its file: check and admin refuse, saying why.
    assert!(run(&Command::Check { path: None }, &db).unwrap_err().to_string().contains("running server"));
    let grant = Command::Admin { action: AdminAction::Grant { name: "alice".into() } };
    assert!(matches!(run(&grant, &db), Err(CommandError::InUse(_))));
    server.shutdown().await;

    let report = run(&Command::Check { path: Some(copy.clone()) }, &db).expect("the copy checks");
    assert!(report.contains(": OK") && report.contains("accounts 1 (administrators 1"), "{report}");

    // Restore = start a server on the copy.
    let mut restored = config.clone();
    restored.database = Database::File(copy.clone());
    let server = Server::start(restored).await.expect("a server starts on the backup");
    let addr = server.local_addr();
    let alice = post(addr, "/api/login", None, json!({"username": "alice", "password": "password-alice"})).await;
    let alice = alice.json()["token"].as_str().unwrap().to_owned();
    let rooms = get(addr, "/api/rooms", Some(&alice)).await.json();
    let lobby = rooms["rooms"].as_array().unwrap().iter().find(|r| r["room"] == "group:lobby").unwrap().clone();
    let last = lobby["last_seq"].as_u64().unwrap();
    assert!(last >= before && last <= total, "the copy holds {last}: acked {before} before, {total} after");
    // Every message up to the backup, gap-free and with its content.
    let mut seen = 0;
    while seen < last {
        let page =
            get(addr, &format!("/api/messages?room=group:lobby&after={seen}&limit=100"), Some(&alice)).await.json();
        for m in page["messages"].as_array().unwrap() {
            seen += 1;
            assert_eq!(m["seq"].as_u64(), Some(seen));
            assert_eq!(m["content"], format!("m{seen}"));
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn admin_grant_and_revoke_work_on_a_stopped_server_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.redb");
    let mut config = ServerConfig::ephemeral();
    config.database = Database::File(db.clone());
    let server = Server::start(config.clone()).await.unwrap();
    register(server.local_addr(), "root").await;
    register(server.local_addr(), "bob").await;
    server.shutdown().await;

    let grant = |name: &str| Command::Admin { action: AdminAction::Grant { name: name.into() } };
    let revoke = |name: &str| Command::Admin { action: AdminAction::Revoke { name: name.into() } };
    assert!(run(&grant("bob"), &db).unwrap().contains("2 administrator(s)"));
    assert!(run(&revoke("root"), &db).unwrap().contains("1 administrator(s)"));
    assert!(matches!(run(&grant("nobody"), &db), Err(CommandError::NoAccount(_))));
    let missing = dir.path().join("missing.redb");
    assert!(matches!(run(&grant("bob"), &missing), Err(CommandError::Usage(_))));
    assert!(!missing.exists(), "no file is created by a mistyped --db");
    // With the server stopped, backup copies the file itself.
    let out = run(&Command::Backup { path: dir.path().join("copy.redb") }, &db).unwrap();
    assert!(out.contains("server not running"), "{out}");

    let server = Server::start(config).await.unwrap();
    let addr = server.local_addr();
    let root = post(addr, "/api/login", None, json!({"username": "root", "password": "password-root"})).await;
    let root = root.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(get(addr, "/api/admin/users", Some(&root)).await.status, 403, "revoked");
    let bob = post(addr, "/api/login", None, json!({"username": "bob", "password": "password-bob"})).await;
    let bob = bob.json()["token"].as_str().unwrap().to_owned();
    let audit = get(addr, "/api/admin/audit", Some(&bob)).await.json();
    let done: Vec<&str> = audit["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(done, ["admin_revoke", "admin_grant"]);
    server.shutdown().await;
}
