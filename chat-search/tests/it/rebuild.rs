use std::fs;

use chat_core::{Journal, Message};
use chat_search::{Indexer, IndexerConfig, RebuildReason, SearchIndex, SearchQuery};

use crate::common::*;

const ROOMS: &[&str] = &["group:lobby", "dm:alice:bob"];

/// 1,200 messages: more than two history pages per room.
fn corpus() -> Vec<Message> {
    (0..1_200u64)
        .map(|i| {
            let r = ROOMS[(i % 2) as usize];
            message(r, i / 2 + 1, 1_000 + i, "alice", &format!("message number n{i} common"))
        })
        .collect()
}

fn count(reader: &chat_search::SearchReader, text: &str) -> usize {
    let mut n = 0;
    let mut q = SearchQuery::parse(text, readable(ROOMS)).unwrap().with_limit(50).unwrap();
    loop {
        let page = reader.query(&q).unwrap();
        n += page.hits.len();
        match page.next {
            Some(next) => q = q.with_cursor(&next).unwrap(),
            None => return n,
        }
    }
}

/// Starts an indexer on `index_dir` over `store`, waits for its background work, returns it.
fn indexer(index_dir: &std::path::Path, store: &chat_store::Store) -> (Option<RebuildReason>, Indexer) {
    let opened = SearchIndex::open(index_dir).unwrap();
    let reason = opened.rebuild.clone();
    let indexer = Indexer::spawn(opened, store.clone(), IndexerConfig::default()).unwrap();
    assert!(indexer.handle().flush());
    (reason, indexer)
}

#[test]
fn rebuild_fills_an_index_from_any_journal() {
    let dir = tempfile::tempdir().unwrap();
    let messages = corpus();
    let store = store_with(dir.path(), ROOMS, &messages);
    let opened = SearchIndex::open(dir.path().join("search")).unwrap();
    assert_eq!(opened.rebuild, Some(RebuildReason::Missing));
    let mut index = opened.index;
    assert!(search(&index, "common", ROOMS).stale, "an index to rebuild answers stale");
    let rooms: Vec<_> = store.snapshot().unwrap().rooms().map(|(r, _)| r.clone()).collect();
    let stats = chat_search::rebuild(&mut index, &store, rooms).unwrap();
    assert_eq!((stats.rooms, stats.messages), (2, 1_200));
    assert_eq!(index.reader().num_messages(), 1_200);
    assert!(!search(&index, "common", ROOMS).stale);
    assert_eq!(count(&index.reader(), "common"), 1_200);
    assert_eq!(keys(&search(&index, "n777", ROOMS)), [("dm:alice:bob".into(), 389)]);
    // Rebuilding again replaces, it does not duplicate.
    let rooms: Vec<_> = store.snapshot().unwrap().rooms().map(|(r, _)| r.clone()).collect();
    chat_search::rebuild(&mut index, &store, rooms).unwrap();
    assert_eq!(index.reader().num_messages(), 1_200);
}

#[test]
fn a_deleted_index_directory_is_rebuilt_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), ROOMS, &corpus());
    let index_dir = dir.path().join("search");
    let (reason, first) = indexer(&index_dir, &store);
    assert_eq!(reason, Some(RebuildReason::Missing));
    assert_eq!(count(&first.reader(), "common"), 1_200);
    first.shutdown();
    // A clean shutdown: the next open needs nothing.
    assert_eq!(SearchIndex::open(&index_dir).unwrap().rebuild, None);

    fs::remove_dir_all(&index_dir).unwrap();
    let (reason, second) = indexer(&index_dir, &store);
    assert_eq!(reason, Some(RebuildReason::Missing));
    assert_eq!(count(&second.reader(), "common"), 1_200);
    assert!(!second.reader().query(&SearchQuery::parse("n5", readable(ROOMS)).unwrap()).unwrap().stale);
}

fn built_index(dir: &std::path::Path, store: &chat_store::Store) -> std::path::PathBuf {
    let index_dir = dir.join("search");
    let (_, indexer) = indexer(&index_dir, store);
    indexer.shutdown();
    index_dir
}

#[test]
fn a_damaged_meta_file_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), ROOMS, &corpus());
    let index_dir = built_index(dir.path(), &store);
    fs::write(index_dir.join("tantivy/meta.json"), b"{ not json").unwrap();
    let (reason, indexer) = indexer(&index_dir, &store);
    assert!(matches!(reason, Some(RebuildReason::Damaged(_))), "{reason:?}");
    assert_eq!(count(&indexer.reader(), "common"), 1_200);
}

#[test]
fn corrupted_segment_files_are_detected_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), ROOMS, &corpus());
    let index_dir = built_index(dir.path(), &store);
    // Flip bytes in the middle of every segment file (postings, store, fast fields...).
    for entry in fs::read_dir(index_dir.join("tantivy")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".json") || name.starts_with('.') {
            continue;
        }
        let mut bytes = fs::read(&path).unwrap();
        if bytes.len() > 16 {
            let mid = bytes.len() / 2;
            for b in &mut bytes[mid..mid + 8] {
                *b ^= 0xA5;
            }
            fs::write(&path, bytes).unwrap();
        }
    }
    let (_reason, indexer) = indexer(&index_dir, &store);
    // Whether open or the background checksum pass noticed it, the index is whole again.
    assert_eq!(indexer.reader().num_messages(), 1_200);
    assert_eq!(count(&indexer.reader(), "common"), 1_200);
    assert_eq!(count(&indexer.reader(), "n1199"), 1);
}

#[test]
fn another_schema_version_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), ROOMS, &corpus());
    let index_dir = built_index(dir.path(), &store);
    fs::write(index_dir.join("search-version"), b"0\n").unwrap();
    let (reason, indexer) = indexer(&index_dir, &store);
    assert_eq!(reason, Some(RebuildReason::OtherVersion));
    assert_eq!(count(&indexer.reader(), "common"), 1_200);
}

/// The state a crash leaves: the running marker, and messages in the store the index never saw.
#[test]
fn an_unclean_stop_is_caught_up_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store_with(dir.path(), ROOMS, &corpus());
    let index_dir = built_index(dir.path(), &store);
    store.append(&[entry(message("group:lobby", 601, 9_000, "bob", "written before the crash"))]).unwrap();
    fs::write(index_dir.join("indexer-running"), b"").unwrap();
    let (reason, indexer) = indexer(&index_dir, &store);
    assert_eq!(reason, Some(RebuildReason::Unclean));
    assert_eq!(count(&indexer.reader(), "crash"), 1);
    assert_eq!(indexer.reader().num_messages(), 1_201);
}
