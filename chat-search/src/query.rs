//! [`SearchQuery`]: what a caller asks for, and the text grammar.
//!
//! ```text
//! query   = item *(SP item)
//! item    = phrase / filter / word
//! phrase  = DQUOTE *(any but DQUOTE) DQUOTE        ; the words, adjacent and in order
//! filter  = "from:" ["@"] user                      ; sent by this user
//!         / "in:" ["#"] (room-name / room-key)      ; in this room (group:x, dm:a:b)
//!         / "before:" date / "after:" date          ; YYYY-MM-DD (UTC days) or ms since epoch
//!         / "has:" ("attachment" / "image" / "file") ; carries an attachment, an image, a non-image
//! word    = any run without SP                      ; analysed like the text
//! ```
//!
//! Every word and phrase must match (AND), in the text or in the name of an attached file; every
//! `has:` must hold (a plural `has:images` is accepted; any other value is refused). Filter names are case-insensitive; an unknown
//! `name:value` is searched as words. A word is analysed like message text (split at
//! punctuation, lower-cased, folded to ASCII), so `@alice` finds the mention `@alice` (and the
//! word `alice`) and `foo_bar()` finds the code span `` `foo_bar()` `` as the phrase `foo bar`.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chat_core::{RoomKey, RoomName, Timestamp, UserName};

use crate::error::QueryError;
use crate::schema::Has;

/// The longest accepted query text, in bytes.
pub const MAX_QUERY_BYTES: usize = 512;
/// The most words and phrases in one query.
pub const MAX_QUERY_TERMS: usize = 16;
/// The most hits on one page; larger limits are clamped.
pub const MAX_LIMIT: u32 = 50;
/// The page size when the caller gives none.
pub const DEFAULT_LIMIT: u32 = 20;
/// How deep relevance paging goes (hits skipped); further pages are refused with
/// [`QueryError::BadCursor`]. Newest-first paging has no such bound (it seeks, it does not skip).
pub const MAX_RELEVANCE_OFFSET: u32 = 1_000;

const DAY_MS: u64 = 86_400_000;

/// The rooms the caller may read, decided by the core at query time. Mandatory: a
/// [`SearchQuery`] cannot be made without it, and no hit outside it is ever returned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadableRooms(BTreeSet<RoomKey>);

impl ReadableRooms {
    /// The set of `rooms`.
    pub fn new(rooms: impl IntoIterator<Item = RoomKey>) -> ReadableRooms {
        ReadableRooms(rooms.into_iter().collect())
    }

    /// Whether `room` is in the set.
    pub fn contains(&self, room: &RoomKey) -> bool {
        self.0.contains(room)
    }

    /// The rooms, in key order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &RoomKey> {
        self.0.iter()
    }

    /// Whether the caller may read no room at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A word or a phrase that hits must contain.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SearchTerm {
    /// One word (several if it contains punctuation; then they must be adjacent).
    Word(String),
    /// Words that must be adjacent and in order.
    Phrase(String),
}

/// The order of hits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Order {
    /// Newest first (by timestamp, then room, then seq): the default.
    #[default]
    Newest,
    /// Best match first (BM25); ties newest first.
    Relevance,
}

/// Where the next page starts: opaque to callers (`Display` / `FromStr` round-trip it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor(pub(crate) CursorKind);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CursorKind {
    /// Newest-first: hits strictly older than this `(ts, room_hash, seq)`.
    Newest { ts: u64, room_hash: u64, seq: u64 },
    /// Relevance: skip this many hits.
    Relevance { offset: u32 },
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            CursorKind::Newest { ts, room_hash, seq } => write!(f, "n{ts:x}.{room_hash:x}.{seq:x}"),
            CursorKind::Relevance { offset } => write!(f, "r{offset:x}"),
        }
    }
}

impl FromStr for Cursor {
    type Err = QueryError;
    fn from_str(s: &str) -> Result<Cursor, QueryError> {
        let hex = |p: &str| u64::from_str_radix(p, 16).map_err(|_| QueryError::BadCursor);
        if let Some(rest) = s.strip_prefix('n') {
            let mut parts = rest.split('.');
            let (Some(ts), Some(rh), Some(seq), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
                return Err(QueryError::BadCursor);
            };
            Ok(Cursor(CursorKind::Newest { ts: hex(ts)?, room_hash: hex(rh)?, seq: hex(seq)? }))
        } else if let Some(rest) = s.strip_prefix('r') {
            let offset = u32::try_from(hex(rest)?).map_err(|_| QueryError::BadCursor)?;
            if offset > MAX_RELEVANCE_OFFSET {
                return Err(QueryError::BadCursor);
            }
            Ok(Cursor(CursorKind::Relevance { offset }))
        } else {
            Err(QueryError::BadCursor)
        }
    }
}

/// One search: words and phrases, filters, order, page, and the caller's readable rooms.
///
/// ```
/// use chat_search::{ReadableRooms, SearchQuery};
/// let rooms = ReadableRooms::new(["group:lobby".parse().unwrap()]);
/// let q = SearchQuery::parse(r#"deploy "release notes" from:@alice in:#lobby after:2026-11-30"#, rooms)
///     .unwrap();
/// assert_eq!(q.terms().len(), 2);
/// assert_eq!(q.sender().unwrap().as_str(), "alice");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    terms: Vec<SearchTerm>,
    from: Option<UserName>,
    room: Option<RoomKey>,
    /// Hits have `ts < before`.
    before: Option<u64>,
    /// Hits have `ts > after`.
    after: Option<u64>,
    /// Hits carry each of these kinds of file.
    has: BTreeSet<Has>,
    order: Order,
    limit: u32,
    cursor: Option<Cursor>,
    readable: ReadableRooms,
}

impl SearchQuery {
    /// A query with no words or filters yet (add them with the `with_*` methods, e.g. from REST
    /// parameters), newest first, [`DEFAULT_LIMIT`] hits.
    pub fn new(readable: ReadableRooms) -> SearchQuery {
        SearchQuery {
            terms: Vec::new(),
            from: None,
            room: None,
            before: None,
            after: None,
            has: BTreeSet::new(),
            order: Order::Newest,
            limit: DEFAULT_LIMIT,
            cursor: None,
            readable,
        }
    }

    /// Parses the query text (grammar in the [module docs](self)). Fails on an empty query,
    /// more than [`MAX_QUERY_BYTES`] or [`MAX_QUERY_TERMS`], an unclosed quote, or a filter with
    /// an invalid value.
    pub fn parse(text: &str, readable: ReadableRooms) -> Result<SearchQuery, QueryError> {
        if text.len() > MAX_QUERY_BYTES {
            return Err(QueryError::TooLong);
        }
        let mut q = SearchQuery::new(readable);
        let mut rest = text.trim_start();
        while !rest.is_empty() {
            if let Some(after_quote) = rest.strip_prefix('"') {
                let end = after_quote.find('"').ok_or(QueryError::UnclosedQuote)?;
                q.push_term(SearchTerm::Phrase(after_quote[..end].to_owned()))?;
                rest = &after_quote[end + 1..];
            } else {
                let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                let item = &rest[..end];
                if !q.filter(item)? {
                    q.push_term(SearchTerm::Word(item.to_owned()))?;
                }
                rest = &rest[end..];
            }
            rest = rest.trim_start();
        }
        if q.is_empty() {
            return Err(QueryError::Empty);
        }
        Ok(q)
    }

    fn push_term(&mut self, term: SearchTerm) -> Result<(), QueryError> {
        let text = match &term {
            SearchTerm::Word(t) | SearchTerm::Phrase(t) => t,
        };
        if text.trim().is_empty() {
            return Ok(());
        }
        if self.terms.len() == MAX_QUERY_TERMS {
            return Err(QueryError::TooManyTerms);
        }
        self.terms.push(term);
        Ok(())
    }

    /// Applies `item` if it is a filter; `false` if it is a word.
    fn filter(&mut self, item: &str) -> Result<bool, QueryError> {
        let Some((name, value)) = item.split_once(':') else { return Ok(false) };
        if value.is_empty() {
            return Ok(false);
        }
        match name.to_ascii_lowercase().as_str() {
            "from" => {
                let user = UserName::new(value.strip_prefix('@').unwrap_or(value)).map_err(|_| QueryError::BadUser)?;
                self.from = Some(user);
            }
            "in" => self.room = Some(parse_room(value.strip_prefix('#').unwrap_or(value))?),
            "has" => {
                self.has.insert(value.parse().map_err(|()| QueryError::BadHas)?);
            }
            "before" => self.before = Some(parse_date(value)?),
            "after" => {
                let start = parse_date(value)?;
                // after:DAY means from the next day on; after:MS means later than MS.
                self.after = Some(if is_day(value) { start + DAY_MS - 1 } else { start });
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Only messages sent by `user`.
    pub fn with_sender(mut self, user: UserName) -> SearchQuery {
        self.from = Some(user);
        self
    }

    /// Only messages in `room` (hits still need `room` to be readable).
    pub fn with_room(mut self, room: RoomKey) -> SearchQuery {
        self.room = Some(room);
        self
    }

    /// Only messages sent before `time` (exclusive).
    pub fn with_before(mut self, time: Timestamp) -> SearchQuery {
        self.before = Some(time.0);
        self
    }

    /// Only messages sent after `time` (exclusive).
    pub fn with_after(mut self, time: Timestamp) -> SearchQuery {
        self.after = Some(time.0);
        self
    }

    /// Only messages that carry this kind of file (several calls: each must hold).
    pub fn with_has(mut self, kind: Has) -> SearchQuery {
        self.has.insert(kind);
        self
    }

    /// The order of hits.
    pub fn with_order(mut self, order: Order) -> SearchQuery {
        self.order = order;
        self
    }

    /// At most `limit` hits (clamped to [`MAX_LIMIT`]); 0 is refused.
    pub fn with_limit(mut self, limit: u32) -> Result<SearchQuery, QueryError> {
        if limit == 0 {
            return Err(QueryError::BadLimit);
        }
        self.limit = limit.min(MAX_LIMIT);
        Ok(self)
    }

    /// Continues after the page that returned `cursor` ([`SearchPage::next`](crate::SearchPage)).
    pub fn with_cursor(mut self, cursor: &str) -> Result<SearchQuery, QueryError> {
        self.cursor = Some(cursor.parse()?);
        Ok(self)
    }

    /// Whether it has neither words nor filters (such a query is refused by `parse`).
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
            && self.from.is_none()
            && self.room.is_none()
            && self.before.is_none()
            && self.after.is_none()
            && self.has.is_empty()
    }

    /// The words and phrases.
    pub fn terms(&self) -> &[SearchTerm] {
        &self.terms
    }

    /// `from:`.
    pub fn sender(&self) -> Option<&UserName> {
        self.from.as_ref()
    }

    /// `in:`.
    pub fn room(&self) -> Option<&RoomKey> {
        self.room.as_ref()
    }

    /// `before:` as an exclusive bound, ms.
    pub fn before(&self) -> Option<u64> {
        self.before
    }

    /// `after:` as an exclusive bound, ms.
    pub fn after(&self) -> Option<u64> {
        self.after
    }

    /// `has:`, each of which must hold.
    pub fn has(&self) -> impl ExactSizeIterator<Item = Has> + '_ {
        self.has.iter().copied()
    }

    /// The order.
    pub fn order(&self) -> Order {
        self.order
    }

    /// The page size.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    pub(crate) fn cursor(&self) -> Option<Cursor> {
        self.cursor
    }

    /// The rooms the caller may read.
    pub fn readable(&self) -> &ReadableRooms {
        &self.readable
    }
}

fn parse_room(value: &str) -> Result<RoomKey, QueryError> {
    if value.starts_with("group:") || value.starts_with("dm:") {
        value.parse().map_err(|_| QueryError::BadRoom)
    } else {
        RoomName::new(value).map(RoomKey::Group).map_err(|_| QueryError::BadRoom)
    }
}

/// A `before:` bound (`YYYY-MM-DD`: the start of that UTC day; or ms) as exclusive ms, the way
/// the query text reads it: for parameters given apart from the text (REST).
pub fn before_bound(value: &str) -> Result<u64, QueryError> {
    parse_date(value)
}

/// An `after:` bound (`YYYY-MM-DD`: from the next UTC day on; or ms) as exclusive ms, the way
/// the query text reads it.
pub fn after_bound(value: &str) -> Result<u64, QueryError> {
    let start = parse_date(value)?;
    Ok(if is_day(value) { start + DAY_MS - 1 } else { start })
}

fn is_day(value: &str) -> bool {
    value.contains('-')
}

/// `YYYY-MM-DD` (start of that UTC day) or milliseconds since the epoch.
fn parse_date(value: &str) -> Result<u64, QueryError> {
    if !is_day(value) {
        return value.parse().map_err(|_| QueryError::BadDate);
    }
    let mut parts = value.splitn(3, '-');
    let mut num = |len: usize| {
        let p = parts.next().filter(|p| p.len() == len && p.bytes().all(|b| b.is_ascii_digit()));
        p.and_then(|p| p.parse::<i64>().ok()).ok_or(QueryError::BadDate)
    };
    let (y, m, d) = (num(4)?, num(2)?, num(2)?);
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) || y < 1970 {
        return Err(QueryError::BadDate);
    }
    let days = days_from_civil(y, m, d);
    u64::try_from(days).map(|days| days * DAY_MS).map_err(|_| QueryError::BadDate)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-01"), Ok(0));
        assert_eq!(parse_date("2000-03-01"), Ok(951_868_800_000));
        assert_eq!(parse_date("2024-02-29"), Ok(1_709_164_800_000));
        assert_eq!(parse_date("2023-02-29"), Err(QueryError::BadDate));
        assert_eq!(parse_date("2023-13-01"), Err(QueryError::BadDate));
        assert_eq!(parse_date("12345"), Ok(12_345));
        assert_eq!(parse_date("yesterday"), Err(QueryError::BadDate));
    }

    #[test]
    fn cursors_round_trip() {
        for c in [
            Cursor(CursorKind::Newest { ts: 1, room_hash: u64::MAX, seq: 77 }),
            Cursor(CursorKind::Relevance { offset: 40 }),
        ] {
            assert_eq!(c.to_string().parse::<Cursor>(), Ok(c));
        }
        for bad in ["", "x", "n1.2", "n1.2.3.4", "nzz.1.1", "r99999", "r"] {
            assert_eq!(bad.parse::<Cursor>(), Err(QueryError::BadCursor), "{bad}");
        }
    }
}
