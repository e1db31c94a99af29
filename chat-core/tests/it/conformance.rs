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

mod driver {
    use chat_core::testing::driver::{CheckedJournal, Driver, ReferenceDriver, World, driver_conformance};
    use chat_core::{Chat, Config, Input, Journal, LoadError, Output, Timestamp};

    #[test]
    fn the_reference_driver_passes_the_driver_check() {
        driver_conformance(ReferenceDriver::new);
    }

    /// A driver with one defect.
    struct Broken {
        chat: Chat,
        journal: CheckedJournal,
        config: Config,
        defect: Defect,
    }

    #[derive(Clone, Copy)]
    enum Defect {
        /// Carries outputs out first and commits after.
        DeliverFirst,
        /// Ignores a failed commit and carries on.
        NoRestore,
        /// Never ticks.
        NoTick,
        /// Restores after a failed commit but forgets to close the sessions.
        NoClose,
    }

    impl Broken {
        fn make(defect: Defect) -> impl Fn(Config, CheckedJournal) -> Broken {
            move |config, journal| Broken { chat: Chat::new(config.clone()), journal, config, defect }
        }

        fn run(&mut self, now: Timestamp, world: &mut World) {
            loop {
                let drain = self.chat.drain();
                if drain.is_empty() {
                    return;
                }
                let (persist, rest) = drain.into_parts();
                let deliver_first = matches!(self.defect, Defect::DeliverFirst);
                // NoRestore carries on after a failure; NoClose restores without closing.
                if !deliver_first
                    && !persist.is_empty()
                    && self.journal.append(&persist).is_err()
                    && matches!(self.defect, Defect::NoClose)
                {
                    self.chat = Chat::restore(self.config.clone(), self.journal.snapshot().unwrap());
                    return;
                }
                let mut loads = Vec::new();
                for output in rest {
                    match output {
                        Output::Deliver { sessions, msg } => world.deliver(&sessions, &msg),
                        Output::Reply { request, msg } => world.reply(request, &msg),
                        Output::Load { load, query } => loads.push((load, query)),
                        Output::Close { session, .. } => {
                            world.close(session);
                            self.chat.handle(now, Input::Disconnect { session });
                        }
                        _ => {}
                    }
                }
                if matches!(self.defect, Defect::DeliverFirst) && !persist.is_empty() {
                    let _ = self.journal.append(&persist);
                }
                for (load, query) in loads {
                    let result = self.journal.history(&query).map_err(LoadError::journal);
                    self.chat.handle(now, Input::Loaded { load, result });
                }
            }
        }
    }

    impl Driver for Broken {
        fn handle(&mut self, now: Timestamp, inputs: Vec<Input>, world: &mut World) {
            for input in inputs {
                self.chat.handle(now, input);
            }
            self.run(now, world);
        }

        fn advance(&mut self, now: Timestamp, world: &mut World) {
            if matches!(self.defect, Defect::NoTick) {
                return;
            }
            if self.chat.poll_timeout().is_some_and(|d| d <= now) {
                self.chat.handle(now, Input::Tick);
                self.run(now, world);
            }
        }

        fn chat(&self) -> &Chat {
            &self.chat
        }
    }

    fn failure_of(defect: Defect) -> String {
        let panic =
            std::panic::catch_unwind(|| driver_conformance(Broken::make(defect))).expect_err("the check passed");
        panic.downcast_ref::<String>().cloned().expect("a message")
    }

    #[test]
    fn the_driver_check_names_the_broken_rule() {
        let message = failure_of(Defect::DeliverFirst);
        assert!(message.starts_with("driver conformance: rule 2 (durability before delivery) broken"), "{message}");
        let message = failure_of(Defect::NoRestore);
        assert!(message.starts_with("driver conformance: rule 3 (restore on commit failure) broken"), "{message}");
        let message = failure_of(Defect::NoClose);
        assert!(message.starts_with("driver conformance: rule 3 (restore on commit failure) broken"), "{message}");
        assert!(message.contains("not closed"), "{message}");
        let message = failure_of(Defect::NoTick);
        assert!(message.starts_with("driver conformance: rule 4 (tick) broken"), "{message}");
    }
}
