//! Filling the index from stored messages: [`rebuild`] and its resumable form [`Rebuild`].

use std::time::{Duration, Instant};

use chat_core::{HistoryQuery, HistoryRange, Journal, Message, RoomKey};

use crate::error::{IndexError, RebuildError};
use crate::index::SearchIndex;

/// Messages read from the journal per history page.
pub const REBUILD_PAGE: u32 = 500;
/// A rebuild commits the index after this many messages, so an interrupted one keeps its work.
const COMMIT_EVERY: u64 = 50_000;
/// How often progress is logged.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// What a finished rebuild did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebuildStats {
    /// Rooms read.
    pub rooms: usize,
    /// Messages indexed (or removed, for deleted ones).
    pub messages: u64,
    /// Wall time.
    pub elapsed: Duration,
}

/// A rebuild that advances one history page at a time, so a caller can interleave other work
/// (the [`Indexer`](crate::Indexer) applies live entries between pages). Every message is
/// written as a replacement of its `(room, seq)`, so the index stays searchable throughout and
/// a live entry applied before or after the page that holds its message leaves the same result.
#[derive(Debug)]
pub struct Rebuild {
    rooms: Vec<RoomKey>,
    room: usize,
    after: u64,
    messages: u64,
    since_commit: u64,
    started: Instant,
    logged: Instant,
}

impl Rebuild {
    /// A rebuild of `rooms` (typically every room of the journal's snapshot).
    pub fn new(rooms: impl IntoIterator<Item = RoomKey>) -> Rebuild {
        let now = Instant::now();
        let rooms: Vec<RoomKey> = rooms.into_iter().collect();
        tracing::info!(rooms = rooms.len(), "search index rebuild started");
        Rebuild { rooms, room: 0, after: 0, messages: 0, since_commit: 0, started: now, logged: now }
    }

    /// Indexes the next page of history; `Ok(false)` once every room is done (and committed).
    pub fn step<J: Journal>(&mut self, index: &mut SearchIndex, journal: &J) -> Result<bool, RebuildError<J::Error>> {
        let Some(room) = self.rooms.get(self.room) else {
            index.commit()?;
            tracing::info!(
                rooms = self.rooms.len(),
                messages = self.messages,
                elapsed_ms = self.started.elapsed().as_millis() as u64,
                "search index rebuild finished"
            );
            return Ok(false);
        };
        let query = HistoryQuery { room: room.clone(), range: HistoryRange::After(self.after), limit: REBUILD_PAGE };
        let page = journal.history(&query).map_err(RebuildError::Journal)?;
        for message in &page {
            apply_stored(index, message)?;
        }
        let n = page.len() as u64;
        self.messages += n;
        self.since_commit += n;
        match page.last() {
            Some(last) if n == u64::from(REBUILD_PAGE) => self.after = last.seq,
            _ => {
                self.room += 1;
                self.after = 0;
            }
        }
        if self.since_commit >= COMMIT_EVERY {
            index.commit()?;
            self.since_commit = 0;
        }
        if self.logged.elapsed() >= LOG_EVERY {
            self.logged = Instant::now();
            tracing::info!(
                room = self.room,
                rooms = self.rooms.len(),
                messages = self.messages,
                "search index rebuild in progress"
            );
        }
        Ok(true)
    }

    /// Messages done so far.
    pub fn messages(&self) -> u64 {
        self.messages
    }

    /// Rooms done so far, of [`rooms`](Rebuild::rooms).
    pub fn rooms_done(&self) -> usize {
        self.room
    }

    /// Rooms to do in all.
    pub fn rooms(&self) -> usize {
        self.rooms.len()
    }

    fn stats(&self) -> RebuildStats {
        RebuildStats { rooms: self.rooms.len(), messages: self.messages, elapsed: self.started.elapsed() }
    }
}

/// Indexes every stored message of `rooms` from `journal` into `index` and commits, logging
/// progress. For a whole store, pass `journal.snapshot()?.rooms()`'s keys. Blocks until done:
/// run it on a thread of its own, or let an [`Indexer`](crate::Indexer) do it in the background.
pub fn rebuild<J: Journal>(
    index: &mut SearchIndex,
    journal: &J,
    rooms: impl IntoIterator<Item = RoomKey>,
) -> Result<RebuildStats, RebuildError<J::Error>> {
    let mut rebuild = Rebuild::new(rooms);
    while rebuild.step(index, journal)? {}
    index.set_stale(false);
    Ok(rebuild.stats())
}

/// Writes a message as the store holds it now.
pub(crate) fn apply_stored(index: &mut SearchIndex, message: &Message) -> Result<(), IndexError> {
    if message.deleted {
        // A tombstone has no text left to find.
        index.remove(&message.room, message.seq);
        return Ok(());
    }
    index.index(message)
}
