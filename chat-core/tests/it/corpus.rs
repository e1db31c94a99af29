//! Replays every committed fuzz corpus file (`fuzz/corpus/<target>/`) through the same checks
//! the cargo-fuzz targets run, on the stable toolchain. The harness files are shared with the
//! fuzz crate (`fuzz/harness/`), so a reproducer added to the corpus is a regression test here.

use std::path::PathBuf;

#[path = "../../../fuzz/harness/core_ops.rs"]
mod core_ops;
#[path = "../../../fuzz/harness/decode_client.rs"]
mod decode_client;
#[path = "../../../fuzz/harness/inputs.rs"]
mod inputs;
#[path = "../../../fuzz/harness/mention.rs"]
mod mention;
#[path = "../../../fuzz/harness/model_ops.rs"]
mod model_ops;

/// Every file of one target's corpus, sorted by name; panics when there is none.
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("corpus entry").path();
            let name = path.file_name().expect("file name").to_string_lossy().into_owned();
            (name, std::fs::read(&path).expect("corpus file"))
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus for {target}");
    files
}

/// Runs `check` on every file, naming the file that fails.
fn replay(target: &str, mut check: impl FnMut(&[u8])) {
    for (name, bytes) in corpus(target) {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&bytes)));
        if let Err(panic) = outcome {
            eprintln!("fuzz/corpus/{target}/{name} fails");
            std::panic::resume_unwind(panic);
        }
    }
}

#[test]
fn decode_client_corpus() {
    replay("decode_client", decode_client::check);
}

#[test]
fn inputs_corpus() {
    replay("inputs", inputs::run_bytes);
}

#[test]
fn model_ops_corpus() {
    replay("model_ops", model_ops::run_bytes);
}

#[test]
fn mention_corpus() {
    replay("mention", mention::check);
}

#[test]
fn core_ops_seeds_are_committed() {
    let files = corpus("core_ops");
    for (name, scenario) in core_ops::seeds() {
        let bytes = scenario.encode();
        assert_eq!(core_ops::decode(&bytes), scenario, "seed {name} does not round-trip");
        let file = format!("seed-{name}");
        let committed = files.iter().find(|(n, _)| *n == file).map(|(_, b)| b);
        assert_eq!(
            committed,
            Some(&bytes),
            "fuzz/corpus/core_ops/{file} is stale: run `cargo run --example seeds` in fuzz/"
        );
    }
}

#[test]
fn core_ops_corpus() {
    let mut total = core_ops::Stats::default();
    replay("core_ops", |bytes| total += core_ops::run_bytes(bytes));
    // The corpus must keep reaching the paths it exists for, or it guards nothing.
    assert!(total.messages > 0 && total.dm_messages > 0 && total.mentions > 0, "{total:?}");
    assert!(total.duplicate_acks > 0 && total.history_pages > 0, "{total:?}");
    assert!(total.failed_commits > 0 && total.restores > total.failed_commits, "{total:?}");
    // And the message lifecycle (the lifecycle format's seeds).
    assert!(total.replies > 0 && total.attachment_messages > 0 && total.edits > 0, "{total:?}");
    assert!(total.deletions > 0 && total.moderated_deletions > 0 && total.reactions > 0, "{total:?}");
    assert!(total.update_pages > 0 && total.search_results > 0 && total.search_hits_dropped > 0, "{total:?}");
}
