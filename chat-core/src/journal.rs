//! The journal contract between the core's driver and durable storage, and [`MemoryJournal`].

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::log::{LogEntry, Message, ReplyTo};
use crate::room::RoomKey;
use crate::snapshot::Snapshot;

/// Which part of a room's history a page covers. Pages are always returned ascending by `seq`,
/// each message in its current state (edits applied, deleted ones as tombstones, reactions, and
/// `reply_to` quoting the answered message as it is now: [`ReplyTo::of`]).
//
// Not `#[non_exhaustive]`: a journal must answer every range, so a new one should fail to
// compile in every journal rather than fall into a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HistoryRange {
    /// The newest `limit` messages.
    Latest,
    /// The newest `limit` messages with `seq < before`.
    Before(u64),
    /// The oldest `limit` messages with `seq > after`.
    After(u64),
    /// The context of message `seq`: the newest `limit / 2` messages with a `seq` below it,
    /// then the oldest `limit - limit / 2` messages from `seq` on (it first, when stored). For
    /// `history {around}` (jumping to a search hit).
    Around(u64),
    /// The message `seq` alone (none if it was never stored): the target of an edit, deletion,
    /// reaction or reply.
    At(u64),
    /// The oldest `limit` messages with `after < seq ≤ through` whose state was changed (edited,
    /// deleted, reacted to) by an event with a `rev` above `rev`: what a resuming client that
    /// saw the room up to event `rev` must replace.
    ChangedSince {
        /// The last event the client saw.
        rev: u64,
        /// Only messages after this `seq` (the last one of the previous page).
        after: u64,
        /// Only messages up to this `seq` (the last one the client holds).
        through: u64,
    },
}

/// An authorised history read: the core has already checked the caller may read `room`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryQuery {
    /// The room.
    pub room: RoomKey,
    /// Which messages.
    pub range: HistoryRange,
    /// At most this many.
    pub limit: u32,
}

/// Durable storage for the log, as a driver needs it.
///
/// The contract:
/// 1. `append` is atomic and durable: when it returns `Ok`, every entry of the batch survives a
///    crash. When it returns `Err`, the batch is all or nothing: usually nothing, but a failure
///    reported *after* the data reached the disk (a failed fsync whose pages were written, a
///    failed truncate after a successful sync) may leave the whole batch durable, never part of
///    it. Drivers therefore acknowledge nothing from a failed batch and restore the core from
///    `snapshot()` (driver rule 3), which reflects whichever it was; a client that retries with
///    its `client_id` then gets the original.
/// 2. `snapshot` returns `Snapshot::from_log(all appended entries)`, without replaying messages.
/// 3. `history` answers from the appended `Message` entries, each in its current state: a journal
///    applies every change entry to the message it names with [`Message::apply_change`] (the
///    one interpreter of message changes), and fills `reply_to` from the answered message's
///    current state ([`ReplyTo::of`]); a deletion removes the content from storage.
pub trait Journal {
    /// What can go wrong.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Appends a batch of entries in one durable transaction (group commit).
    fn append(&mut self, entries: &[LogEntry]) -> Result<(), Self::Error>;

    /// The fold of everything appended so far.
    fn snapshot(&self) -> Result<Snapshot, Self::Error>;

    /// A page of a room's messages, ascending by `seq`.
    fn history(&self, query: &HistoryQuery) -> Result<Vec<Message>, Self::Error>;
}

/// Errors of [`MemoryJournal`]: only the ones a test asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MemoryJournalError {
    /// Injected with [`MemoryJournal::fail_next_appends`].
    #[error("injected append failure")]
    Injected,
}

/// A message as the memory journal keeps it: its current state and the `rev` of the last event
/// that changed it (0 when none did).
#[derive(Debug, Clone)]
struct Stored {
    message: Arc<Message>,
    changed: u64,
}

/// An in-memory [`Journal`] for tests, examples and fuzzing. It is also the reference model the
/// store is tested against.
#[derive(Debug, Clone, Default)]
pub struct MemoryJournal {
    entries: Vec<LogEntry>,
    snapshot: Snapshot,
    messages: BTreeMap<RoomKey, Vec<Stored>>,
    failures: u32,
}

impl MemoryJournal {
    /// An empty journal.
    pub fn new() -> MemoryJournal {
        MemoryJournal::default()
    }

    /// Makes the next `n` appends fail (and change nothing).
    pub fn fail_next_appends(&mut self, n: u32) {
        self.failures = n;
    }

    /// Every entry appended so far.
    pub fn entries(&self) -> &[LogEntry] {
        &self.entries
    }

    /// The current fold, by reference.
    pub fn state(&self) -> &Snapshot {
        &self.snapshot
    }
}

impl Journal for MemoryJournal {
    type Error = MemoryJournalError;

    fn append(&mut self, entries: &[LogEntry]) -> Result<(), MemoryJournalError> {
        if self.failures > 0 {
            self.failures -= 1;
            return Err(MemoryJournalError::Injected);
        }
        for entry in entries {
            self.snapshot.apply(entry);
            if let LogEntry::Message(m) = entry {
                let room = self.messages.entry(m.room.clone()).or_default();
                // Messages arrive in seq order; a duplicate seq replaces nothing.
                if room.last().is_none_or(|last| last.message.seq < m.seq) {
                    room.push(Stored { message: m.clone(), changed: 0 });
                }
            } else if let Some((room, seq, rev)) = entry.changed_message()
                && let Some(stored) = self.messages.get_mut(room)
                && let Ok(at) = stored.binary_search_by_key(&seq, |s| s.message.seq)
                && Arc::make_mut(&mut stored[at].message).apply_change(entry)
            {
                stored[at].changed = rev;
            }
            self.entries.push(entry.clone());
        }
        Ok(())
    }

    fn snapshot(&self) -> Result<Snapshot, MemoryJournalError> {
        Ok(self.snapshot.clone())
    }

    fn history(&self, query: &HistoryQuery) -> Result<Vec<Message>, MemoryJournalError> {
        let Some(messages) = self.messages.get(&query.room) else { return Ok(Vec::new()) };
        let limit = query.limit as usize;
        let after = |after: u64| messages.partition_point(|m| m.message.seq <= after);
        let page: Vec<&Stored> = match query.range {
            HistoryRange::Latest => messages[messages.len().saturating_sub(limit)..].iter().collect(),
            HistoryRange::Before(before) => {
                let end = messages.partition_point(|m| m.message.seq < before);
                messages[end.saturating_sub(limit)..end].iter().collect()
            }
            HistoryRange::After(a) => {
                let start = after(a);
                messages[start..(start + limit).min(messages.len())].iter().collect()
            }
            HistoryRange::Around(seq) => {
                let mid = messages.partition_point(|m| m.message.seq < seq);
                let start = mid.saturating_sub(limit / 2);
                messages[start..(mid + (limit - limit / 2)).min(messages.len())].iter().collect()
            }
            HistoryRange::At(seq) => {
                let start = after(seq.saturating_sub(1));
                messages[start..].iter().take(limit.min(1)).filter(|m| m.message.seq == seq).collect()
            }
            HistoryRange::ChangedSince { rev, after: a, through } => messages[after(a)..]
                .iter()
                .take_while(|m| m.message.seq <= through)
                .filter(|m| m.changed > rev)
                .take(limit)
                .collect(),
        };
        let quote = |seq: u64| {
            let at = messages.binary_search_by_key(&seq, |m| m.message.seq).ok()?;
            Some(ReplyTo::of(&messages[at].message))
        };
        Ok(page
            .into_iter()
            .map(|m| {
                let mut message = Message::clone(&m.message);
                if let Some(reply) = &mut message.reply_to
                    && let Some(now) = quote(reply.seq)
                {
                    **reply = now;
                }
                message
            })
            .collect())
    }
}
