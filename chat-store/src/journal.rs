//! The [`Journal`] implementation: group-committed appends, snapshot load, history pages.

use std::collections::HashMap;
use std::ops::Bound;

use chat_core::{HistoryQuery, HistoryRange, Journal, LogEntry, Message, ReplyTo, RoomKey, Snapshot};
use redb::ReadableTable;

use crate::error::StoreError;
use crate::store::Store;
use crate::table::StoredMessage;
use crate::{key, table};

impl Journal for Store {
    type Error = StoreError;

    /// Appends a batch in one write transaction with a durable commit.
    ///
    /// Each message is stored once in `messages` (a message whose `seq` is not above the room's
    /// latest stored one is ignored, as in `MemoryJournal`); every entry is folded into the
    /// store's snapshot and the keys it touched are rewritten in the same transaction. On error
    /// nothing of the batch is visible and the in-memory fold is reloaded from the tables before
    /// the next append.
    fn append(&mut self, entries: &[LogEntry]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(()); // nothing to make durable: no commit, no fsync
        }
        self.append_with_setting(entries, None)
    }

    /// Reads the materialised tables (no message is read). Fast at start-up whatever the number
    /// of stored messages.
    fn snapshot(&self) -> Result<Snapshot, StoreError> {
        // Under the writer lock, so that the fold can be cached for the next append without
        // racing a commit.
        let mut writer = self.writer();
        let snapshot = self.read(table::load_snapshot)?;
        if writer.snapshot.is_none() {
            writer.snapshot = Some(snapshot.clone());
        }
        Ok(snapshot)
    }

    /// A page by range scan on `(room, seq)` (or, for changed messages, on `changes`); same pages
    /// as `MemoryJournal::history`.
    fn history(&self, query: &HistoryQuery) -> Result<Vec<Message>, StoreError> {
        let limit = query.limit as usize;
        if limit == 0 {
            return Ok(Vec::new());
        }
        let room = &query.room;
        self.read(|txn| {
            let messages = txn.open_table(table::MESSAGES)?;
            let mut page = match query.range {
                HistoryRange::At(seq) => match messages.get(key::message(room, seq).as_slice())? {
                    Some(v) => vec![table::decode_message(room, seq, v.value())?],
                    None => Vec::new(),
                },
                HistoryRange::ChangedSince { rev, after, through } => {
                    let changes = txn.open_table(table::CHANGES)?;
                    let (start, end) = (key::message(room, rev), key::message(room, u64::MAX));
                    let mut seqs = Vec::new();
                    for row in
                        changes.range::<&[u8]>((Bound::Excluded(start.as_slice()), Bound::Included(end.as_slice())))?
                    {
                        let (_, v) = row?;
                        let seq = key::trailing_u64("changes", v.value())?;
                        if seq > after && seq <= through {
                            seqs.push(seq);
                        }
                    }
                    seqs.sort_unstable();
                    seqs.truncate(limit);
                    let mut page = Vec::with_capacity(seqs.len());
                    for seq in seqs {
                        if let Some(v) = messages.get(key::message(room, seq).as_slice())? {
                            page.push(table::decode_message(room, seq, v.value())?);
                        }
                    }
                    page
                }
                HistoryRange::Around(seq) => {
                    let mut page = scan(&messages, room, HistoryRange::Before(seq), limit / 2)?;
                    let from = HistoryRange::After(seq.saturating_sub(1));
                    page.extend(scan(&messages, room, from, limit - limit / 2)?);
                    page
                }
                range => scan(&messages, room, range, limit)?,
            };
            // A reply quotes the answered message as it is now.
            for m in &mut page {
                if let Some(reply) = &mut m.reply_to
                    && let Some(v) = messages.get(key::message(room, reply.seq).as_slice())?
                {
                    **reply = ReplyTo::of(&table::decode_message(room, reply.seq, v.value())?);
                }
            }
            Ok(page)
        })
    }
}

impl Store {
    /// [`Journal::append`] plus one setting (see [`Store::meta`]) written in the same write
    /// transaction, even when `entries` is empty: a replica records the position in its
    /// replicated log together with the entries it folded there, so a crash can neither lose
    /// nor repeat a batch.
    pub fn append_with_meta(&mut self, entries: &[LogEntry], key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.append_with_setting(entries, Some((key, value)))
    }

    fn append_with_setting(&mut self, entries: &[LogEntry], setting: Option<(&str, &[u8])>) -> Result<(), StoreError> {
        let mut writer = self.writer();
        let mut snapshot = match writer.snapshot.take() {
            Some(snapshot) => snapshot,
            None => self.read(table::load_snapshot)?,
        };
        // On any error below, `writer.snapshot` stays `None`: the half-applied fold is dropped
        // and the next append reloads what is durable.
        self.write(|txn| {
            let mut messages = txn.open_table(table::MESSAGES)?;
            let mut changes = txn.open_table(table::CHANGES)?;
            let mut last_seq: HashMap<RoomKey, u64> = HashMap::new();
            for entry in entries {
                if let LogEntry::Message(m) = entry {
                    let last = match last_seq.get(&m.room) {
                        Some(&last) => Some(last),
                        None => last_stored_seq(&messages, &m.room)?,
                    };
                    if last.is_none_or(|last| last < m.seq) {
                        let value = table::encode_message(&StoredMessage::of(m))?;
                        messages.insert(key::message(&m.room, m.seq).as_slice(), value.as_slice())?;
                        last_seq.insert(m.room.clone(), m.seq);
                        if !m.attachments.is_empty() {
                            let ids: Vec<_> = m.attachments.iter().map(|a| a.id).collect();
                            crate::attachment::add_refs(txn, &m.room, m.seq, &ids)?;
                        }
                    }
                } else if let Some((room, seq, rev)) = entry.changed_message() {
                    // The message's row becomes its current state; its one row in `changes`
                    // moves to this event.
                    let k = key::message(room, seq);
                    let Some(mut stored) =
                        messages.get(k.as_slice())?.map(|v| table::decode_stored(v.value())).transpose()?
                    else {
                        continue;
                    };
                    let held: Vec<_> = stored.attachments.iter().map(|a| a.id).collect();
                    if stored.apply(room, seq, entry) {
                        // A deletion releases the message's files (garbage collection may take
                        // them after the grace period).
                        if let LogEntry::Deleted(d) = entry
                            && !held.is_empty()
                        {
                            crate::attachment::release_refs(txn, room, seq, &held, d.deleted_at)?;
                        }
                        if stored.changed != 0 {
                            changes.remove(key::message(room, stored.changed).as_slice())?;
                        }
                        stored.changed = rev;
                        changes.insert(key::message(room, rev).as_slice(), seq.to_be_bytes().as_slice())?;
                        messages.insert(k.as_slice(), table::encode_message(&stored)?.as_slice())?;
                    }
                }
            }
            drop((messages, changes));
            let touched = snapshot.apply_batch(entries);
            table::write_touched(txn, &snapshot, &touched)?;
            if let Some((key, value)) = setting {
                txn.open_table(table::SETTINGS)?.insert(key.as_bytes(), value)?;
            }
            Ok(())
        })?;
        writer.snapshot = Some(snapshot);
        Ok(())
    }
}

/// A `Latest`, `Before` or `After` page by range scan on `room 0x00 seq`.
fn scan(
    messages: &impl ReadableTable<&'static [u8], &'static [u8]>,
    room: &RoomKey,
    range: HistoryRange,
    limit: usize,
) -> Result<Vec<Message>, StoreError> {
    let (start, end) = match range {
        HistoryRange::Before(0) | HistoryRange::After(u64::MAX) => return Ok(Vec::new()),
        HistoryRange::Before(before) => (Bound::Included(0), Bound::Excluded(before)),
        HistoryRange::After(after) => (Bound::Excluded(after), Bound::Included(u64::MAX)),
        _ => (Bound::Included(0), Bound::Included(u64::MAX)),
    };
    let start = start.map(|seq| key::message(room, seq));
    let end = end.map(|seq| key::message(room, seq));
    let rows = messages.range::<&[u8]>((bound_ref(&start), bound_ref(&end)))?;
    let mut page = Vec::with_capacity(limit.min(128));
    if matches!(range, HistoryRange::After(_)) {
        for row in rows.take(limit) {
            let (k, v) = row?;
            page.push(table::decode_message(room, seq_of(k.value())?, v.value())?);
        }
    } else {
        for row in rows.rev().take(limit) {
            let (k, v) = row?;
            page.push(table::decode_message(room, seq_of(k.value())?, v.value())?);
        }
        page.reverse();
    }
    Ok(page)
}

fn bound_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k.as_slice()),
        Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// The `seq` of a key in `messages`.
fn seq_of(key: &[u8]) -> Result<u64, StoreError> {
    let (_, seq) = key::split("messages", key)?;
    key::trailing_u64("messages", seq)
}

/// The highest `seq` stored for `room`, if any.
fn last_stored_seq(
    messages: &impl ReadableTable<&'static [u8], &'static [u8]>,
    room: &RoomKey,
) -> Result<Option<u64>, StoreError> {
    let start = key::message(room, 0);
    let end = key::message(room, u64::MAX);
    let last = messages.range::<&[u8]>(start.as_slice()..=end.as_slice())?.next_back().transpose()?;
    match last {
        None => Ok(None),
        Some((k, _)) => seq_of(k.value()).map(Some),
    }
}
