use chat_core::{Journal, LogEntry};
use chat_search::{Indexer, IndexerConfig, SearchIndex, SearchQuery};

use crate::common::*;

const ROOMS: &[&str] = &["group:lobby", "group:dev"];

fn start(config: IndexerConfig) -> (tempfile::TempDir, chat_store::Store, Indexer) {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), ROOMS, &[]);
    let opened = SearchIndex::open(dir.path().join("search")).unwrap();
    let indexer = Indexer::spawn(opened, store.clone(), config).unwrap();
    assert!(indexer.handle().flush());
    (dir, store, indexer)
}

/// What a driver does: commit to the journal, then feed the committed batch.
fn commit(store: &mut chat_store::Store, indexer: &Indexer, entries: &[LogEntry]) {
    store.append(entries).unwrap();
    indexer.handle().committed(entries);
}

fn hits(indexer: &Indexer, text: &str) -> Vec<(String, u64)> {
    keys(&indexer.reader().query(&SearchQuery::parse(text, readable(ROOMS)).unwrap().with_limit(50).unwrap()).unwrap())
}

fn total(indexer: &Indexer) -> u64 {
    indexer.reader().num_messages()
}

#[test]
fn committed_messages_become_searchable() {
    let (_dir, mut store, indexer) = start(IndexerConfig::default());
    let batch: Vec<LogEntry> = (1..=3)
        .map(|s| entry(message("group:lobby", s, 100 + s, "alice", &format!("standup note {s}"))))
        .chain([LogEntry::ReadCursor { user: user("alice"), room: room("group:lobby"), seq: 3 }])
        .collect();
    commit(&mut store, &indexer, &batch);
    assert!(indexer.handle().flush());
    assert_eq!(hits(&indexer, "standup").len(), 3);
    assert!(!indexer.reader().query(&SearchQuery::parse("standup", readable(ROOMS)).unwrap()).unwrap().stale);
}

#[test]
fn reindexing_replaces_and_removal_deletes() {
    let (_dir, mut store, indexer) = start(IndexerConfig::default());
    commit(&mut store, &indexer, &[entry(message("group:dev", 1, 10, "bob", "first draft"))]);
    commit(&mut store, &indexer, &[entry(message("group:dev", 2, 11, "bob", "another draft"))]);
    assert!(indexer.handle().flush());
    assert_eq!(hits(&indexer, "draft").len(), 2);
    // An edit re-indexes the same (room, seq) with its new text.
    indexer.handle().committed(&[entry(message("group:dev", 1, 10, "bob", "final version"))]);
    assert!(indexer.handle().flush());
    assert_eq!(hits(&indexer, "draft"), [("group:dev".into(), 2)]);
    assert_eq!(hits(&indexer, "final"), [("group:dev".into(), 1)]);
    // A deletion removes it.
    indexer.handle().remove(&room("group:dev"), 2);
    assert!(indexer.handle().flush());
    assert!(hits(&indexer, "draft").is_empty());
    assert_eq!(total(&indexer), 1);
}

/// A channel of 2 for 600 entries: most overflow into the backlog and are read back from the
/// store; none is lost.
#[test]
fn a_full_channel_is_caught_up_from_the_store() {
    let config = IndexerConfig { queue: 2, ..IndexerConfig::default() };
    let (_dir, mut store, indexer) = start(config);
    for chunk in 0..6u64 {
        let batch: Vec<LogEntry> = (1..=100)
            .map(|i| {
                let seq = chunk * 100 + i;
                entry(message("group:lobby", seq, seq, "alice", &format!("flood m{seq}")))
            })
            .collect();
        commit(&mut store, &indexer, &batch);
    }
    assert!(indexer.handle().flush());
    assert_eq!(total(&indexer), 600);
    assert_eq!(hits(&indexer, "m1"), [("group:lobby".into(), 1)]);
    assert_eq!(hits(&indexer, "m600"), [("group:lobby".into(), 600)]);
}

/// A backlog of 10 cannot hold the overflow: the indexer rebuilds from the store instead.
#[test]
fn an_overflowing_backlog_rebuilds() {
    let config = IndexerConfig { queue: 1, backlog: 10, ..IndexerConfig::default() };
    let (_dir, mut store, indexer) = start(config);
    let batch: Vec<LogEntry> =
        (1..=700).map(|s| entry(message("group:dev", s, s, "carol", &format!("burst b{s}")))).collect();
    commit(&mut store, &indexer, &batch);
    assert!(indexer.handle().flush());
    assert_eq!(total(&indexer), 700);
    assert_eq!(hits(&indexer, "b699"), [("group:dev".into(), 699)]);
    // The store is the truth: its snapshot knows the room's last message.
    assert_eq!(store.snapshot().unwrap().room(&room("group:dev")).unwrap().last_seq(), 700);
}

/// A removal that overflows is caught up as "the store no longer holds it".
#[test]
fn an_overflowed_removal_of_a_seq_the_store_lacks_removes_it() {
    let config = IndexerConfig { queue: 1, ..IndexerConfig::default() };
    let (_dir, _store, indexer) = start(config);
    // Indexed without the store having it (as if deleted there since).
    let batch: Vec<LogEntry> =
        (1..=50).map(|s| entry(message("group:dev", s, s, "carol", &format!("ghost g{s}")))).collect();
    indexer.handle().committed(&batch);
    assert!(indexer.handle().flush());
    // Whatever went through the channel is indexed; whatever overflowed was read back from a
    // store that has none of them.
    let indexed = total(&indexer);
    for s in 1..=50 {
        indexer.handle().remove(&room("group:dev"), s);
    }
    assert!(indexer.handle().flush());
    assert_eq!(total(&indexer), 0, "{indexed} were indexed before the removals");
}

#[test]
fn edits_and_deletions_from_the_log_are_reflected_live_and_after_a_rebuild() {
    use chat_core::log::{Deletion, Edit};
    let (dir, mut store, indexer) = start(IndexerConfig::default());
    commit(&mut store, &indexer, &[entry(message("group:lobby", 1, 10, "alice", "lunch at noon @bob"))]);
    commit(&mut store, &indexer, &[entry(message("group:lobby", 2, 11, "alice", "lunch is cancelled"))]);
    let edit = Edit {
        room: room("group:lobby"),
        seq: 1,
        rev: 3,
        sender: user("alice"),
        timestamp: chat_core::Timestamp(10),
        content: "dinner at seven".into(),
        mentions: Vec::new(),
        previous_mentions: vec![user("bob")],
        edited_at: chat_core::Timestamp(20),
    };
    commit(&mut store, &indexer, &[LogEntry::Edited(Box::new(edit))]);
    let deletion = Deletion {
        room: room("group:lobby"),
        seq: 2,
        rev: 4,
        sender: user("alice"),
        mentions: Vec::new(),
        deleted_at: chat_core::Timestamp(21),
    };
    commit(&mut store, &indexer, &[LogEntry::Deleted(Box::new(deletion))]);
    assert!(indexer.handle().flush());
    let expect = |indexer: &Indexer| {
        assert_eq!(hits(indexer, "dinner"), [("group:lobby".into(), 1)], "the edit's text is found");
        assert!(hits(indexer, "lunch").is_empty(), "neither the old text nor the deleted message");
        assert!(hits(indexer, "cancelled").is_empty());
        assert_eq!(total(indexer), 1);
    };
    expect(&indexer);

    // The same from the store's current state: delete the index directory and rebuild.
    drop(indexer);
    std::fs::remove_dir_all(dir.path().join("search")).unwrap();
    let opened = SearchIndex::open(dir.path().join("search")).unwrap();
    let indexer = Indexer::spawn(opened, store.clone(), IndexerConfig::default()).unwrap();
    assert!(indexer.handle().flush(), "the rebuild finished");
    expect(&indexer);
}
