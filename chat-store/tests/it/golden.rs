//! A committed schema-v1 file (`tests/data/golden-v1.redb`) must keep opening with exactly the
//! contents it was written with. If this fails after a change to the store or to the types it
//! stores, the on-disk format changed: bump `SCHEMA_VERSION`, write the migration (see the
//! chat-store section of docs/design.md) and add a new golden file; never regenerate the old one.
//!
//! Regenerate (only when adding a new version's file):
//! `cargo test -p chat-store --test it golden::generate -- --ignored`

use chat_core::{HistoryQuery, HistoryRange, Journal, LogEntry, Message, RoomKind, Snapshot, Timestamp};
use chat_store::{Store, TokenRecord};

use crate::common::*;

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/golden-v1.redb");

/// The log the golden file holds, written out literally so that it cannot drift with helpers.
fn golden_log() -> Vec<Vec<LogEntry>> {
    let (alice, bob, carol) = (user("alice"), user("bob"), user("carol"));
    let lobby = room("group:lobby");
    let dm = room("dm:alice:bob");
    let msg = |room: &chat_core::RoomKey,
               seq,
               t,
               sender: &chat_core::UserName,
               content: &str,
               mentions: Vec<_>,
               cid: Option<&str>| {
        LogEntry::Message(std::sync::Arc::new(Message {
            room: room.clone(),
            seq,
            timestamp: Timestamp(T0 + t),
            sender: sender.clone(),
            content: content.to_owned(),
            mentions,
            client_id: cid.map(str::to_owned),
        }))
    };
    vec![
        vec![
            LogEntry::UserAdded { user: alice.clone() },
            LogEntry::UserAdded { user: bob.clone() },
            LogEntry::UserAdded { user: carol.clone() },
            LogEntry::RoomCreated {
                room: lobby.clone(),
                kind: RoomKind::Public,
                owner: None,
                timestamp: Timestamp(T0),
            },
            LogEntry::MemberAdded { room: lobby.clone(), user: alice.clone() },
            LogEntry::MemberAdded { room: lobby.clone(), user: bob.clone() },
            LogEntry::MemberAdded { room: lobby.clone(), user: carol.clone() },
        ],
        vec![
            msg(&lobby, 1, 10, &alice, "hello @bob", vec![bob.clone()], Some("a-1")),
            msg(&lobby, 2, 20, &bob, "hi alice", vec![], None),
            msg(&lobby, 3, 30, &carol, "@alice @bob lunch?", vec![alice.clone(), bob.clone()], Some("c-1")),
        ],
        vec![
            LogEntry::RoomCreated { room: dm.clone(), kind: RoomKind::Dm, owner: None, timestamp: Timestamp(T0 + 40) },
            LogEntry::MemberAdded { room: dm.clone(), user: alice.clone() },
            LogEntry::MemberAdded { room: dm.clone(), user: bob.clone() },
            msg(&dm, 1, 50, &alice, "psst, ünïcode ✓", vec![], Some("a-2")),
        ],
        vec![
            LogEntry::ReadCursor { user: bob.clone(), room: lobby.clone(), seq: 1 },
            LogEntry::NotificationsRead { user: bob.clone(), ids: Some(vec![1]) },
            LogEntry::MemberRemoved { room: lobby.clone(), user: carol.clone() },
        ],
    ]
}

const TOKEN_HASH: [u8; 32] = [7; 32];

#[test]
#[ignore = "writes tests/data/golden-v1.redb: run on purpose when adding a schema version"]
fn generate() {
    let _ = std::fs::remove_file(GOLDEN);
    let mut store = Store::open(GOLDEN).unwrap();
    for batch in golden_log() {
        store.append(&batch).unwrap();
    }
    assert!(store.create_account(&user("alice"), "$argon2id$v=19$golden", Timestamp(T0)).unwrap());
    let token = TokenRecord { user: user("alice"), created: Timestamp(T0), expires: Timestamp(T0 + 86_400_000) };
    store.put_token(TOKEN_HASH, &token).unwrap();
    store.put_meta("tls_fingerprint", b"AB:CD").unwrap();
    drop(store);
    // Keep the committed file small.
    let mut db = redb::Database::open(GOLDEN).unwrap();
    while db.compact().unwrap() {}
}

#[test]
fn golden_v1_file_opens_with_exact_contents() {
    // Opening may write (redb's recovery flag), so work on a copy.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("golden.redb");
    std::fs::copy(GOLDEN, &path).expect("tests/data/golden-v1.redb is committed");
    let mut store = Store::open(&path).unwrap();

    let snapshot = store.snapshot().unwrap();
    let log: Vec<LogEntry> = golden_log().into_iter().flatten().collect();
    assert_eq!(snapshot, Snapshot::from_log(&log));

    // The same facts, spelled out (independent of today's fold).
    let (alice, bob, carol) = (user("alice"), user("bob"), user("carol"));
    let lobby = room("group:lobby");
    let dm = room("dm:alice:bob");
    assert_eq!(snapshot.users().len(), 3);
    assert_eq!(snapshot.room(&lobby).unwrap().last_seq(), 3);
    assert_eq!(snapshot.room(&lobby).unwrap().members().cloned().collect::<Vec<_>>(), vec![alice.clone(), bob.clone()]);
    assert!(!snapshot.user(&carol).unwrap().in_room(&lobby));
    assert_eq!(snapshot.room(&dm).unwrap().kind(), RoomKind::Dm);
    assert_eq!(snapshot.unread(&bob, &lobby).map(|u| (u.read_seq, u.unread, u.highlight)), Some((2, 1, 1)));
    assert_eq!(snapshot.unread(&bob, &dm).map(|u| (u.unread, u.highlight)), Some((1, 1)));
    let bob_inbox = snapshot.notifications_of(&bob, 10);
    assert_eq!(
        bob_inbox.iter().map(|n| (n.id, n.seq, n.read)).collect::<Vec<_>>(),
        vec![(3, 1, false), (2, 3, false), (1, 1, true)]
    );
    assert_eq!(snapshot.unread_notifications(&bob), 2);
    assert_eq!(snapshot.client_id(&carol, "c-1").map(|r| (r.seq, r.timestamp)), Some((3, Timestamp(T0 + 30))));

    let page = store.history(&HistoryQuery { room: lobby.clone(), range: HistoryRange::Latest, limit: 50 }).unwrap();
    assert_eq!(
        page.iter().map(|m| m.content.as_str()).collect::<Vec<_>>(),
        ["hello @bob", "hi alice", "@alice @bob lunch?"]
    );
    let dm_page = store.history(&HistoryQuery { room: dm.clone(), range: HistoryRange::After(0), limit: 5 }).unwrap();
    assert_eq!(dm_page.len(), 1);
    assert_eq!(dm_page[0].content, "psst, ünïcode ✓");
    assert_eq!(dm_page[0].client_id.as_deref(), Some("a-2"));

    let account = store.account(&alice).unwrap().unwrap();
    assert_eq!((account.password_hash.as_str(), account.created), ("$argon2id$v=19$golden", Timestamp(T0)));
    assert_eq!(store.token(&TOKEN_HASH).unwrap().map(|t| t.expires), Some(Timestamp(T0 + 86_400_000)));
    assert_eq!(store.meta("tls_fingerprint").unwrap().as_deref(), Some(b"AB:CD".as_slice()));

    // A v1 file keeps working: append on top of it.
    store.append(&[LogEntry::ReadCursor { user: bob.clone(), room: lobby.clone(), seq: 3 }]).unwrap();
    assert_eq!(store.snapshot().unwrap().unread(&bob, &lobby).map(|u| u.unread), Some(0));
}
