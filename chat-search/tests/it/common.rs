use std::sync::Arc;

use chat_core::{Journal, LogEntry, Message, RoomKey, RoomKind, Timestamp, UserName};
use chat_search::{ReadableRooms, SearchIndex, SearchPage, SearchQuery};
use chat_store::Store;

pub fn user(name: &str) -> UserName {
    UserName::new(name).unwrap()
}

pub fn room(key: &str) -> RoomKey {
    key.parse().unwrap()
}

/// The one place tests build a `Message`: through its wire form, so fields the core adds with a
/// default (as the message lifecycle does) need no change here.
pub fn message(room_key: &str, seq: u64, ts: u64, sender: &str, content: &str) -> Message {
    serde_json::from_value(serde_json::json!({
        "room": room_key,
        "seq": seq,
        "timestamp": ts,
        "sender": sender,
        "content": content,
    }))
    .unwrap()
}

pub fn entry(m: Message) -> LogEntry {
    LogEntry::Message(Arc::new(m))
}

pub fn readable(keys: &[&str]) -> ReadableRooms {
    ReadableRooms::new(keys.iter().map(|k| room(k)))
}

/// An index in a fresh temp dir with `messages` committed.
pub fn index_with(messages: &[Message]) -> (tempfile::TempDir, SearchIndex) {
    let dir = tempfile::tempdir().unwrap();
    let mut index = SearchIndex::open(dir.path()).unwrap().index;
    for m in messages {
        index.index(m).unwrap();
    }
    index.commit().unwrap();
    (dir, index)
}

pub fn search(index: &SearchIndex, text: &str, rooms: &[&str]) -> SearchPage {
    index.reader().query(&SearchQuery::parse(text, readable(rooms)).unwrap()).unwrap()
}

/// `(room, seq)` of every hit, in order.
pub fn keys(page: &SearchPage) -> Vec<(String, u64)> {
    page.hits.iter().map(|h| (h.room.to_string(), h.seq)).collect()
}

/// A redb store in `dir` holding the rooms (created) and messages given.
pub fn store_with(dir: &std::path::Path, rooms: &[&str], messages: &[Message]) -> Store {
    let mut store = Store::open(dir.join("chat.redb")).unwrap();
    let mut entries: Vec<LogEntry> = rooms
        .iter()
        .map(|r| {
            let key = room(r);
            let kind = if key.is_dm() { RoomKind::Dm } else { RoomKind::Public };
            LogEntry::RoomCreated { room: key, kind, owner: None, timestamp: Timestamp(1) }
        })
        .collect();
    entries.extend(messages.iter().cloned().map(entry));
    store.append(&entries).unwrap();
    store
}
