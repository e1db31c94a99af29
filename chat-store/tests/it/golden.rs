//! Committed files of every schema version (`tests/data/golden-v1.redb`, written by the v1 code,
//! `golden-v2.redb`, `golden-v3.redb`, `golden-v4.redb` and `golden-v5.redb`) must keep opening with exactly the contents they were written with; an
//! older one is migrated on open. If this fails after a change to the store or to the types it
//! stores, the on-disk format changed: bump `SCHEMA_VERSION`, write the migration (see the
//! chat-store section of docs/design.md) and add a new golden file; never regenerate an old one.
//!
//! Write the current version's file (only when adding a new version):
//! `cargo test -p chat-store --test it golden::generate -- --ignored`

use chat_core::attachment::AttachmentId;
use chat_core::log::{Deletion, Edit, Reaction, Reactions};
use chat_core::{HistoryQuery, HistoryRange, Journal, LogEntry, Message, ReplyTo, RoomKind, Snapshot, Timestamp};
use chat_store::{AttachmentRecord, AuditEntry, Invite, ResetCode, SCHEMA_VERSION, SessionMeta, Store, TokenRecord};

use crate::common::*;

const GOLDEN_V1: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/golden-v1.redb");
const GOLDEN_V2: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/golden-v2.redb");
const GOLDEN_V3: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/golden-v3.redb");
const GOLDEN_V4: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/golden-v4.redb");
const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/golden-v5.redb");

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
            attachments: Vec::new(),
            room: room.clone(),
            seq,
            timestamp: Timestamp(T0 + t),
            sender: sender.clone(),
            content: content.to_owned(),
            mentions,
            client_id: cid.map(str::to_owned),
            rev: 0,
            changed_rev: 0,
            edited_at: None,
            deleted: false,
            deleted_at: None,
            reply_to: None,
            reactions: Vec::new(),
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

/// What the v4 file adds: a room whose messages were edited, reacted to, deleted and replied to.
fn lifecycle_log() -> Vec<Vec<LogEntry>> {
    let (alice, bob) = (user("alice"), user("bob"));
    let life = room("group:life");
    let msg = |seq,
               rev,
               t,
               sender: &chat_core::UserName,
               content: &str,
               mentions,
               reply: Option<(u64, &chat_core::UserName)>| {
        LogEntry::Message(std::sync::Arc::new(Message {
            attachments: Vec::new(),
            room: life.clone(),
            seq,
            rev,
            changed_rev: 0,
            timestamp: Timestamp(T0 + t),
            sender: sender.clone(),
            content: content.to_owned(),
            mentions,
            client_id: None,
            edited_at: None,
            deleted: false,
            deleted_at: None,
            reply_to: reply
                .map(|(seq, sender)| Box::new(ReplyTo { seq, sender: sender.clone(), preview: "quoted".into() })),
            reactions: Vec::new(),
        }))
    };
    vec![
        vec![
            LogEntry::RoomCreated {
                room: life.clone(),
                kind: RoomKind::Public,
                owner: None,
                timestamp: Timestamp(T0 + 100),
            },
            LogEntry::MemberAdded { room: life.clone(), user: alice.clone() },
            LogEntry::MemberAdded { room: life.clone(), user: bob.clone() },
            msg(1, 1, 110, &alice, "hi @bob", vec![bob.clone()], None),
            msg(2, 2, 120, &bob, "yes", vec![], Some((1, &alice))),
        ],
        vec![
            LogEntry::Edited(Box::new(Edit {
                room: life.clone(),
                seq: 1,
                rev: 3,
                sender: alice.clone(),
                timestamp: Timestamp(T0 + 110),
                content: "hi all".into(),
                mentions: vec![],
                previous_mentions: vec![bob.clone()],
                edited_at: Timestamp(T0 + 130),
            })),
            LogEntry::Reacted(Box::new(Reaction {
                room: life.clone(),
                seq: 1,
                rev: 4,
                user: bob.clone(),
                emoji: "👍".into(),
                add: true,
            })),
            LogEntry::Deleted(Box::new(Deletion {
                room: life.clone(),
                seq: 2,
                rev: 5,
                sender: bob.clone(),
                mentions: vec![],
                deleted_at: Timestamp(T0 + 140),
            })),
            msg(3, 6, 150, &alice, "see above", vec![], Some((2, &bob))),
        ],
    ]
}

/// The lifecycle facts of the v4 file.
fn check_lifecycle(store: &Store) {
    let life = room("group:life");
    let snapshot = store.snapshot().unwrap();
    let r = snapshot.room(&life).unwrap();
    assert_eq!((r.last_seq(), r.last_rev()), (3, 6));
    assert!(snapshot.is_deleted(&life, 2) && !snapshot.is_deleted(&life, 1));
    assert_eq!(snapshot.unread(&user("bob"), &life).map(|u| (u.read_seq, u.unread, u.highlight)), Some((2, 1, 0)));
    assert_eq!(snapshot.notification_about(&user("bob"), &life, 1), None, "the edit retracted the mention");
    let page = store.history(&HistoryQuery { room: life.clone(), range: HistoryRange::Latest, limit: 10 }).unwrap();
    assert_eq!(page.len(), 3);
    assert_eq!((page[0].content.as_str(), page[0].edited_at), ("hi all", Some(Timestamp(T0 + 130))));
    assert_eq!(page[0].reactions, [Reactions { emoji: "👍".into(), users: vec![user("bob")] }]);
    assert!(page[1].deleted && page[1].content.is_empty() && page[1].deleted_at == Some(Timestamp(T0 + 140)));
    assert_eq!(page[1].reply_to, Some(Box::new(ReplyTo { seq: 1, sender: user("alice"), preview: "hi all".into() })));
    assert_eq!(page[2].reply_to, Some(Box::new(ReplyTo { seq: 2, sender: user("bob"), preview: String::new() })));
    assert_eq!(page.iter().map(|m| m.rev).collect::<Vec<_>>(), [1, 2, 6]);
    let changed = |rev| {
        let range = HistoryRange::ChangedSince { rev, after: 0, through: 3 };
        let page = store.history(&HistoryQuery { room: life.clone(), range, limit: 10 }).unwrap();
        page.iter().map(|m| m.seq).collect::<Vec<_>>()
    };
    assert_eq!((changed(0), changed(4), changed(5)), (vec![1, 2], vec![2], vec![]));
}

const TOKEN_HASH: [u8; 32] = [7; 32];
const ATTACHMENT: AttachmentId = AttachmentId::from_bytes([0xa7; 32]);

/// The attachment rows of the v5 file: one file, uploaded by alice and then by bob.
fn check_attachments(store: &Store) {
    let record = store.attachment(&ATTACHMENT).unwrap().expect("the record");
    assert_eq!((record.size, record.content_type.as_str()), (1234, "image/png"));
    assert_eq!((record.width, record.height, record.thumbnail.as_deref()), (Some(40), Some(30), Some("image/jpeg")));
    assert_eq!((record.created, record.touched), (Timestamp(T0 + 7), Timestamp(T0 + 8)));
    assert_eq!(record.uploaders, [user("alice"), user("bob")]);
    assert_eq!(
        store.attachment_upload(&user("bob"), &ATTACHMENT).unwrap().map(|u| u.name),
        Some("same-cat.png".into())
    );
    assert_eq!(store.attachment_usage(&user("alice")).unwrap(), 1234);
    assert_eq!(store.attachment_ids().unwrap(), [ATTACHMENT]);
    assert!(store.attachment_refs(&ATTACHMENT, 10).unwrap().is_empty());
}

const INVITE_HASH: [u8; 32] = [8; 32];

#[test]
#[ignore = "writes tests/data/golden-v5.redb: run on purpose when adding a schema version"]
fn generate() {
    let _ = std::fs::remove_file(GOLDEN);
    let mut store = Store::open(GOLDEN).unwrap();
    for batch in golden_log().into_iter().chain(lifecycle_log()) {
        store.append(&batch).unwrap();
    }
    assert!(store.create_account(&user("alice"), "$argon2id$v=19$golden", Timestamp(T0)).unwrap());
    let token = TokenRecord { user: user("alice"), created: Timestamp(T0), expires: Timestamp(T0 + 86_400_000) };
    store.put_token(TOKEN_HASH, &token).unwrap();
    store.put_meta("tls_fingerprint", b"AB:CD").unwrap();
    // The v3 account tables.
    assert!(store.create_account(&user("bob"), "$argon2id$v=19$bob", Timestamp(T0 + 1)).unwrap());
    store.set_disabled(&user("bob"), true).unwrap();
    let meta = SessionMeta::seen(Timestamp(T0 + 5), Some("192.0.2.1".into()), Some("Mosaic/1.0".into()));
    store.touch_sessions(&[(TOKEN_HASH, meta)]).unwrap();
    let invite = Invite::new(user("alice"), Timestamp(T0), 3, Some(Timestamp(T0 + 3_600_000)));
    assert!(store.create_invite(INVITE_HASH, &invite, 10).unwrap());
    let reset = ResetCode::new([9; 32], user("alice"), Timestamp(T0), Timestamp(T0 + 3_600_000));
    assert!(store.put_reset(&user("bob"), &reset).unwrap());
    let entry = AuditEntry::new(Timestamp(T0 + 2), Some(user("alice")), "disable", Some("bob".into()));
    assert_eq!(store.append_audit(&entry, 100).unwrap(), 1);
    // The v5 attachment tables.
    let record = AttachmentRecord::new(1234, "image/png", Timestamp(T0 + 7))
        .with_dimensions(40, 30)
        .with_thumbnail("image/jpeg");
    store.add_attachment(&user("alice"), &ATTACHMENT, "cat.png", record, 1 << 20).unwrap();
    let record = AttachmentRecord::new(1234, "image/png", Timestamp(T0 + 8));
    store.add_attachment(&user("bob"), &ATTACHMENT, "same-cat.png", record, 1 << 20).unwrap();
    drop(store);
    // Keep the committed file small.
    let mut db = redb::Database::open(GOLDEN).unwrap();
    while db.compact().unwrap() {}
}

/// A copy of a committed file (opening may write: redb's recovery flag, a migration).
fn open_copy(golden: &str) -> (tempfile::TempDir, std::path::PathBuf, Store) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("golden.redb");
    std::fs::copy(golden, &path).expect("the golden files are committed");
    let store = Store::open(&path).unwrap();
    (dir, path, store)
}

/// The raw rows of the `highlights` table and the schema version, read with redb directly.
fn raw_highlights_and_version(path: &std::path::Path) -> (Vec<(String, String, u64)>, u32) {
    use redb::{ReadableDatabase, ReadableTable, TableDefinition};
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_read().unwrap();
    let def: TableDefinition<&[u8], &[u8]> = TableDefinition::new("highlights");
    let mut rows = Vec::new();
    for row in txn.open_table(def).unwrap().iter().unwrap() {
        let (k, v) = row.unwrap();
        assert!(v.value().is_empty(), "highlight rows have no value");
        let k = k.value();
        let at = k.iter().position(|&b| b == 0).unwrap();
        let (user, rest) = (&k[..at], &k[at + 1..]);
        let (room, seq) = rest.split_at(rest.len() - 9);
        assert_eq!(seq[0], 0);
        let seq = u64::from_be_bytes(seq[1..].try_into().unwrap());
        rows.push((String::from_utf8(user.to_vec()).unwrap(), String::from_utf8(room.to_vec()).unwrap(), seq));
    }
    (rows, schema_version(&db))
}

/// The schema version in a file's `meta` table, read with redb directly.
fn schema_version(db: &redb::Database) -> u32 {
    use redb::{ReadableDatabase, TableDefinition};
    let txn = db.begin_read().unwrap();
    let meta: TableDefinition<&[u8], &[u8]> = TableDefinition::new("meta");
    let version = txn.open_table(meta).unwrap().get(b"schema_version".as_slice()).unwrap().unwrap();
    u32::from_be_bytes(version.value().try_into().unwrap())
}

/// The golden log's facts, through the store's public API.
fn check_contents(store: &Store, lifecycle: bool) {
    let snapshot = store.snapshot().unwrap();
    let extra = if lifecycle { lifecycle_log() } else { Vec::new() };
    let log: Vec<LogEntry> = golden_log().into_iter().chain(extra).flatten().collect();
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
    assert_eq!(snapshot.unread(&alice, &lobby).map(|u| (u.read_seq, u.unread, u.highlight)), Some((1, 2, 1)));
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
    assert_eq!(store.sessions(&alice).unwrap().len(), 1, "the token is indexed under its user");
}

/// The v3 account tables of the v3 golden file.
fn check_v3_accounts(store: &Store) {
    let (alice, bob) = (user("alice"), user("bob"));
    let a = store.account(&alice).unwrap().unwrap();
    assert!(a.admin, "the first account of the database");
    assert_eq!(a.last_seen, Some(Timestamp(T0 + 5)));
    let b = store.account(&bob).unwrap().unwrap();
    assert!(!b.admin && b.disabled && b.deleted.is_none());
    let sessions = store.sessions(&alice).unwrap();
    assert_eq!(sessions[0].meta.address.as_deref(), Some("192.0.2.1"));
    assert_eq!(sessions[0].meta.user_agent.as_deref(), Some("Mosaic/1.0"));
    let invites = store.invites().unwrap();
    assert_eq!(invites.len(), 1);
    assert_eq!((invites[0].0, invites[0].1.uses_left, invites[0].1.used), (INVITE_HASH, 3, 0));
    let audit = store.audit(None, 10).unwrap();
    assert_eq!(audit.iter().map(|e| (e.id, e.action.as_str())).collect::<Vec<_>>(), [(1, "disable")]);
    assert!(matches!(
        store.redeem_reset(&bob, &[9; 32], "$argon2id$v=19$new", Timestamp(T0 + 10)).unwrap(),
        chat_store::Redeemed::Done(_)
    ));
}

/// Appending on top keeps working: bob reads up to 3, which drops his highlight row.
fn append_on_top(mut store: Store, path: &std::path::Path) {
    let (bob, lobby) = (user("bob"), room("group:lobby"));
    store.append(&[LogEntry::ReadCursor { user: bob.clone(), room: lobby.clone(), seq: 3 }]).unwrap();
    assert_eq!(store.snapshot().unwrap().unread(&bob, &lobby).map(|u| (u.unread, u.highlight)), Some((0, 0)));
    drop(store);
    let (rows, version) = raw_highlights_and_version(path);
    assert_eq!(version, SCHEMA_VERSION);
    assert_eq!(rows, [("alice".to_owned(), "group:lobby".to_owned(), 3)], "bob's row went with his cursor");
}

/// The end of every golden check, once the contents are checked: a migrated file kept the old
/// one beside it (`golden.redb.v{from}.bak`, still at version `from`); the file is now the
/// current version with the golden log's two highlight rows (a v1 file's were moved out of its
/// read rows by the migration); appending on top keeps working.
fn check_file_then_append(store: Store, path: &std::path::Path, migrated_from: Option<u32>) {
    drop(store);
    if let Some(from) = migrated_from {
        let backup = path.with_file_name(format!("golden.redb.v{from}.bak"));
        let kept = redb::Database::open(&backup).unwrap_or_else(|e| panic!("the v{from} file is kept beside: {e}"));
        assert_eq!(schema_version(&kept), from, "the backup is still v{from}");
    }
    let (rows, version) = raw_highlights_and_version(path);
    assert_eq!(version, SCHEMA_VERSION);
    let lobby = "group:lobby".to_owned();
    assert_eq!(rows, [("alice".to_owned(), lobby.clone(), 3), ("bob".to_owned(), lobby, 3)]);
    append_on_top(Store::open(path).unwrap(), path);
}

#[test]
fn golden_v1_file_is_migrated_with_exact_contents() {
    let (_dir, path, store) = open_copy(GOLDEN_V1);
    check_contents(&store, false);
    check_numbered(&store);
    drop(store);
    // A migrated file opens again as the current version, unchanged.
    let store = Store::open(&path).unwrap();
    check_contents(&store, false);
    check_file_then_append(store, &path, Some(1));
}

#[test]
fn golden_v2_file_is_migrated_with_exact_contents() {
    let (_dir, path, store) = open_copy(GOLDEN_V2);
    check_contents(&store, false);
    check_numbered(&store);
    // v2 → v3: nobody is an administrator until `chat-server admin grant`.
    let alice = store.account(&user("alice")).unwrap().unwrap();
    assert!(!alice.admin && !alice.disabled && alice.deleted.is_none() && alice.last_seen.is_none());
    assert_eq!(store.admin_count().unwrap(), 0);
    assert!(store.invites().unwrap().is_empty() && store.audit(None, 10).unwrap().is_empty());
    check_file_then_append(store, &path, Some(2));
}

#[test]
fn golden_v3_file_is_migrated_with_exact_contents() {
    let (_dir, path, store) = open_copy(GOLDEN_V3);
    check_contents(&store, false);
    check_v3_accounts(&store);
    check_numbered(&store);
    check_file_then_append(store, &path, Some(3));
}

/// What an older file reads as after its migration to v4: each message's `rev` is its `seq`,
/// each room's `last_rev` its `last_seq`, nothing changed or deleted.
fn check_numbered(store: &Store) {
    let lobby = room("group:lobby");
    let snapshot = store.snapshot().unwrap();
    assert_eq!(snapshot.room(&lobby).map(|r| (r.last_seq(), r.last_rev())), Some((3, 3)));
    assert_eq!(snapshot.room(&room("dm:alice:bob")).map(|r| r.last_rev()), Some(1));
    let page = store.history(&HistoryQuery { room: lobby.clone(), range: HistoryRange::Latest, limit: 10 }).unwrap();
    assert_eq!(page.iter().map(|m| (m.seq, m.rev)).collect::<Vec<_>>(), [(1, 1), (2, 2), (3, 3)]);
    assert!(page.iter().all(|m| !m.deleted && m.edited_at.is_none() && m.reactions.is_empty() && m.reply_to.is_none()));
    let range = HistoryRange::ChangedSince { rev: 0, after: 0, through: 3 };
    assert!(store.history(&HistoryQuery { room: lobby, range, limit: 10 }).unwrap().is_empty());
}

#[test]
fn golden_v4_file_is_migrated_with_exact_contents() {
    let (_dir, path, store) = open_copy(GOLDEN_V4);
    check_contents(&store, true);
    check_v3_accounts(&store);
    check_lifecycle(&store);
    // v4 → v5: the attachment tables, empty.
    assert!(store.attachment_ids().unwrap().is_empty());
    check_file_then_append(store, &path, Some(4));
}

#[test]
fn golden_v5_file_opens_with_exact_contents() {
    let (_dir, path, store) = open_copy(GOLDEN);
    check_contents(&store, true);
    check_v3_accounts(&store);
    check_lifecycle(&store);
    check_attachments(&store);
    assert_eq!(SCHEMA_VERSION, 5, "golden-v5.redb is the current version's file");
    check_file_then_append(store, &path, None);
}
