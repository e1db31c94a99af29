//! The core's side of a search: a [`chat_core::SearchRequest`] (from `Output::Search`) as a
//! [`SearchQuery`], and a [`SearchPage`] as the [`chat_core::SearchResults`] a driver answers
//! `Input::Searched` with.

use chat_core::{RoomKey, SearchFailure, SearchItem, SearchOrder, SearchRequest, SearchResults};

use crate::error::{QueryError, SearchError};
use crate::query::{Order, ReadableRooms, SearchQuery};
use crate::search::{SearchPage, SearchReader};

impl SearchQuery {
    /// The query the core's `request` asks for, over `rooms` (the core's authorised set): the
    /// text parsed with [`SearchQuery::parse`] (none when blank), then the request's `from`,
    /// `before`, `after`, order, limit and cursor.
    pub fn from_request(request: &SearchRequest, rooms: Vec<RoomKey>) -> Result<SearchQuery, QueryError> {
        let readable = ReadableRooms::new(rooms);
        let mut query = match request.text.trim().is_empty() {
            true => SearchQuery::new(readable),
            false => SearchQuery::parse(&request.text, readable)?,
        };
        if let Some(from) = &request.from {
            query = query.with_sender(from.clone());
        }
        if let Some(before) = request.before {
            query = query.with_before(before);
        }
        if let Some(after) = request.after {
            query = query.with_after(after);
        }
        let order = match request.order {
            SearchOrder::Relevance => Order::Relevance,
            _ => Order::Newest,
        };
        query = query.with_order(order).with_limit(request.limit)?;
        if let Some(cursor) = &request.cursor {
            query = query.with_cursor(cursor)?;
        }
        if query.is_empty() {
            return Err(QueryError::Empty);
        }
        Ok(query)
    }
}

impl SearchPage {
    /// The page as the core's `search_results` (highlights in UTF-16 code units).
    pub fn into_results(self) -> SearchResults {
        let items = self
            .hits
            .into_iter()
            .map(|hit| {
                let highlights = hit.snippet.utf16_highlights().into_iter().map(|r| [r.start as u32, r.end as u32]);
                SearchItem {
                    room: hit.room,
                    seq: hit.seq,
                    sender: hit.sender,
                    timestamp: hit.timestamp,
                    highlights: highlights.collect(),
                    cut_before: hit.snippet.cut_before,
                    cut_after: hit.snippet.cut_after,
                    snippet: hit.snippet.text,
                }
            })
            .collect();
        SearchResults { items, next: self.next, stale: self.stale }
    }
}

impl SearchReader {
    /// Answers an `Output::Search` on this thread (it blocks: run it on a blocking thread):
    /// [`SearchQuery::from_request`], [`SearchReader::query`], [`SearchPage::into_results`],
    /// with the caller's mistakes as [`SearchFailure::Query`] and index failures as
    /// [`SearchFailure::Index`].
    pub fn answer(&self, request: &SearchRequest, rooms: Vec<RoomKey>) -> Result<SearchResults, SearchFailure> {
        let query = SearchQuery::from_request(request, rooms).map_err(|e| SearchFailure::Query(e.to_string()))?;
        match self.query(&query) {
            Ok(page) => Ok(page.into_results()),
            Err(SearchError::Query(e)) => Err(SearchFailure::Query(e.to_string())),
            Err(e) => Err(SearchFailure::index(e)),
        }
    }
}
