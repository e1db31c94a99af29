//! Highlights are rows of their own: a mention writes one row, a moving cursor range-deletes the
//! rows it passes, and the read row stays one small value however many highlights pile up
//! (issue: 30,000 mentions made one 30,000-entry row rewritten on every touch).

use std::sync::Arc;

use chat_core::{Journal, LogEntry, MemoryJournal, Message, RoomKind, Timestamp};
use chat_store::Store;
use redb::{ReadableDatabase, ReadableTableMetadata, TableDefinition};

use crate::common::*;

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("highlights");
const READS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("reads");

/// (highlight rows, size of bob's read row in bytes).
fn raw(path: &std::path::Path) -> (u64, usize) {
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_read().unwrap();
    let rows = txn.open_table(TABLE).unwrap().len().unwrap();
    let reads = txn.open_table(READS).unwrap();
    let bob = reads.get(b"bob\0group:lobby".as_slice()).unwrap().map_or(0, |v| v.value().len());
    (rows, bob)
}

fn mention(seq: u64) -> LogEntry {
    LogEntry::Message(Arc::new(Message {
        attachments: Vec::new(),
        room: room("group:lobby"),
        seq,
        timestamp: Timestamp(T0 + seq),
        sender: user("alice"),
        content: format!("@bob {seq}"),
        mentions: vec![user("bob")],
        client_id: None,
        rev: 0,
        changed_rev: 0,
        edited_at: None,
        deleted: false,
        deleted_at: None,
        reply_to: None,
        reactions: Vec::new(),
    }))
}

#[test]
fn highlight_rows_are_bounded_work_and_exact_counts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.redb");
    let (alice, bob, lobby) = (user("alice"), user("bob"), room("group:lobby"));
    let mut model = MemoryJournal::new();
    let mut store = Store::open(&path).unwrap();
    let mut append = |store: &mut Store, batch: &[LogEntry]| {
        store.append(batch).unwrap();
        model.append(batch).unwrap();
        assert_eq!(store.snapshot().unwrap(), model.snapshot().unwrap());
    };
    append(
        &mut store,
        &[
            LogEntry::RoomCreated {
                room: lobby.clone(),
                kind: RoomKind::Public,
                owner: None,
                timestamp: Timestamp(T0),
            },
            LogEntry::MemberAdded { room: lobby.clone(), user: alice.clone() },
            LogEntry::MemberAdded { room: lobby.clone(), user: bob.clone() },
        ],
    );
    for batch in (1..=3_000).collect::<Vec<u64>>().chunks(500) {
        let entries: Vec<LogEntry> = batch.iter().map(|&seq| mention(seq)).collect();
        append(&mut store, &entries);
    }
    assert_eq!(store.snapshot().unwrap().unread(&bob, &lobby).map(|u| u.highlight), Some(3_000));
    drop(store);
    let (rows, read_row) = raw(&path);
    assert_eq!(rows, 3_000, "one row per highlight");
    assert!(read_row < 32, "the read row holds the cursor only ({read_row} bytes)");

    // The cursor passes 2,000 of them: one range delete.
    let mut store = Store::open(&path).unwrap();
    append(&mut store, &[LogEntry::ReadCursor { user: bob.clone(), room: lobby.clone(), seq: 2_000 }]);
    assert_eq!(store.snapshot().unwrap().unread(&bob, &lobby).map(|u| (u.unread, u.highlight)), Some((1_000, 1_000)));
    drop(store);
    assert_eq!(raw(&path).0, 1_000);

    // Leaving drops the rest; rejoining and a new mention in the same batch keep only that one.
    let mut store = Store::open(&path).unwrap();
    append(
        &mut store,
        &[
            LogEntry::MemberRemoved { room: lobby.clone(), user: bob.clone() },
            LogEntry::MemberAdded { room: lobby.clone(), user: bob.clone() },
            mention(3_001),
        ],
    );
    assert_eq!(store.snapshot().unwrap().unread(&bob, &lobby).map(|u| u.highlight), Some(1));
    drop(store);
    assert_eq!(raw(&path).0, 1);
    assert_eq!(Store::open(&path).unwrap().snapshot().unwrap(), model.snapshot().unwrap(), "after reopen");
}
