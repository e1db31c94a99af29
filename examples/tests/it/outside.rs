//! The kit from outside: a new crate in a temporary directory, depending on chat-core by path with
//! `features = ["testing"]` (and on chat-store), runs the journal conformance suite with
//! `cargo test --offline`: against a deliberately broken journal it fails, naming the property;
//! against `MemoryJournal` and chat-store it passes.
//!
//! The child build uses its own target directory under this workspace's (`target/outside-crate`,
//! so it never waits on the lock of the build running this test) and the workspace's
//! `Cargo.lock` (the same versions, all already in the registry cache), so it needs no network
//! and, after the first run, compiles only the new crate.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MANIFEST: &str = r#"[package]
name = "outside-journal-check"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
chat-core = { path = "CORE", features = ["testing"] }
chat-store = { path = "STORE" }

[workspace]

[profile.dev]
debug = false
"#;

const LIB: &str = r#"//! Runs chat-core's journal conformance suite on three journals.
#[cfg(test)]
mod tests {
    use chat_core::testing::journal::{JournalSuite, journal_conformance};
    use chat_core::{HistoryQuery, Journal, LogEntry, MemoryJournal, Message, Snapshot};

    /// Forgets the limit of history pages: every page is the whole room.
    #[derive(Default)]
    struct Broken(MemoryJournal);

    impl Journal for Broken {
        type Error = chat_core::journal::MemoryJournalError;
        fn append(&mut self, entries: &[LogEntry]) -> Result<(), Self::Error> {
            self.0.append(entries)
        }
        fn snapshot(&self) -> Result<Snapshot, Self::Error> {
            self.0.snapshot()
        }
        fn history(&self, query: &HistoryQuery) -> Result<Vec<Message>, Self::Error> {
            self.0.history(&HistoryQuery { limit: u32::MAX, ..query.clone() })
        }
    }

    #[test]
    fn broken_journal_conforms() {
        journal_conformance(Broken::default);
    }

    #[test]
    fn memory_journal_conforms() {
        let report = journal_conformance(MemoryJournal::new);
        println!("{report}");
    }

    #[test]
    fn chat_store_conforms() {
        let dirs = std::cell::Cell::new(0);
        let base = std::env::temp_dir().join(format!("outside-journal-check-{}", std::process::id()));
        let report = JournalSuite::reopenable(
            || {
                dirs.set(dirs.get() + 1);
                let dir = base.join(dirs.get().to_string());
                std::fs::create_dir_all(&dir).unwrap();
                dir
            },
            |dir| chat_store::Store::open(dir.join("chat.redb")).unwrap(),
        )
        .run();
        let _ = std::fs::remove_dir_all(&base);
        assert!(report.skipped == ["ambiguous_commits"], "{report}");
    }
}
"#;

/// The workspace's target directory: this test binary is `<target>/<profile>/deps/it-…`.
fn workspace_target() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.ancestors().nth(3).expect("<target>/<profile>/deps/<binary>").to_owned()
}

fn write_crate(dir: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").canonicalize().unwrap();
    let manifest = MANIFEST
        .replace("CORE", &root.join("chat-core").display().to_string())
        .replace("STORE", &root.join("chat-store").display().to_string());
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("src/lib.rs"), LIB).unwrap();
    // The workspace's versions, so an offline build finds everything in the registry cache.
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
}

#[test]
fn a_crate_outside_the_workspace_runs_the_journal_suite() {
    let dir = tempfile::tempdir().unwrap();
    write_crate(dir.path());
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut child = Command::new(cargo)
        .args(["test", "--offline", "--", "--test-threads=1"])
        .current_dir(dir.path())
        .env("CARGO_TARGET_DIR", workspace_target().join("outside-crate"))
        .env("CARGO_NET_OFFLINE", "true")
        .env_remove("RUSTFLAGS")
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cargo runs");
    // A bound, not a measurement: the first build compiles the dependencies once.
    let deadline = Instant::now() + Duration::from_secs(900);
    let (out, err) = {
        let mut stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut stdout, &mut s).unwrap();
            s
        });
        let mut err = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut err).unwrap();
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                child.kill().unwrap();
                panic!("cargo test of the outside crate ran past the bound; stderr:\n{err}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        (reader.join().unwrap(), err)
    };
    let status = child.wait().unwrap();
    let all = format!("{out}\n{err}");
    assert!(!status.success(), "the broken journal passed:\n{all}");
    assert!(all.contains("test tests::broken_journal_conforms ... FAILED"), "{all}");
    assert!(all.contains("journal conformance: property `history_pages` failed"), "no clear message:\n{all}");
    assert!(all.contains("test tests::memory_journal_conforms ... ok"), "{all}");
    assert!(all.contains("test tests::chat_store_conforms ... ok"), "{all}");
    assert!(all.contains("test result: FAILED. 2 passed; 1 failed"), "{all}");
}
