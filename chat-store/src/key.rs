//! Key encoding: byte strings whose lexicographic order is the order the store scans in, the same
//! on every platform (no native-endian integers, no serializer-dependent layout).
//!
//! - A name (user or room key) is its ASCII bytes. Names never contain `0x00`, so a name followed
//!   by `0x00` is a prefix that no other name's keys share.
//! - A composite key is `name 0x00 rest`, where `rest` is a big-endian `u64` (sorts numerically) or
//!   a second name (the last component, so it needs no terminator).

use chat_core::{RoomKey, UserName};

use crate::error::StoreError;

/// The separator after the first component of a composite key.
const SEP: u8 = 0x00;

/// `name 0x00 n`, with `n` big-endian.
pub(crate) fn name_u64(name: &str, n: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(name.len() + 9);
    key.extend_from_slice(name.as_bytes());
    key.push(SEP);
    key.extend_from_slice(&n.to_be_bytes());
    key
}

/// `name 0x00 rest`.
pub(crate) fn name_bytes(name: &str, rest: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(name.len() + 1 + rest.len());
    key.extend_from_slice(name.as_bytes());
    key.push(SEP);
    key.extend_from_slice(rest);
    key
}

/// The key of a highlight: `user 0x00 room 0x00 seq`.
pub(crate) fn highlight(user: &UserName, room: &RoomKey, seq: u64) -> Vec<u8> {
    let mut key = name_bytes(user.as_str(), room.to_string().as_bytes());
    key.push(SEP);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// The key of a message: `room 0x00 seq`.
pub(crate) fn message(room: &RoomKey, seq: u64) -> Vec<u8> {
    name_u64(&room.to_string(), seq)
}

/// Splits a composite key at its first separator.
pub(crate) fn split<'k>(table: &'static str, key: &'k [u8]) -> Result<(&'k [u8], &'k [u8]), StoreError> {
    let at = key.iter().position(|&b| b == SEP).ok_or_else(|| corrupt(table, "key without separator"))?;
    Ok((&key[..at], &key[at + 1..]))
}

/// The big-endian `u64` ending a composite key.
pub(crate) fn trailing_u64(table: &'static str, rest: &[u8]) -> Result<u64, StoreError> {
    let bytes: [u8; 8] = rest.try_into().map_err(|_| corrupt(table, "key does not end in a u64"))?;
    Ok(u64::from_be_bytes(bytes))
}

/// A user name stored as key bytes.
pub(crate) fn user(table: &'static str, bytes: &[u8]) -> Result<UserName, StoreError> {
    let s = std::str::from_utf8(bytes).map_err(|_| corrupt(table, "user name is not UTF-8"))?;
    UserName::new(s).map_err(|e| corrupt(table, &format!("bad user name {s:?}: {e}")))
}

/// A room key stored as key bytes.
pub(crate) fn room(table: &'static str, bytes: &[u8]) -> Result<RoomKey, StoreError> {
    let s = std::str::from_utf8(bytes).map_err(|_| corrupt(table, "room key is not UTF-8"))?;
    s.parse().map_err(|e| corrupt(table, &format!("bad room key {s:?}: {e}")))
}

pub(crate) fn corrupt(table: &'static str, detail: &str) -> StoreError {
    StoreError::Corrupt { table, detail: detail.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_keys_sort_by_room_then_seq() {
        let a: RoomKey = "group:a".parse().unwrap();
        let ab: RoomKey = "group:ab".parse().unwrap();
        let mut keys = vec![message(&ab, 1), message(&a, 256), message(&a, 2), message(&a, u64::MAX)];
        keys.sort();
        assert_eq!(keys, vec![message(&a, 2), message(&a, 256), message(&a, u64::MAX), message(&ab, 1)]);
    }

    #[test]
    fn composite_keys_split_back() {
        let key = name_u64("alice", 0x0102);
        let (name, rest) = split("t", &key).unwrap();
        assert_eq!(name, b"alice");
        assert_eq!(trailing_u64("t", rest).unwrap(), 0x0102);
        assert!(trailing_u64("t", &rest[1..]).is_err());
        assert!(split("t", b"no-separator").is_err());
    }
}
