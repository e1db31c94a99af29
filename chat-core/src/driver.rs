//! The driver step ([`Drain`]) and the driver's error for history reads ([`LoadError`]).

use std::sync::Arc;

use crate::chat::{Chat, Output};
use crate::journal::Journal;
use crate::log::LogEntry;

/// Why the driver could not answer an [`Output::Load`]; sent back in
/// [`Input::Loaded`](crate::Input::Loaded). The session that asked gets `history_unavailable`.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The journal failed to read the page (the source says why).
    #[error("the journal could not read history")]
    Journal(#[source] Arc<dyn std::error::Error + Send + Sync>),
    /// The driver has too many reads in flight and refused this one.
    #[error("too many history reads in flight")]
    Busy,
    /// The journal stopped (shutdown, or it went away) before answering.
    #[error("the journal stopped")]
    Stopped,
}

impl LoadError {
    /// A journal's read error, kept as the source.
    pub fn journal(error: impl std::error::Error + Send + Sync + 'static) -> LoadError {
        LoadError::Journal(Arc::new(error))
    }
}

/// Equal when of the same kind and, for `Journal`, with the same message (errors have no
/// equality of their own; inputs compare in tests and replays).
impl PartialEq for LoadError {
    fn eq(&self, other: &LoadError) -> bool {
        match (self, other) {
            (LoadError::Journal(a), LoadError::Journal(b)) => Arc::ptr_eq(a, b) || a.to_string() == b.to_string(),
            (LoadError::Busy, LoadError::Busy) | (LoadError::Stopped, LoadError::Stopped) => true,
            _ => false,
        }
    }
}

impl Eq for LoadError {}

/// One drain of a [`Chat`]: the entries to commit, and the outputs to carry out after the commit,
/// in the order the core queued them.
///
/// Every driver does the same thing after handling inputs: take every output the core queued,
/// make the [`Output::Persist`] entries durable in one batch (group commit), and only then carry
/// out the rest in order. [`Chat::drain`] returns that split, so the rule is coded once.
///
/// A sync driver calls [`Drain::commit`] with its [`Journal`]; a driver whose journal is
/// asynchronous (a thread, a remote log) takes the parts with [`Drain::into_parts`], commits the
/// entries itself, and carries out the rest only if that commit succeeded. The rest never holds
/// an [`Output::Persist`].
///
/// ```
/// use chat_core::{Chat, Config, Input, MemoryJournal, Output, SessionId, Timestamp};
///
/// let mut chat = Chat::new(Config::default());
/// let mut journal = MemoryJournal::new();
/// chat.handle(Timestamp(1), Input::Connect { session: SessionId(1), user: "alice".parse().unwrap() });
/// let drain = chat.drain();
/// assert!(!drain.persist().is_empty(), "alice became known");
/// // Commit first; only on success is the rest handed out.
/// for output in drain.commit(&mut journal).expect("commit") {
///     if let Output::Deliver { sessions, msg } = output {
///         println!("to {sessions:?}: {msg:?}"); // Reply, Load, Close: see the crate docs
///     }
/// }
/// assert!(chat.drain().is_empty());
/// ```
#[derive(Debug, Default)]
#[must_use = "a drain's entries must be committed and its outputs carried out"]
pub struct Drain {
    persist: Vec<LogEntry>,
    rest: Vec<Output>,
}

impl Drain {
    /// Whether the core had nothing queued (the driver is quiescent).
    pub fn is_empty(&self) -> bool {
        self.persist.is_empty() && self.rest.is_empty()
    }

    /// The entries to commit, in one durable batch, before anything of [`Drain::rest`].
    pub fn persist(&self) -> &[LogEntry] {
        &self.persist
    }

    /// The outputs to carry out once the entries are durable, in order. Never a `Persist`.
    pub fn rest(&self) -> &[Output] {
        &self.rest
    }

    /// Appends the entries to `journal` in one batch (no call when there are none), then hands
    /// out the rest. On `Err` nothing of this drain may be carried out: restore the core from the
    /// journal's snapshot and close every session (driver rule 3).
    pub fn commit<J: Journal>(self, journal: &mut J) -> Result<std::vec::IntoIter<Output>, J::Error> {
        if !self.persist.is_empty() {
            journal.append(&self.persist)?;
        }
        Ok(self.rest.into_iter())
    }

    /// The entries and the rest, for a driver that commits by itself: carry out the rest only
    /// after the entries are durable.
    pub fn into_parts(self) -> (Vec<LogEntry>, Vec<Output>) {
        (self.persist, self.rest)
    }
}

impl Chat {
    /// Takes every queued output as one [`Drain`]: the `Persist` entries to commit in one batch,
    /// and the rest to carry out after the commit. Call it after handling a batch of inputs, and
    /// again after answering the drain's [`Output::Load`]s, until it [is
    /// empty](Drain::is_empty).
    ///
    /// Equivalent to draining [`Chat::poll_output`] until `None` and splitting off the
    /// `Persist`s, which a driver may still do by hand.
    pub fn drain(&mut self) -> Drain {
        let mut drain = Drain::default();
        while let Some(output) = self.poll_output() {
            match output {
                Output::Persist(entry) => drain.persist.push(entry),
                other => drain.rest.push(other),
            }
        }
        drain
    }
}
