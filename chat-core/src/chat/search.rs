//! Full-text search: the `search` frame, authorised here, run by the driver's index, checked
//! here again.
//!
//! The core owns the rule "a search sees the rooms the caller is a member of *now*": it checks
//! the frame's bounds, computes that set (member rooms; a DM is only ever its own pair's) and
//! asks the driver with [`Output::Search`](crate::Output::Search). The driver runs the query off its loop (an index
//! such as `chat-search`, or an error when it has none) and answers [`Input::Searched`](crate::Input::Searched). When
//! the answer arrives the core checks every hit's room against the caller's membership *at that
//! moment* (they may have left, or been removed from a private room, while the query ran), drops
//! the rest and every hit of a message deleted by then (the index learns of a deletion only
//! after its commit), then answers `search_results`. The index itself only filters; it never
//! decides. The types here are plain data so that `chat-core` does not depend on any index.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Answer, Caller, Chat, Handled, LoadId, Output, Refusal};
use crate::error::ErrorCode;
use crate::hash::FxHashMap;
use crate::name::UserName;
use crate::protocol::ServerMsg;
use crate::room::{RoomKey, RoomRef};
use crate::time::Timestamp;

/// The longest `query` text of a `search` frame, in bytes.
pub const MAX_SEARCH_QUERY_BYTES: usize = 512;
/// The most hits on one `search_results` page.
pub const MAX_SEARCH_LIMIT: u32 = 50;
/// The page size when a `search` gives none.
pub const DEFAULT_SEARCH_LIMIT: u32 = 20;
/// The longest `cursor` of a `search` frame, in bytes.
pub const MAX_SEARCH_CURSOR_BYTES: usize = 128;

/// The order of search hits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SearchOrder {
    /// Newest first (the default).
    #[default]
    Newest,
    /// Best match first; ties newest first.
    Relevance,
}

/// The `search` frame ([`ClientMsg::Search`](crate::ClientMsg::Search)): a query text and
/// optional filters. Answered by `search_results`, or an error (`invalid_request`,
/// `invalid_query`, `not_a_member`, `too_many_searches`, `search_unavailable`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchFrame {
    /// The query text: words, `"phrases"`, `from:user`, `in:room`, `before:`/`after:` dates
    /// (the index's grammar, docs/search.md). At most [`MAX_SEARCH_QUERY_BYTES`]; may be empty
    /// when a filter below is given.
    #[serde(default)]
    pub query: String,
    /// Only this room (a room key); the caller must be a member of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// Only messages of this sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Only messages sent before this time (ms since the epoch, exclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<u64>,
    /// Only messages sent after this time (ms since the epoch, exclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<u64>,
    /// At most this many hits (1–50, default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// The `next` of the previous page, to continue it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// `newest` (default) or `relevance`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<SearchOrder>,
}

/// A search the core has checked, for the driver's index ([`Output::Search`](crate::Output::Search)). The rooms to
/// search travel beside it; the index must not return hits outside them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchRequest {
    /// The query text (at most [`MAX_SEARCH_QUERY_BYTES`]; empty when only filters are given).
    pub text: String,
    /// Only messages of this sender.
    pub from: Option<UserName>,
    /// Only messages sent before this time (exclusive).
    pub before: Option<Timestamp>,
    /// Only messages sent after this time (exclusive).
    pub after: Option<Timestamp>,
    /// At most this many hits (1–[`MAX_SEARCH_LIMIT`]).
    pub limit: u32,
    /// Where to continue (opaque, from the index's previous page).
    pub cursor: Option<String>,
    /// The order.
    pub order: SearchOrder,
}

/// One hit of a `search_results` page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchItem {
    /// The room key.
    pub room: RoomKey,
    /// The message.
    pub seq: u64,
    /// Who sent it.
    pub sender: UserName,
    /// When.
    pub timestamp: Timestamp,
    /// Plain text around the best match (never HTML: set it as text).
    pub snippet: String,
    /// The matched words in `snippet` as `[start, end)` offsets in UTF-16 code units (what a
    /// JavaScript string indexes), ascending and disjoint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub highlights: Vec<[u32; 2]>,
    /// The message text goes on before the snippet (show an ellipsis).
    #[serde(default)]
    pub cut_before: bool,
    /// The message text goes on after the snippet.
    #[serde(default)]
    pub cut_after: bool,
}

/// A page of search hits: the driver's answer ([`Input::Searched`](crate::Input::Searched)) and, checked, the
/// `search_results` frame ([`ServerMsg::SearchResults`](crate::ServerMsg::SearchResults)).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResults {
    /// Hits, in the requested order.
    pub items: Vec<SearchItem>,
    /// Present when more hits may follow: pass it as `cursor` to get the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// The index is catching up (a rebuild, an overflow): recent messages may be missing.
    #[serde(default)]
    pub stale: bool,
}

/// Why the driver could not answer an [`Output::Search`](crate::Output::Search).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SearchFailure {
    /// The index refused the query (its text or cursor); the message says why, for people.
    /// Answered `invalid_query`.
    #[error("{0}")]
    Query(String),
    /// The driver has no search index. Answered `search_unavailable`.
    #[error("search is not available on this server")]
    Unavailable,
    /// The index failed (the source says why). Answered `search_unavailable`.
    #[error("the search index failed")]
    Index(#[source] Arc<dyn std::error::Error + Send + Sync>),
}

impl SearchFailure {
    /// An index error, kept as the source.
    pub fn index(error: impl std::error::Error + Send + Sync + 'static) -> SearchFailure {
        SearchFailure::Index(Arc::new(error))
    }
}

/// Equal when of the same kind and message (errors have no equality of their own; inputs
/// compare in tests and replays).
impl PartialEq for SearchFailure {
    fn eq(&self, other: &SearchFailure) -> bool {
        match (self, other) {
            (SearchFailure::Query(a), SearchFailure::Query(b)) => a == b,
            (SearchFailure::Unavailable, SearchFailure::Unavailable) => true,
            (SearchFailure::Index(a), SearchFailure::Index(b)) => Arc::ptr_eq(a, b) || a.to_string() == b.to_string(),
            _ => false,
        }
    }
}

impl Eq for SearchFailure {}

/// A search waiting for its answer.
#[derive(Debug, Clone)]
pub(crate) struct PendingSearch {
    caller: Caller,
    user: UserName,
    /// The `room` filter, if any: hits elsewhere are dropped too.
    only: Option<RoomKey>,
    limit: u32,
}

/// Searches in flight, and how many per user (bounded by `Config::max_searches_per_user`).
#[derive(Debug, Default)]
pub(crate) struct Searches {
    pending: FxHashMap<LoadId, PendingSearch>,
    per_user: FxHashMap<UserName, u32>,
}

impl Searches {
    fn in_flight(&self, user: &UserName) -> u32 {
        self.per_user.get(user).copied().unwrap_or(0)
    }

    fn start(&mut self, load: LoadId, pending: PendingSearch) {
        *self.per_user.entry(pending.user.clone()).or_insert(0) += 1;
        self.pending.insert(load, pending);
    }

    fn finish(&mut self, load: LoadId) -> Option<PendingSearch> {
        let pending = self.pending.remove(&load)?;
        if let Some(n) = self.per_user.get_mut(&pending.user) {
            *n -= 1;
            if *n == 0 {
                self.per_user.remove(&pending.user);
            }
        }
        Some(pending)
    }
}

impl Chat {
    pub(super) fn search(&mut self, caller: Caller, user: &UserName, frame: crate::SearchFrame) -> Handled {
        let invalid = |message: &str| Err(Refusal::new(ErrorCode::InvalidRequest, message));
        if frame.query.len() > MAX_SEARCH_QUERY_BYTES {
            return invalid("query is longer than 512 bytes");
        }
        if frame.cursor.as_ref().is_some_and(|c| c.len() > MAX_SEARCH_CURSOR_BYTES) {
            return invalid("cursor is longer than 128 bytes");
        }
        let limit = frame.limit.unwrap_or(DEFAULT_SEARCH_LIMIT);
        if limit == 0 || limit > MAX_SEARCH_LIMIT {
            return invalid("limit must be 1-50");
        }
        let from = match frame.from.as_deref().map(|f| f.strip_prefix('@').unwrap_or(f).parse::<UserName>()) {
            Some(Err(_)) => return Err(Refusal::new(ErrorCode::InvalidUsername, "'from' is not a user name")),
            other => other.and_then(Result::ok),
        };
        let blank = frame.query.trim().is_empty();
        if blank && from.is_none() && frame.room.is_none() && frame.before.is_none() && frame.after.is_none() {
            return Err(Refusal::new(ErrorCode::InvalidQuery, "empty search"));
        }
        let only = match frame.room {
            Some(room) => Some(self.member_room(user, &RoomRef { room: Some(room), ..RoomRef::default() })?),
            None => None,
        };
        if self.searches.in_flight(user) >= self.config.max_searches_per_user {
            return Err(Refusal::new(ErrorCode::TooManySearches, "too many searches in flight; wait for an answer"));
        }
        // Readable now: the rooms the caller is a member of (a DM only by its own pair).
        let rooms: Vec<RoomKey> = match &only {
            Some(room) => vec![room.clone()],
            None => self.state.users.get(user).map(|u| u.rooms().cloned().collect()).unwrap_or_default(),
        };
        let query = SearchRequest {
            text: frame.query,
            from,
            before: frame.before.map(Timestamp),
            after: frame.after.map(Timestamp),
            limit,
            cursor: frame.cursor,
            order: frame.order.unwrap_or_default(),
        };
        let load = self.loads.mint();
        self.searches.start(load, PendingSearch { caller, user: user.clone(), only, limit });
        self.outputs.push_back(Output::Search { load, user: user.clone(), rooms, query: Box::new(query) });
        Ok(Answer::Pending)
    }

    pub(super) fn searched(&mut self, load: LoadId, result: Result<SearchResults, SearchFailure>) {
        let Some(pending) = self.searches.finish(load) else { return };
        if let Caller::Session(session) = pending.caller
            && !self.sessions.contains_key(&session)
        {
            return;
        }
        let mut results = match result {
            Ok(results) => results,
            Err(e) => {
                let code = match e {
                    SearchFailure::Query(_) => ErrorCode::InvalidQuery,
                    _ => ErrorCode::SearchUnavailable,
                };
                self.reply(pending.caller, Refusal::new(code, e.to_string()).into_msg());
                return;
            }
        };
        // Membership may have ended while the query ran, and a message may have been deleted
        // (the index learns of a deletion after its commit, or lags behind): the index is never
        // trusted with either, so a deleted message's text is never shown again.
        results.items.retain(|item| {
            pending.only.as_ref().is_none_or(|only| *only == item.room)
                && self.state.is_member(&pending.user, &item.room)
                && !self.state.is_deleted(&item.room, item.seq)
        });
        results.items.truncate(pending.limit as usize);
        self.reply(pending.caller, ServerMsg::SearchResults(results));
    }
}
