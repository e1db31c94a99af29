//! Model-based property tests: random operation traces against the naive reference model
//! (`chat_core::testing::model`, which documents what is checked after every operation).

use chat_core::testing::{model, strategy};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn invariants_hold_for_random_operation_sequences(ops in strategy::trace(1..120)) {
        model::run(&ops);
    }

    #[test]
    fn the_same_trace_gives_the_same_outputs(ops in strategy::trace(1..40)) {
        let first = model::run(&ops);
        let second = model::run(&ops);
        prop_assert_eq!(first, second);
    }
}

/// The lifecycle ops of a trace reach the store: a reply, an edit, a reaction, a deletion by the
/// private room's owner and one by an administrator, then resumes (the model checks each).
#[test]
fn lifecycle_ops_in_a_trace_are_stored_and_checked() {
    use chat_core::LogEntry;
    use strategy::{Op, Target, Text};
    let g2 = Target::Group(2);
    let ops = [
        Op::Connect { slot: 0, user: 0 },
        Op::Connect { slot: 1, user: 1 },
        Op::CreatePrivate { slot: 0 },
        Op::Invite { slot: 0, user: 1 },
        Op::Join { slot: 1, target: g2.clone() },
        Op::Send { slot: 1, target: g2.clone(), text: Text::Mention(0), client_id: Some(1) },
        Op::Reply { slot: 0, target: g2.clone(), text: Text::Plain, to: 1 },
        Op::Edit { slot: 1, target: g2.clone(), seq: 1, text: Text::Plain },
        Op::Edit { slot: 0, target: g2.clone(), seq: 1, text: Text::Plain }, // not the author: refused
        Op::React { slot: 0, target: g2.clone(), seq: 1, emoji: 0, add: true },
        Op::React { slot: 0, target: g2.clone(), seq: 1, emoji: 0, add: true }, // a no-op
        Op::Resume { user: 1, target: g2.clone(), rev: 1, with_rev: true },
        Op::Delete { slot: 0, target: g2.clone(), seq: 1 }, // the owner deletes bob's message
        Op::AdminDelete { user: 3, target: g2.clone(), seq: 2 },
        Op::Restart,
        Op::Resume { user: 0, target: g2, rev: 2, with_rev: false },
    ];
    let persisted: Vec<LogEntry> = model::run(&ops)
        .into_iter()
        .filter_map(|e| match e {
            chat_core::testing::sim::Event::Persist(entry) => Some(entry),
            _ => None,
        })
        .collect();
    let count = |f: fn(&LogEntry) -> bool| persisted.iter().filter(|e| f(e)).count();
    assert_eq!(count(|e| matches!(e, LogEntry::Message(m) if m.reply_to.is_some())), 1);
    assert_eq!(count(|e| matches!(e, LogEntry::Edited(_))), 1);
    assert_eq!(count(|e| matches!(e, LogEntry::Reacted(_))), 1);
    assert_eq!(count(|e| matches!(e, LogEntry::Deleted(_))), 2);
}
