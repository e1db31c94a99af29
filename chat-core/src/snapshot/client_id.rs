//! Client ids remembered per user, so that a repeated send is answered with the original
//! message instead of being stored twice.

use std::collections::VecDeque;
use std::hash::Hasher;

use serde::{Deserialize, Serialize};

use super::user::new_user;
use super::{Snapshot, Touched, Tracker};
use crate::hash::FxHasher;
use crate::log::Message;
use crate::name::UserName;
use crate::room::RoomKey;
use crate::time::Timestamp;

/// The most recent client ids remembered per user for idempotent sends.
pub const CLIENT_ID_WINDOW: u64 = 1_000;

/// What a remembered client id maps to. Also the value of a client-id row ([`crate::fold`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientIdRecord {
    /// The room of the original message.
    pub room: RoomKey,
    /// Its `seq`.
    pub seq: u64,
    /// Its timestamp.
    pub timestamp: Timestamp,
    /// Position in the user's window (for eviction).
    pub position: u64,
}

/// One user's most recent client ids, in the order they were remembered (internal: a journal
/// sees them as rows, [`crate::fold::Row::ClientId`]).
///
/// Entries sit in a ring, oldest first, each with its id's hash; the index holds positions only.
/// A lookup borrows the caller's `&str` and touches the index and one entry; remembering and
/// forgetting touch the ring's two ends; the index rehashes from the stored hashes, never
/// re-reading an id.
#[derive(Clone, Default)]
pub(crate) struct ClientIdWindow {
    /// Oldest first; `entries[k].record.position == entries[0].record.position + k`.
    entries: VecDeque<Remembered>,
    /// Positions, hashed by their entry's `hash`.
    index: hashbrown::HashTable<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Remembered {
    hash: u64,
    id: Box<str>,
    record: ClientIdRecord,
}

fn hash_client_id(id: &str) -> u64 {
    let mut h = FxHasher::default();
    h.write(id.as_bytes());
    h.finish()
}

/// Why [`ClientIdWindow::push`] refused an entry.
enum PushError {
    /// The id is already remembered.
    Known,
    /// The position does not follow the newest entry's.
    OutOfStep(ClientIdRecord),
}

impl PartialEq for ClientIdWindow {
    fn eq(&self, other: &ClientIdWindow) -> bool {
        self.entries == other.entries // the index is derived from them
    }
}

impl Eq for ClientIdWindow {}

impl std::fmt::Debug for ClientIdWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Why a client-id row was refused ([`crate::fold::Builder::client_id`]): a journal rebuilds each
/// window from its rows, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientIdWindowError {
    /// The id is already in the window.
    #[error("client id {client_id:?} is already remembered")]
    Repeated {
        /// The refused id.
        client_id: String,
    },
    /// The position does not follow the newest entry's.
    #[error("client id {client_id:?} at position {position} does not follow the window (next is {expected})")]
    OutOfOrder {
        /// The refused id.
        client_id: String,
        /// Its position.
        position: u64,
        /// The position that would have been accepted.
        expected: u64,
    },
}

impl ClientIdWindow {
    /// The record of `client_id`, if remembered.
    pub(crate) fn get(&self, client_id: &str) -> Option<&ClientIdRecord> {
        self.find(hash_client_id(client_id), client_id)
    }

    fn find(&self, hash: u64, client_id: &str) -> Option<&ClientIdRecord> {
        let first = self.oldest_position()?;
        let entry = |p: u64| &self.entries[(p - first) as usize];
        let position = self.index.find(hash, |&p| entry(p).hash == hash && &*entry(p).id == client_id)?;
        Some(&entry(*position).record)
    }

    /// The id remembered at `position`, with its record.
    pub(crate) fn at(&self, position: u64) -> Option<(&str, &ClientIdRecord)> {
        let first = self.oldest_position()?;
        let e = self.entries.get(usize::try_from(position.checked_sub(first)?).ok()?)?;
        Some((&e.id, &e.record))
    }

    /// Remembered ids with their records, oldest first.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = (&str, &ClientIdRecord)> {
        self.entries.iter().map(|e| (&*e.id, &e.record))
    }

    /// Number of remembered ids.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Appends the next id (how a journal rebuilds a window, oldest first). Its position must be
    /// the one after the newest entry's (any position for the first), and the id must be new.
    pub(crate) fn append(&mut self, client_id: &str, record: ClientIdRecord) -> Result<(), ClientIdWindowError> {
        let expected = self.entries.back().map_or(record.position, |e| e.record.position + 1);
        let client_id_owned = || client_id.to_owned();
        self.push(client_id, record).map_err(|e| match e {
            PushError::Known => ClientIdWindowError::Repeated { client_id: client_id_owned() },
            PushError::OutOfStep(record) => {
                ClientIdWindowError::OutOfOrder { client_id: client_id_owned(), position: record.position, expected }
            }
        })
    }

    fn push(&mut self, client_id: &str, record: ClientIdRecord) -> Result<(), PushError> {
        let expected = self.entries.back().map_or(record.position, |e| e.record.position + 1);
        let hash = hash_client_id(client_id);
        if self.find(hash, client_id).is_some() {
            return Err(PushError::Known);
        }
        if record.position != expected {
            return Err(PushError::OutOfStep(record));
        }
        let position = record.position;
        self.entries.push_back(Remembered { hash, id: client_id.into(), record });
        let ClientIdWindow { entries, index } = self;
        let first = entries[0].record.position;
        index.insert_unique(hash, position, |&p| entries[(p - first) as usize].hash);
        Ok(())
    }

    fn oldest_position(&self) -> Option<u64> {
        self.entries.front().map(|e| e.record.position)
    }

    /// Forgets the oldest id.
    fn pop_oldest(&mut self) -> Option<u64> {
        let oldest = self.entries.front()?;
        let position = oldest.record.position;
        if let Ok(slot) = self.index.find_entry(oldest.hash, |&p| p == position) {
            slot.remove();
        }
        self.entries.pop_front();
        Some(position)
    }
}

impl Snapshot {
    /// The original message a `(user, client_id)` pair stored, if remembered.
    pub fn client_id(&self, user: &UserName, client_id: &str) -> Option<&ClientIdRecord> {
        self.client_ids.get(user)?.get(client_id)
    }

    /// How many client ids `user` has remembered (at most [`CLIENT_ID_WINDOW`]).
    pub fn client_id_count(&self, user: &UserName) -> usize {
        self.client_ids.get(user).map_or(0, ClientIdWindow::len)
    }

    pub(super) fn remember_client_id(&mut self, m: &Message, client_id: &str, touched: &mut impl Tracker) {
        let window = self.client_ids.entry(m.sender.clone()).or_default();
        let u = self.users.entry(m.sender.clone()).or_insert_with(new_user);
        let position = u.next_client_id;
        let record = ClientIdRecord { room: m.room.clone(), seq: m.seq, timestamp: m.timestamp, position };
        match window.push(client_id, record) {
            Ok(()) => {}
            Err(PushError::Known) => return,
            Err(PushError::OutOfStep(record)) => {
                // Only a window out of step with its user's counters gets here (a journal that
                // rebuilt one from damaged rows): start it over from this id.
                *window = ClientIdWindow::default();
                let _ = window.push(client_id, record);
            }
        }
        u.next_client_id += 1;
        touched.touch(|| Touched::ClientId(m.sender.clone(), position));
        while u.next_client_id - u.oldest_client_id > CLIENT_ID_WINDOW {
            let old = u.oldest_client_id;
            u.oldest_client_id += 1;
            if window.oldest_position() == Some(old) && window.pop_oldest().is_some() {
                touched.touch(|| Touched::ClientId(m.sender.clone(), old));
            }
        }
        touched.touch(|| Touched::User(m.sender.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(position: u64) -> ClientIdRecord {
        ClientIdRecord { room: "group:lobby".parse().unwrap(), seq: position + 10, timestamp: Timestamp(7), position }
    }

    #[test]
    fn client_id_window_appends_in_order_and_finds_by_id_and_position() {
        let mut w = ClientIdWindow::default();
        for p in 5..8 {
            w.append(&format!("id-{p}"), record(p)).unwrap();
        }
        assert_eq!(w.len(), 3);
        assert_eq!(w.get("id-6").map(|r| r.seq), Some(16));
        assert_eq!(w.get("id-9"), None);
        assert_eq!(w.at(7).map(|(id, _)| id), Some("id-7"));
        assert_eq!(w.at(4), None);
        assert_eq!(w.at(8), None);
        assert_eq!(
            w.append("id-10", record(10)),
            Err(ClientIdWindowError::OutOfOrder { client_id: "id-10".into(), position: 10, expected: 8 })
        );
        assert_eq!(
            w.append("id-5", record(8)),
            Err(ClientIdWindowError::Repeated { client_id: "id-5".into() }),
            "a remembered id is refused"
        );
        assert_eq!(w.pop_oldest(), Some(5));
        assert_eq!(w.get("id-5"), None);
        assert_eq!(w.get("id-7").map(|r| r.position), Some(7));
        assert_eq!(w.iter().map(|(id, _)| id).collect::<Vec<_>>(), ["id-6", "id-7"]);
    }

    #[test]
    fn client_id_window_rebuilds_in_order_only() {
        let mut w = ClientIdWindow::default();
        w.append("b", record(2)).unwrap();
        assert!(w.append("a", record(1)).is_err(), "positions must follow the newest entry");
        assert_eq!(w.len(), 1);
    }
}
