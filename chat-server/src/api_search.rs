//! `GET /api/search`: the core's `search` request for the authenticated caller. The core
//! decides which rooms are searched and checks every hit again; this file only maps the query
//! string onto the frame.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use chat_core::{ClientMsg, ErrorCode, SearchFrame, SearchOrder, ServerMsg};
use serde::Deserialize;

use crate::accounts::Caller;
use crate::api::ask;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::state::App;

/// `GET /api/search` parameters.
#[derive(Deserialize)]
pub(crate) struct SearchParams {
    /// The query text (the grammar of docs/search.md).
    #[serde(default)]
    q: String,
    /// A room key.
    room: Option<String>,
    /// A user name (`@` allowed).
    from: Option<String>,
    /// `YYYY-MM-DD` (UTC) or ms since the epoch, exclusive.
    before: Option<String>,
    /// `YYYY-MM-DD` (from the next UTC day on) or ms since the epoch, exclusive.
    after: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
    /// `newest` (default) or `relevance`.
    order: Option<SearchOrder>,
    /// `attachment`, `image` or `file`: the query's `has:`.
    has: Option<String>,
}

/// `GET /api/search?q=&room=&from=&before=&after=&has=&limit=&cursor=&order=` → `search_results`.
pub(crate) async fn search(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiQuery(p): ApiQuery<SearchParams>,
) -> Result<Json<ServerMsg>, ApiError> {
    let bound = |value: Option<String>, parse: fn(&str) -> Result<u64, chat_search::QueryError>, name: &str| {
        value
            .map(|v| parse(&v))
            .transpose()
            .map_err(|_| ApiError::from_core(ErrorCode::InvalidQuery, format!("'{name}' is not YYYY-MM-DD or ms")))
    };
    let mut query = p.q;
    if let Some(has) = p.has {
        let kind: chat_search::Has = has
            .parse()
            .map_err(|()| ApiError::from_core(ErrorCode::InvalidQuery, "'has' is attachment, image or file".into()))?;
        // The same filter as `has:` in the text (which counts towards the text's limit).
        query = match query.trim().is_empty() {
            true => format!("has:{}", kind.as_str()),
            false => format!("{query} has:{}", kind.as_str()),
        };
    }
    let frame = SearchFrame {
        query,
        room: p.room,
        from: p.from,
        before: bound(p.before, chat_search::query::before_bound, "before")?,
        after: bound(p.after, chat_search::query::after_bound, "after")?,
        limit: p.limit,
        cursor: p.cursor,
        order: p.order,
    };
    ask(&app, &caller.user, ClientMsg::Search(frame)).await
}
