//! A `Journal` of your own: the log on a plain file, one JSON line per appended batch, folded in
//! memory when opened. The template for a journal on Postgres, S3 or anything else; it passes
//! chat-core's journal conformance suite (`examples/tests/it/custom_journal.rs` runs it, with
//! reopen and failed appends).
//!
//! The contract (`chat_core::Journal`) in three rules, and how this file keeps them:
//! 1. `append` is atomic and durable: the batch is one line, written and `fsync`ed before `Ok`.
//!    On any error the file is cut back to where it was, so a failed batch never lands (if even
//!    that fails, the journal refuses everything until reopened; opening drops a torn last line,
//!    which no `Ok` acknowledged).
//! 2. `snapshot` is the fold of everything appended: kept up to date in memory (here by an inner
//!    `MemoryJournal`; a database would keep the fold's tables, see `chat_core::fold`).
//! 3. `history` answers from the appended messages.
//!
//! Run: `cargo run -p examples --example custom_journal [DIR]`: a short chat through the
//! journal, then the journal reopened and its history printed.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use chat_core::{
    Chat, ClientMsg, Config, HistoryQuery, HistoryRange, Input, Journal, LogEntry, MemoryJournal, Message, Output,
    RoomRef, SessionId, Snapshot, Timestamp,
};

/// The log in `DIR/log.jsonl`.
pub struct FileJournal {
    file: File,
    /// Bytes of the file that hold acknowledged batches.
    len: u64,
    /// The fold and the messages, in memory.
    state: MemoryJournal,
    /// A failed cut-back left the file in an unknown state: refuse until reopened.
    poisoned: bool,
    /// Tests: the next append writes its batch, then fails as if `fsync` had.
    fail_next_sync: bool,
}

/// What can go wrong.
#[derive(Debug)]
pub enum FileJournalError {
    /// Reading, writing or syncing the file.
    Io(std::io::Error),
    /// A complete line of the file is not a batch (the file was damaged or is not a log).
    Damaged {
        /// Which line (from 1).
        line: usize,
        /// Why it does not parse.
        source: serde_json::Error,
    },
    /// An earlier failure could not be undone; reopen the journal.
    Poisoned,
}

impl std::fmt::Display for FileJournalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileJournalError::Io(e) => write!(f, "journal file: {e}"),
            FileJournalError::Damaged { line, .. } => write!(f, "journal file damaged at line {line}"),
            FileJournalError::Poisoned => write!(f, "journal refuses writes after a failed undo; reopen it"),
        }
    }
}

impl std::error::Error for FileJournalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FileJournalError::Io(e) => Some(e),
            FileJournalError::Damaged { source, .. } => Some(source),
            FileJournalError::Poisoned => None,
        }
    }
}

impl From<std::io::Error> for FileJournalError {
    fn from(e: std::io::Error) -> FileJournalError {
        FileJournalError::Io(e)
    }
}

impl FileJournal {
    /// Opens (or creates) the log in `dir`, folding every acknowledged batch.
    pub fn open(dir: &Path) -> Result<FileJournal, FileJournalError> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("log.jsonl");
        let created = !path.exists();
        // Append mode: every write goes to the end, also after a cut-back.
        let mut file = OpenOptions::new().read(true).append(true).create(true).open(&path)?;
        if created {
            // The new file's name is durable too.
            File::open(dir)?.sync_all()?;
        }
        let mut state = MemoryJournal::new();
        let mut len = 0u64;
        let mut reader = BufReader::new(&mut file);
        let mut line = String::new();
        for number in 1.. {
            line.clear();
            let read = reader.read_line(&mut line)?;
            if read == 0 || !line.ends_with('\n') {
                break; // the end, or a torn last write that no `Ok` acknowledged
            }
            let batch: Vec<LogEntry> =
                serde_json::from_str(&line).map_err(|source| FileJournalError::Damaged { line: number, source })?;
            state.append(&batch).expect("the memory journal never fails unless asked");
            len += read as u64;
        }
        drop(reader);
        if file.metadata()?.len() != len {
            file.set_len(len)?;
            file.sync_all()?;
        }
        Ok(FileJournal { file, len, state, poisoned: false, fail_next_sync: false })
    }

    /// For tests: the next append writes its batch and then fails as if `fsync` had, which
    /// exercises the undo.
    pub fn fail_next_sync(&mut self) {
        self.fail_next_sync = true;
    }

    fn write_batch(&mut self, line: &[u8]) -> std::io::Result<()> {
        self.file.write_all(line)?;
        if std::mem::take(&mut self.fail_next_sync) {
            return Err(std::io::Error::other("injected fsync failure"));
        }
        self.file.sync_data()
    }
}

impl Journal for FileJournal {
    type Error = FileJournalError;

    fn append(&mut self, entries: &[LogEntry]) -> Result<(), FileJournalError> {
        if self.poisoned {
            return Err(FileJournalError::Poisoned);
        }
        let mut line = serde_json::to_vec(entries).expect("log entries serialise");
        line.push(b'\n');
        if let Err(e) = self.write_batch(&line) {
            // Undo: cut the file back so the batch does not land (all or nothing).
            if self.file.set_len(self.len).and_then(|()| self.file.sync_data()).is_err() {
                self.poisoned = true;
            }
            return Err(e.into());
        }
        self.len += line.len() as u64;
        self.state.append(entries).expect("the memory journal never fails unless asked");
        Ok(())
    }

    fn snapshot(&self) -> Result<Snapshot, FileJournalError> {
        Ok(self.state.state().clone())
    }

    fn history(&self, query: &HistoryQuery) -> Result<Vec<Message>, FileJournalError> {
        Ok(self.state.history(query).expect("the memory journal never fails"))
    }
}

#[allow(dead_code)] // the test includes this file for `FileJournal` only
/// A short chat through the journal, following the driver contract (crate docs of chat-core).
fn chat_through(journal: &mut FileJournal) -> Result<(), FileJournalError> {
    let mut chat = Chat::restore(Config::default(), journal.snapshot()?);
    let lobby = RoomRef { room: Some("group:lobby".into()), ..RoomRef::default() };
    let now = Timestamp(1_700_000_000_000);
    let (alice, bob) = (SessionId(1), SessionId(2));
    chat.handle(now, Input::Connect { session: alice, user: "alice".parse().expect("a name") });
    chat.handle(now, Input::Connect { session: bob, user: "bob".parse().expect("a name") });
    for session in [alice, bob] {
        chat.handle(now, Input::Receive { session, msg: ClientMsg::JoinRoom { room: lobby.clone() } });
    }
    let hello = ClientMsg::SendMessage {
        attachments: Vec::new(),
        room: lobby,
        content: "hi @bob, from a file".into(),
        client_id: None,
        reply_to: None,
    };
    chat.handle(now, Input::Receive { session: alice, msg: hello });
    let drain = chat.drain();
    for output in drain.commit(journal)? {
        if let Output::Deliver { sessions, msg } = output {
            println!("deliver to {sessions:?}: {msg:?}");
        }
    }
    Ok(())
}

#[allow(dead_code)] // the test includes this file for `FileJournal` only
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(|| std::env::temp_dir().join("custom_journal"));
    let mut journal = FileJournal::open(&dir)?;
    chat_through(&mut journal)?;
    drop(journal);
    let journal = FileJournal::open(&dir)?;
    let query = HistoryQuery { room: "group:lobby".parse()?, range: HistoryRange::Latest, limit: 5 };
    for m in journal.history(&query)? {
        println!("{}#{} {}: {}", m.room, m.seq, m.sender, m.content);
    }
    println!("the log: {} (one JSON line per batch)", dir.join("log.jsonl").display());
    Ok(())
}
