//! The search seam: how the hub feeds a full-text index and asks it [`Output::Search`]es.
//!
//! The hub knows no index. A server that has one (chat-server with `chat-search`) implements
//! [`SearchIndex`] and puts it in [`HubConfig::search`](crate::HubConfig::search). The hub then
//! calls [`SearchIndex::committed`] with every batch after its group commit succeeded (never
//! for a failed one: nothing of it was acknowledged) and runs each search as a future polled
//! beside the loop, feeding its answer back as [`Input::Searched`](chat_core::Input::Searched).
//! Without an index every search is answered [`SearchFailure::Unavailable`]
//! (`search_unavailable`).
//!
//! [`Output::Search`]: chat_core::Output::Search

use std::sync::Arc;

use chat_core::{LoadId, LogEntry, RoomKey, SearchFailure, SearchRequest, SearchResults, UserName};
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};

/// A full-text index the hub drives.
pub trait SearchIndex: Send + Sync + 'static {
    /// The entries of one batch, after its commit returned `Ok`. Called on the hub's loop: it
    /// must not block (queue the work; a full queue must not lose entries silently).
    fn committed(&self, entries: &[LogEntry]);

    /// Runs a search over `rooms` (authorised by the core: return no hit outside them). The
    /// future runs off the hub's loop (do blocking work on a blocking thread) and should not
    /// take long: the caller waits for it.
    fn search(
        &self,
        user: &UserName,
        rooms: Vec<RoomKey>,
        query: SearchRequest,
    ) -> BoxFuture<'static, Result<SearchResults, SearchFailure>>;
}

/// A shared [`SearchIndex`], for [`HubConfig::search`](crate::HubConfig::search).
#[derive(Clone)]
pub struct SearchSeam(Arc<dyn SearchIndex>);

impl SearchSeam {
    /// Wraps an index.
    pub fn new(index: impl SearchIndex) -> SearchSeam {
        SearchSeam(Arc::new(index))
    }
}

impl std::fmt::Debug for SearchSeam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SearchSeam")
    }
}

/// A finished search: the core generation that asked, and its answer.
pub(crate) type Searched = (u64, LoadId, Result<SearchResults, SearchFailure>);

/// Searches in flight. Invariant: at most `max_in_flight` run at once (more are answered
/// `Unavailable` at once; the core already bounds each user); an answer for an older core
/// (before a restore) is recognised by its epoch and dropped, since load ids restart.
pub(crate) struct Searches {
    seam: Option<SearchSeam>,
    in_flight: FuturesUnordered<BoxFuture<'static, Searched>>,
    max_in_flight: usize,
    epoch: u64,
}

impl Searches {
    pub(crate) fn new(seam: Option<SearchSeam>, max_in_flight: usize) -> Searches {
        Searches { seam, in_flight: FuturesUnordered::new(), max_in_flight: max_in_flight.max(1), epoch: 0 }
    }

    /// Whether an index is configured (the hub copies a batch for it only then).
    pub(crate) fn indexes(&self) -> bool {
        self.seam.is_some()
    }

    /// Feeds a committed batch to the index.
    pub(crate) fn committed(&self, entries: &[LogEntry]) {
        if let Some(seam) = &self.seam {
            seam.0.committed(entries);
        }
    }

    /// Starts a search, or answers it at once (no index, or too many in flight).
    pub(crate) fn start(&mut self, load: LoadId, user: &UserName, rooms: Vec<RoomKey>, query: SearchRequest) {
        let epoch = self.epoch;
        let answer = match &self.seam {
            Some(seam) if self.in_flight.len() < self.max_in_flight => seam.0.search(user, rooms, query),
            _ => futures::future::ready(Err(SearchFailure::Unavailable)).boxed(),
        };
        self.in_flight.push(answer.map(move |result| (epoch, load, result)).boxed());
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.in_flight.is_empty()
    }

    /// The next finished search (pending while none is; never call it when empty).
    pub(crate) async fn next(&mut self) -> Option<Searched> {
        self.in_flight.next().await
    }

    /// A finished search, if one is ready now.
    pub(crate) fn ready(&mut self) -> Option<Searched> {
        self.in_flight.next().now_or_never().flatten()
    }

    /// Whether a finished search belongs to the current core.
    pub(crate) fn is_current(&self, epoch: u64) -> bool {
        epoch == self.epoch
    }

    /// The core was replaced: searches in flight are dropped when they return.
    pub(crate) fn restart(&mut self) {
        self.epoch += 1;
    }
}
