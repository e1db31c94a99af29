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
