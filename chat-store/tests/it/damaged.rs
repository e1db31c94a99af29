//! Files that are not a healthy chat-store database of this version: every one gives a clear
//! `OpenError`, never a panic, and opening leaves a foreign file alone.

use chat_core::Journal;
use chat_store::{OpenError, SCHEMA_VERSION, Store};

use crate::common::*;

/// A file holding a store with a few batches of chat activity.
fn healthy_file(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("healthy.redb");
    let mut store = Store::open(&path).unwrap();
    let batches = chat_entries(&[vec![
        ChatOp::Join(0, 0),
        ChatOp::Join(1, 0),
        ChatOp::Send(0, 0, false, 0b10, Some(1)),
        ChatOp::Send(1, 0, true, 0, None),
    ]]);
    for batch in &batches {
        store.append(batch).unwrap();
    }
    path
}

#[test]
fn zero_length_file_is_refused_not_initialised() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.redb");
    std::fs::write(&path, b"").unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, OpenError::Damaged { .. }), "{err:?}");
    assert!(err.to_string().contains("empty"), "{err}");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0, "the file was left alone");
}

#[test]
fn random_bytes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("random.redb");
    // A fixed pseudo-random pattern (xorshift), several pages long.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let bytes: Vec<u8> = (0..64 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(&path, &bytes).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, OpenError::Damaged { .. }), "{err:?}");
    assert!(err.to_string().contains("random.redb"), "the error names the file: {err}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "a foreign file is not modified");
}

#[test]
fn text_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "not a database\n".repeat(100)).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, OpenError::Damaged { .. }), "{err:?}");
}

#[test]
fn truncated_files_are_refused_or_read_consistently() {
    let dir = tempfile::tempdir().unwrap();
    let path = healthy_file(dir.path());
    let full = std::fs::read(&path).unwrap();
    let mut refused = 0;
    // Cut at many lengths: inside the header, inside the first pages, near the end.
    let mut cuts: Vec<usize> =
        vec![1, 16, 100, 511, 512, 4096, 8192, full.len() / 2, full.len() - 4096, full.len() - 1];
    cuts.retain(|&c| c > 0 && c < full.len());
    for cut in cuts {
        let copy = dir.path().join(format!("cut-{cut}.redb"));
        std::fs::write(&copy, &full[..cut]).unwrap();
        match Store::open(&copy) {
            Err(err) => {
                refused += 1;
                assert!(matches!(err, OpenError::Damaged { .. } | OpenError::Storage { .. }), "cut at {cut}: {err:?}");
                assert!(!err.to_string().is_empty());
            }
            // redb may find the committed state entirely inside the kept bytes (the tail of a
            // file can be free space): then the contents must be readable, or fail cleanly.
            Ok(store) => {
                let _ = store.snapshot();
            }
        }
    }
    assert!(refused >= 5, "most truncations must be refused, {refused} were");
}

#[test]
fn foreign_redb_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("foreign.redb");
    {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        let def: redb::TableDefinition<u64, u64> = redb::TableDefinition::new("something_else");
        txn.open_table(def).unwrap().insert(1, 2).unwrap();
        txn.commit().unwrap();
    }
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, OpenError::Foreign { .. }), "{err:?}");
    assert!(err.to_string().contains("not a chat-store database"), "{err}");
}

#[test]
fn other_schema_version_names_both_versions() {
    let dir = tempfile::tempdir().unwrap();
    let path = healthy_file(dir.path());
    {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        let meta: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("meta");
        txn.open_table(meta).unwrap().insert(b"schema_version".as_slice(), 7u32.to_be_bytes().as_slice()).unwrap();
        txn.commit().unwrap();
    }
    let err = Store::open(&path).unwrap_err();
    match &err {
        OpenError::SchemaVersion { found, expected, .. } => {
            assert_eq!((*found, *expected), (7, SCHEMA_VERSION));
        }
        other => panic!("expected SchemaVersion, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("version 7") && text.contains(&format!("version {SCHEMA_VERSION}")), "{text}");
    assert!(text.contains("docs/design.md"), "the error points at the migration notes: {text}");
}

#[test]
fn second_open_of_the_same_file_is_refused_while_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = healthy_file(dir.path());
    let first = Store::open(&path).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, OpenError::AlreadyOpen { .. }), "{err:?}");
    drop(first);
    Store::open(&path).unwrap();
}

#[test]
fn missing_directory_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = Store::open(dir.path().join("no/such/dir/chat.redb")).unwrap_err();
    assert!(matches!(err, OpenError::Io { .. }), "{err:?}");
}
