//! The journal thread: a dedicated OS thread that owns the [`Journal`], so appends (fsync) and
//! history reads never block the async worker threads.

use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::thread;
use std::time::{Duration, Instant};

use chat_core::{HistoryQuery, Journal, LoadError, LogEntry, Message, Snapshot};
use tokio::sync::oneshot;

/// Why the journal thread could not append or read a snapshot.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// The journal itself failed (the source is its error).
    #[error("the journal failed")]
    Journal(#[source] Arc<dyn std::error::Error + Send + Sync>),
    /// The journal thread is gone (it stopped, or it panicked) before answering.
    #[error("the journal thread stopped")]
    Stopped,
}

impl JournalError {
    fn journal(error: impl std::error::Error + Send + Sync + 'static) -> JournalError {
        JournalError::Journal(Arc::new(error))
    }
}

/// Equal when of the same kind and, for `Journal`, with the same message (errors have no
/// equality of their own; this lets `HubError` be compared in tests).
impl PartialEq for JournalError {
    fn eq(&self, other: &JournalError) -> bool {
        match (self, other) {
            (JournalError::Journal(a), JournalError::Journal(b)) => Arc::ptr_eq(a, b) || a.to_string() == b.to_string(),
            (JournalError::Stopped, JournalError::Stopped) => true,
            _ => false,
        }
    }
}

impl Eq for JournalError {}

/// A request to the journal thread. The hub keeps at most one `Append` and one `Snapshot` in
/// flight and caps history reads (`HubConfig::max_loads_in_flight`), which bounds the queue.
enum JournalCmd {
    Append(Vec<LogEntry>, oneshot::Sender<Result<Duration, JournalError>>),
    Snapshot(oneshot::Sender<Result<Snapshot, JournalError>>),
    History(HistoryQuery, oneshot::Sender<Result<Vec<Message>, LoadError>>),
}

/// The hub's side of the journal thread. Dropping it ends the thread.
pub(crate) struct JournalThread {
    tx: Option<std_mpsc::Sender<JournalCmd>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl JournalThread {
    pub(crate) fn spawn<J>(journal: J) -> std::io::Result<JournalThread>
    where
        J: Journal + Send + 'static,
    {
        let (tx, rx) = std_mpsc::channel::<JournalCmd>();
        let thread = thread::Builder::new().name("chat-journal".into()).spawn(move || run(journal, rx))?;
        Ok(JournalThread { tx: Some(tx), thread: Some(thread) })
    }

    fn send(&self, cmd: JournalCmd) {
        if let Some(tx) = &self.tx {
            // If the thread is gone the reply sender is dropped and the caller sees an error.
            let _ = tx.send(cmd);
        }
    }

    /// Appends `entries` in one transaction; resolves with how long the commit took.
    pub(crate) async fn append(&self, entries: Vec<LogEntry>) -> Result<Duration, JournalError> {
        let (reply, rx) = oneshot::channel();
        self.send(JournalCmd::Append(entries, reply));
        rx.await.unwrap_or(Err(JournalError::Stopped))
    }

    /// The journal's fold.
    pub(crate) async fn snapshot(&self) -> Result<Snapshot, JournalError> {
        let (reply, rx) = oneshot::channel();
        self.send(JournalCmd::Snapshot(reply));
        rx.await.unwrap_or(Err(JournalError::Stopped))
    }

    /// Starts a history read; the receiver resolves with the page.
    pub(crate) fn history(&self, query: HistoryQuery) -> oneshot::Receiver<Result<Vec<Message>, LoadError>> {
        let (reply, rx) = oneshot::channel();
        self.send(JournalCmd::History(query, reply));
        rx
    }

    /// Ends the thread after the commands already queued, and waits for it.
    pub(crate) fn stop(&mut self) {
        self.tx = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for JournalThread {
    fn drop(&mut self) {
        // Do not join here (it may run on an async thread); closing the channel ends the loop.
        self.tx = None;
    }
}

fn run<J: Journal>(mut journal: J, rx: std_mpsc::Receiver<JournalCmd>) {
    while let Ok(cmd) = rx.recv() {
        match cmd {
            JournalCmd::Append(entries, reply) => {
                let start = Instant::now();
                let result = journal.append(&entries).map(|()| start.elapsed()).map_err(JournalError::journal);
                let _ = reply.send(result);
            }
            JournalCmd::Snapshot(reply) => {
                let _ = reply.send(journal.snapshot().map_err(JournalError::journal));
            }
            JournalCmd::History(query, reply) => {
                let _ = reply.send(journal.history(&query).map_err(LoadError::journal));
            }
        }
    }
}
