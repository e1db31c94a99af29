//! The conformance suites on the reference implementations, and on broken ones to show each
//! failure is caught and named.

use chat_core::testing::journal::{JournalSuite, journal_conformance};
use chat_core::{HistoryQuery, Journal, LogEntry, MemoryJournal, Message, Snapshot};

#[test]
fn memory_journal_passes_the_journal_suite() {
    let report = JournalSuite::new(MemoryJournal::new).fail_next_append(|j| j.fail_next_appends(1)).run();
    assert_eq!(report.skipped, ["reopen"], "{report}");
    assert_eq!(report.passed.len(), 6, "{report}");
    assert_eq!(journal_conformance(MemoryJournal::new).skipped, ["ambiguous_commits", "reopen"]);
}

/// A journal with one defect, otherwise the memory journal.
#[derive(Default)]
struct Broken {
    inner: MemoryJournal,
    defect: Defect,
    /// A failure is armed: append half of the next batch, then fail.
    torn: bool,
}

#[derive(Default, Clone, Copy)]
enum Defect {
    #[default]
    /// History pages ignore the limit.
    Unlimited,
    /// A failed append keeps the first half of its batch.
    TornAppend,
    /// The snapshot forgets read cursors.
    NoCursors,
}

impl Journal for Broken {
    type Error = chat_core::journal::MemoryJournalError;

    fn append(&mut self, entries: &[LogEntry]) -> Result<(), Self::Error> {
        if std::mem::take(&mut self.torn) {
            self.inner.append(&entries[..entries.len() / 2])?;
            self.inner.fail_next_appends(1);
            return self.inner.append(entries);
        }
        self.inner.append(entries)
    }

    fn snapshot(&self) -> Result<Snapshot, Self::Error> {
        match self.defect {
            Defect::NoCursors => {
                let kept: Vec<LogEntry> = self
                    .inner
                    .entries()
                    .iter()
                    .filter(|e| !matches!(e, LogEntry::ReadCursor { .. }))
                    .cloned()
                    .collect();
                Ok(Snapshot::from_log(&kept))
            }
            _ => self.inner.snapshot(),
        }
    }

    fn history(&self, query: &HistoryQuery) -> Result<Vec<Message>, Self::Error> {
        match self.defect {
            Defect::Unlimited => self.inner.history(&HistoryQuery { limit: u32::MAX, ..query.clone() }),
            _ => self.inner.history(query),
        }
    }
}

fn failure_of(defect: Defect) -> String {
    let suite = JournalSuite::new(move || Broken { defect, ..Broken::default() }).fail_next_append(|j| j.torn = true);
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| suite.run())).expect_err("the suite passed");
    panic.downcast_ref::<String>().cloned().expect("a message")
}

#[test]
fn the_journal_suite_names_the_broken_property() {
    let message = failure_of(Defect::Unlimited);
    assert!(message.starts_with("journal conformance: property `history_pages` failed:"), "{message}");
    let message = failure_of(Defect::NoCursors);
    assert!(message.starts_with("journal conformance: property `append_snapshot` failed:"), "{message}");
    let message = failure_of(Defect::TornAppend);
    assert!(message.starts_with("journal conformance: property `ambiguous_commits` failed:"), "{message}");
    assert!(message.contains("holds part of the batch"), "{message}");
}
