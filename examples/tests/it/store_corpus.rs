//! Replays every committed `store` fuzz corpus file (`fuzz/corpus/store/`) through the same
//! checks as the cargo-fuzz target, on the stable toolchain. It lives here because `chat-core`
//! cannot depend on `chat-store`; the harness file is shared with the fuzz crate.

use std::path::PathBuf;

#[path = "../../../fuzz/harness/store.rs"]
mod store;

#[test]
fn store_corpus() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/store");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no store corpus");
    let mut total = store::Stats::default();
    for path in &files {
        let bytes = std::fs::read(path).expect("corpus file");
        let outcome = std::panic::catch_unwind(|| store::run_bytes(&bytes));
        match outcome {
            Ok(stats) => total += stats,
            Err(panic) => {
                eprintln!("{} fails", path.display());
                std::panic::resume_unwind(panic);
            }
        }
    }
    // The corpus must keep reaching injected failures, recoveries and reopens.
    assert!(total.committed > 0 && total.failed > 0 && total.reopens > 0 && total.messages > 0, "{total:?}");
}

#[test]
fn store_seeds_are_committed() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/store");
    for (name, bytes) in store::seeds() {
        let committed = std::fs::read(dir.join(format!("seed-{name}"))).ok();
        assert_eq!(
            committed,
            Some(bytes),
            "fuzz/corpus/store/seed-{name} is stale: run `cargo run --example seeds` in fuzz/"
        );
    }
}
