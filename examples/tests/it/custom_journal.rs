//! examples/custom_journal.rs passes chat-core's journal conformance suite: reopened on the same
//! directory, and with failed appends (an fsync failure after the write, undone).

use chat_core::testing::journal::JournalSuite;

#[path = "../../examples/custom_journal.rs"]
mod example;

use example::FileJournal;

#[test]
fn the_file_journal_passes_the_journal_suite() {
    let report = JournalSuite::reopenable(
        || tempfile::tempdir().expect("a temporary directory"),
        |dir| FileJournal::open(dir.path()).expect("open"),
    )
    .fail_next_append(FileJournal::fail_next_sync)
    .run();
    assert!(report.skipped.is_empty(), "{report}");
}

#[test]
fn a_torn_last_line_is_dropped_on_open() {
    use chat_core::{Journal, LogEntry};
    let dir = tempfile::tempdir().unwrap();
    let mut journal = FileJournal::open(dir.path()).unwrap();
    journal.append(&[LogEntry::UserAdded { user: "alice".parse().unwrap() }]).unwrap();
    drop(journal);
    let path = dir.path().join("log.jsonl");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(br#"[{"UserAdded":{"user":"bo"#); // a crash mid-write
    std::fs::write(&path, &bytes).unwrap();
    let journal = FileJournal::open(dir.path()).unwrap();
    assert_eq!(journal.snapshot().unwrap().users().count(), 1);
    assert_eq!(std::fs::read(&path).unwrap().len(), bytes.len() - 25, "the torn line is cut off");
}
