//! `chat-server backup` while the server runs under load (through the control socket), the
//! copy restoring to a server that shows every acknowledged message; the attachment files a
//! backup copies (and verifies), a restore that serves them, a backup from before files were
//! copied that still restores; `check`; `admin grant` and `revoke` refusing while the server
//! holds the file.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use std::path::Path;

use chat_server::commands::{AdminAction, Command, CommandError, run, run_with_attachments_dir};
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

/// A server on the database file `db` (attachments in the default `<db>.attachments/`).
async fn start_on(db: &Path) -> chat_server::RunningServer {
    let mut config = ServerConfig::ephemeral();
    config.database = Database::File(db.to_owned());
    Server::start(config).await.expect("a server starts")
}

async fn login(addr: std::net::SocketAddr, name: &str) -> String {
    let r = post(addr, "/api/login", None, json!({"username": name, "password": format!("password-{name}")})).await;
    assert_eq!(r.status, 200, "login {name}");
    r.json()["token"].as_str().unwrap().to_owned()
}

/// Copies the files of `from` (not its sub-directories) into the new directory `to`.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// alice uploads two files and sends them in `group:lobby`, where bob is a member; their ids.
async fn two_files_in_the_lobby(addr: std::net::SocketAddr) -> (String, String) {
    let alice = register(addr, "alice").await;
    let bob = register(addr, "bob").await;
    for token in [&alice, &bob] {
        post(addr, "/api/rooms/join", Some(token), json!({"room": "group:lobby"})).await;
    }
    let photo = attachment_id(&uploaded(addr, &alice, "photo.png", &png(300, 200)).await);
    let notes = attachment_id(&uploaded(addr, &alice, "notes.txt", b"minutes of the meeting").await);
    let sent = send_with_attachments(addr, &alice, "group:lobby", "from the trip", &[&photo, &notes]).await;
    assert_eq!(sent.status, 200, "{:?}", sent.json());
    (photo, notes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_of_a_running_server_holds_its_attachment_files_and_a_restore_serves_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.redb");
    let files = dir.path().join("chat.redb.attachments");
    let server = start_on(&db).await;
    let addr = server.local_addr();
    let (photo, notes) = two_files_in_the_lobby(addr).await;
    // A file without a record (none is referenced by the tables): not part of the backup.
    let stray = "ab".repeat(32);
    std::fs::write(files.join(&stray), b"not an attachment").unwrap();

    let copy = dir.path().join("backup.redb");
    let (db2, copy2) = (db.clone(), copy.clone());
    let out = tokio::task::spawn_blocking(move || run(&Command::Backup { path: copy2 }, &db2)).await.unwrap();
    let out = out.expect("backup while the server runs");
    let photo_bytes = std::fs::read(files.join(&photo)).unwrap();
    let bytes = photo_bytes.len() + b"minutes of the meeting".len();
    assert!(out.contains("by the running server"), "{out}");
    assert!(out.contains(&format!("attachment files 2 ({bytes} bytes")) && out.contains("thumbnails 1,"), "{out}");
    let copied = dir.path().join("backup.redb.attachments");
    let mut names = stored_files(&copied);
    names.sort();
    let mut expected = vec![photo.clone(), format!("{photo}.thumb"), notes.clone()];
    expected.sort();
    assert_eq!(names, expected, "exactly the recorded files and thumbnails");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(
        !left.iter().any(|n| n.to_string_lossy().contains("partial") || n.to_string_lossy().contains("incomplete")),
        "{left:?}"
    );
    // A second backup to the same name is refused, and so is one whose files directory exists.
    assert!(matches!(run(&Command::Backup { path: copy.clone() }, &db), Err(CommandError::Usage(_))));
    std::fs::create_dir(dir.path().join("other.redb.attachments")).unwrap();
    let taken = run(&Command::Backup { path: dir.path().join("other.redb") }, &db);
    assert!(matches!(taken, Err(CommandError::Usage(_))), "{taken:?}");
    assert!(!dir.path().join("other.redb").exists());
    server.shutdown().await;

    // Restore into a fresh directory: the copy and its files where a server expects them.
    let fresh = tempfile::tempdir().unwrap();
    let restored_db = fresh.path().join("chat.redb");
    std::fs::copy(&copy, &restored_db).unwrap();
    copy_dir(&copied, &fresh.path().join("chat.redb.attachments"));
    let server = start_on(&restored_db).await;
    let addr = server.local_addr();
    // bob did not upload them: he reads them through the restored message and membership.
    let bob = login(addr, "bob").await;
    let served = get(addr, &format!("/api/attachments/{photo}"), Some(&bob)).await;
    assert_eq!(served.status, 200);
    assert_eq!(served.body.as_ref(), photo_bytes.as_slice());
    let thumb = get(addr, &format!("/api/attachments/{photo}/thumbnail"), Some(&bob)).await;
    assert_eq!(thumb.status, 200);
    assert!(image::load_from_memory(&thumb.body).is_ok());
    let served = get(addr, &format!("/api/attachments/{notes}"), Some(&bob)).await;
    assert_eq!((served.status, served.body.as_ref()), (200, b"minutes of the meeting".as_slice()));
    server.shutdown().await;
}

#[tokio::test]
async fn a_stopped_servers_backup_verifies_each_file_and_names_the_damaged_ones() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.redb");
    let files = dir.path().join("files");
    let mut config = ServerConfig::ephemeral();
    config.database = Database::File(db.clone());
    config.attachments.dir = Some(files.clone());
    let server = Server::start(config).await.unwrap();
    let (photo, notes) = two_files_in_the_lobby(server.local_addr()).await;
    server.shutdown().await;
    // One file rots on disk.
    std::fs::write(files.join(&notes), b"minutes of the meeting, altered").unwrap();

    let copy = dir.path().join("copy.redb");
    let backup = Command::Backup { path: copy.clone() };
    let err = run_with_attachments_dir(&backup, &db, Some(&files)).unwrap_err();
    let CommandError::Incomplete(report) = &err else { panic!("{err:?}") };
    assert!(report.contains("server not running") && report.contains("attachment files 1 ("), "{report}");
    assert!(report.contains(&format!("{notes}: damaged")), "{report}");
    assert!(err.to_string().contains("incomplete"), "{err}");
    // The backup holds everything else; the damaged file is not in it.
    assert!(copy.exists());
    let mut names = stored_files(&dir.path().join("copy.redb.attachments"));
    names.sort();
    assert_eq!(names, [photo.clone(), format!("{photo}.thumb")]);

    // Without --attachments-dir the files are looked for beside the database: none is there.
    let elsewhere = Command::Backup { path: dir.path().join("second.redb") };
    let CommandError::Incomplete(report) = run(&elsewhere, &db).unwrap_err() else { panic!() };
    assert!(
        report.contains("attachment files 0 (0 bytes") && report.contains(&format!("{photo}: missing")),
        "{report}"
    );
}

#[tokio::test]
async fn a_backup_from_before_files_were_copied_still_restores() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.redb");
    let server = start_on(&db).await;
    let (photo, _) = two_files_in_the_lobby(server.local_addr()).await;
    server.shutdown().await;
    // What `backup` wrote until now: the database copy alone.
    let old = dir.path().join("old.redb");
    chat_store::Store::open(&db).unwrap().backup_to(&old).unwrap();
    assert!(!dir.path().join("old.redb.attachments").exists());

    let server = start_on(&old).await;
    let addr = server.local_addr();
    let bob = login(addr, "bob").await;
    let page = get(addr, "/api/messages?room=group:lobby&after=0&limit=10", Some(&bob)).await.json();
    let message = page["messages"].as_array().unwrap().iter().find(|m| m["content"] == "from the trip").unwrap();
    assert_eq!(message["attachments"][0]["id"], photo.as_str());
    // Its files are not in it: their downloads are 404, until they are copied beside it (what
    // the README said to do for such backups).
    let path = format!("/api/attachments/{photo}");
    assert_eq!(get(addr, &path, Some(&bob)).await.status, 404);
    server.shutdown().await;
    let restored_files = dir.path().join("old.redb.attachments");
    for entry in std::fs::read_dir(dir.path().join("chat.redb.attachments")).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), restored_files.join(entry.file_name())).unwrap();
        }
    }
    let server = start_on(&old).await;
    let addr = server.local_addr();
    let bob = login(addr, "bob").await;
    assert_eq!(get(addr, &path, Some(&bob)).await.status, 200);
    server.shutdown().await;
}
