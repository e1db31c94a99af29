//! The driver's fake attachment store and fake search index.
//!
//! Files are named by one byte `b`: id `[b; 32]`, uploaded by `USERS[b % 4]` (nobody's from
//! 0xF0). The index answers from the model's committed messages: honestly (now), late (as it
//! stood when the search was asked, so hits deleted since come back), with hits from every room
//! and deleted text (hostile), or with a failure.

use chat_core::attachment::{Attachment, AttachmentId, ResolveError};
use chat_core::{Message, RoomKey, SearchFailure, SearchItem, SearchRequest, SearchResults, UserName};

use super::user;

/// The id of fake file `b`.
pub(super) fn file(b: u8) -> AttachmentId {
    AttachmentId::from_bytes([b; 32])
}

/// The fake file byte of `id`, if it is one.
fn file_byte(id: &AttachmentId) -> Option<u8> {
    let bytes = id.as_bytes();
    bytes.iter().all(|b| *b == bytes[0]).then_some(bytes[0])
}

/// Who uploaded `id`, per the fake store.
pub(super) fn uploader(id: &AttachmentId) -> Option<UserName> {
    file_byte(id).filter(|b| *b < 0xF0).map(user)
}

/// What the fake store says about `id`.
pub(super) fn metadata(id: AttachmentId) -> Attachment {
    let b = file_byte(&id).unwrap_or(0);
    let image = b.is_multiple_of(2);
    Attachment {
        id,
        name: format!("file-{b}.{}", if image { "png" } else { "bin" }),
        size: u64::from(b) * 1_000 + 1,
        content_type: if image { "image/png" } else { "application/octet-stream" }.into(),
        width: image.then_some(u32::from(b) + 1),
        height: image.then_some(2 * u32::from(b) + 1),
    }
}

/// The store's answer to resolving `ids` for `user`, and whether it is the honest one.
///
/// `mode % 4`: 0 and 1 honest (`NotFound` unless every id is the user's); 2 unavailable; 3 a
/// lie: other files than asked (each id's neighbour, or one file fewer when `mode & 4`).
pub(super) fn resolve(
    user: &UserName,
    ids: &[AttachmentId],
    mode: u8,
) -> (Result<Vec<Attachment>, ResolveError>, bool) {
    match mode % 4 {
        0 | 1 => {
            let result = match ids.iter().all(|id| uploader(id).as_ref() == Some(user)) {
                true => Ok(ids.iter().copied().map(metadata).collect()),
                false => Err(ResolveError::NotFound),
            };
            (result, true)
        }
        2 => (Err(ResolveError::Unavailable("the fake store is down".into())), false),
        _ if mode & 4 != 0 => {
            let fewer = ids[..ids.len().saturating_sub(1)].iter().copied().map(metadata).collect();
            (Ok(fewer), false)
        }
        _ => {
            let other = |id: &AttachmentId| metadata(file(file_byte(id).unwrap_or(0).wrapping_add(4)));
            (Ok(ids.iter().map(other).collect()), false)
        }
    }
}

/// Whether `m` (its current text) matches the request.
fn matches(m: &Message, query: &SearchRequest) -> bool {
    let text = m.content.to_lowercase();
    query.text.split_whitespace().all(|w| text.contains(&w.to_lowercase()))
        && query.from.as_ref().is_none_or(|f| *f == m.sender)
        && query.before.is_none_or(|t| m.timestamp < t)
        && query.after.is_none_or(|t| m.timestamp > t)
}

fn item(m: &Message, snippet: &str) -> SearchItem {
    SearchItem {
        room: m.room.clone(),
        seq: m.seq,
        sender: m.sender.clone(),
        timestamp: m.timestamp,
        snippet: snippet.to_owned(),
        highlights: Vec::new(),
        cut_before: false,
        cut_after: false,
    }
}

/// An honest index over `log` (the model's messages in their current state): live messages of
/// `rooms` that match, newest first, at most `limit`.
pub(super) fn honest<'a>(
    log: impl Iterator<Item = (&'a RoomKey, &'a Vec<Message>)>,
    rooms: &[RoomKey],
    query: &SearchRequest,
) -> Vec<SearchItem> {
    let mut hits: Vec<&Message> = log
        .filter(|(room, _)| rooms.contains(room))
        .flat_map(|(_, messages)| messages.iter())
        .filter(|m| !m.deleted && matches(m, query))
        .collect();
    hits.sort_by(|a, b| (b.timestamp, &b.room, b.seq).cmp(&(a.timestamp, &a.room, a.seq)));
    hits.into_iter().take(query.limit as usize).map(|m| item(m, &m.content)).collect()
}

/// A hostile index: every message of every room (deleted ones with the text they had, from
/// `deleted_text`), more than asked for.
pub(super) fn hostile<'a>(
    log: impl Iterator<Item = (&'a RoomKey, &'a Vec<Message>)>,
    deleted_text: impl Fn(&RoomKey, u64) -> Option<String>,
) -> Vec<SearchItem> {
    let mut items = Vec::new();
    for m in log.flat_map(|(_, messages)| messages.iter()) {
        let text = match m.deleted {
            true => deleted_text(&m.room, m.seq).unwrap_or_default(),
            false => m.content.clone(),
        };
        items.push(item(m, &text));
    }
    items
}

/// A failure of the index, by `mode`.
pub(super) fn failure(mode: u8) -> SearchFailure {
    match (mode >> 2) % 3 {
        0 => SearchFailure::Unavailable,
        1 => SearchFailure::Query("the fake index refuses this query".into()),
        _ => SearchFailure::index(std::io::Error::other("the fake index failed")),
    }
}

/// The results page of `items` (no cursor; `stale` when the index answered late).
pub(super) fn page(items: Vec<SearchItem>, stale: bool) -> SearchResults {
    SearchResults { items, next: None, stale }
}
