//! `has:attachment`, `has:image`, `has:file`, and words found in file names: through the
//! parser, the index, the live indexer (edits keep a message's files) and a rebuild.

use chat_core::attachment::{Attachment, AttachmentId};
use chat_core::log::Edit;
use chat_core::{LogEntry, Message, Timestamp};
use chat_search::{Has, Indexer, IndexerConfig, QueryError, SearchIndex, SearchQuery};

use crate::common::*;

const ROOMS: &[&str] = &["group:lobby", "group:dev"];

fn file(name: &str, content_type: &str, n: u8) -> Attachment {
    let image = content_type.starts_with("image/");
    Attachment {
        id: AttachmentId::from_bytes([n; 32]),
        name: name.into(),
        size: 1_000 + u64::from(n),
        content_type: content_type.into(),
        width: image.then_some(640),
        height: image.then_some(480),
    }
}

fn with_files(mut m: Message, files: Vec<Attachment>) -> Message {
    m.attachments = files;
    m
}

/// lobby 1: text only; lobby 2: a photo; lobby 3: a PDF and no text; dev 1: both kinds.
fn messages() -> Vec<Message> {
    vec![
        message("group:lobby", 1, 10, "alice", "the quarterly report is late"),
        with_files(message("group:lobby", 2, 20, "bob", "holiday snaps"), vec![file("beach.jpg", "image/jpeg", 1)]),
        with_files(
            message("group:lobby", 3, 30, "carol", ""),
            vec![file("quarterly-report.pdf", "application/pdf", 2)],
        ),
        with_files(
            message("group:dev", 1, 40, "dave", "logs and a screenshot"),
            vec![file("crash.log", "application/octet-stream", 3), file("screen.png", "image/png", 4)],
        ),
    ]
}

#[test]
fn the_grammar_reads_has_and_refuses_an_unknown_kind() {
    let q = SearchQuery::parse("has:attachment has:IMAGES report", readable(ROOMS)).unwrap();
    assert_eq!(q.has().collect::<Vec<_>>(), [Has::Attachment, Has::Image]);
    assert_eq!(q.terms().len(), 1);
    // A filter alone is a query.
    assert!(!SearchQuery::parse("has:file", readable(ROOMS)).unwrap().is_empty());
    assert_eq!(SearchQuery::parse("has:link", readable(ROOMS)), Err(QueryError::BadHas));
    assert_eq!(SearchQuery::parse("has:", readable(ROOMS)).unwrap().terms().len(), 1, "has: without a value is a word");
}

#[test]
fn has_filters_by_the_kinds_of_file_a_message_carries() {
    let (_dir, index) = index_with(&messages());
    let key = |room: &str, seq: u64| (room.to_string(), seq);
    let (lobby2, lobby3, dev1) = (key("group:lobby", 2), key("group:lobby", 3), key("group:dev", 1));
    assert_eq!(keys(&search(&index, "has:attachment", ROOMS)), [dev1.clone(), lobby3.clone(), lobby2.clone()]);
    assert_eq!(keys(&search(&index, "has:image", ROOMS)), [dev1.clone(), lobby2.clone()]);
    assert_eq!(keys(&search(&index, "has:file", ROOMS)), [dev1.clone(), lobby3.clone()]);
    assert_eq!(keys(&search(&index, "has:image has:file", ROOMS)), [key("group:dev", 1)]);
    assert_eq!(keys(&search(&index, "has:attachment holiday", ROOMS)), [key("group:lobby", 2)]);
    // Only readable rooms, as for every query.
    assert_eq!(keys(&search(&index, "has:attachment", &["group:lobby"])), [lobby3, lobby2]);
    assert!(search(&index, "has:attachment in:dev", &["group:lobby"]).hits.is_empty());
}

#[test]
fn words_match_file_names_and_the_snippet_shows_the_matching_names() {
    let (_dir, index) = index_with(&messages());
    let page = search(&index, "quarterly report", ROOMS);
    assert_eq!(keys(&page), [("group:lobby".into(), 3), ("group:lobby".into(), 1)]);
    // The PDF's message has no text: its snippet is the file name, matches marked.
    let s = &page.hits[0].snippet;
    assert_eq!(s.text, "quarterly-report.pdf");
    let marked: Vec<&str> = s.highlights.iter().map(|r| &s.text[r.clone()]).collect();
    assert_eq!(marked, ["quarterly", "report"]);
    // A message whose text matched shows its text.
    assert_eq!(page.hits[1].snippet.text, "the quarterly report is late");
    // A name matched while the text did not: the names, the matching one marked.
    let s = &search(&index, "screen", ROOMS).hits[0].snippet;
    assert_eq!(s.text, "crash.log, screen.png");
    assert_eq!(&s.text[s.highlights[0].clone()], "screen");
    // A filter-only query on a files-only message shows the names, unmarked.
    let page = search(&index, "has:file from:carol", ROOMS);
    assert_eq!(page.hits[0].snippet.text, "quarterly-report.pdf");
    assert!(page.hits[0].snippet.highlights.is_empty());
}

#[test]
fn an_edit_keeps_the_files_and_a_rebuild_indexes_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store_with(dir.path(), ROOMS, &[]);
    let opened = SearchIndex::open(dir.path().join("search")).unwrap();
    let indexer = Indexer::spawn(opened, store.clone(), IndexerConfig::default()).unwrap();
    let batch: Vec<LogEntry> = messages().into_iter().map(entry).collect();
    chat_core::Journal::append(&mut store, &batch).unwrap();
    indexer.handle().committed(&batch);
    // bob edits the text of his photo's message: the edit entry carries the text only.
    let edit = Edit {
        room: room("group:lobby"),
        seq: 2,
        rev: 5,
        sender: user("bob"),
        timestamp: Timestamp(20),
        content: "sunset at the pier".into(),
        mentions: Vec::new(),
        previous_mentions: Vec::new(),
        edited_at: Timestamp(50),
    };
    let edited = [LogEntry::Edited(Box::new(edit))];
    chat_core::Journal::append(&mut store, &edited).unwrap();
    indexer.handle().committed(&edited);
    assert!(indexer.handle().flush());
    let hits = |indexer: &Indexer, text: &str| {
        let q = SearchQuery::parse(text, readable(ROOMS)).unwrap();
        keys(&indexer.reader().query(&q).unwrap())
    };
    let expect = |indexer: &Indexer| {
        assert_eq!(hits(indexer, "has:image sunset"), [("group:lobby".into(), 2)], "the edit kept the photo");
        assert_eq!(hits(indexer, "beach"), [("group:lobby".into(), 2)], "and its name");
        assert!(hits(indexer, "holiday").is_empty(), "the old text is gone");
        assert_eq!(hits(indexer, "has:attachment").len(), 3);
    };
    expect(&indexer);
    // The store's state rebuilt into a fresh index gives the same answers.
    indexer.shutdown();
    std::fs::remove_dir_all(dir.path().join("search")).unwrap();
    let opened = SearchIndex::open(dir.path().join("search")).unwrap();
    let indexer = Indexer::spawn(opened, store.clone(), IndexerConfig::default()).unwrap();
    assert!(indexer.handle().flush(), "the rebuild finished");
    expect(&indexer);
}

#[test]
fn an_index_of_the_first_version_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), ROOMS, &messages());
    let path = dir.path().join("search");
    drop(SearchIndex::open(&path).unwrap());
    // What a version-1 index says of itself.
    std::fs::write(path.join("search-version"), "1").unwrap();
    let opened = SearchIndex::open(&path).unwrap();
    assert_eq!(opened.rebuild, Some(chat_search::RebuildReason::OtherVersion));
    let indexer = Indexer::spawn(opened, store, IndexerConfig::default()).unwrap();
    assert!(indexer.handle().flush());
    let q = SearchQuery::parse("has:attachment", readable(ROOMS)).unwrap();
    assert_eq!(indexer.reader().query(&q).unwrap().hits.len(), 3);
}
