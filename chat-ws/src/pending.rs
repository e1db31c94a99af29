//! What the hub owes later: REST replies ([`Requests`]) and history reads ([`Loads`]).

use std::collections::HashMap;

use chat_core::{HistoryQuery, LoadError, LoadId, Message, RequestId, ServerMsg};
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use tokio::sync::oneshot;

use crate::hub::HubError;
use crate::journal::JournalThread;

/// Where the answer to a REST request goes.
pub(crate) type ReplyTo = oneshot::Sender<Result<ServerMsg, HubError>>;

/// REST requests waiting for their `Output::Reply`. Ids are never reused.
#[derive(Default)]
pub(crate) struct Requests {
    waiting: HashMap<RequestId, ReplyTo>,
    next: u64,
}

impl Requests {
    /// Remembers `reply` under a new id, for `Input::Request`.
    pub(crate) fn insert(&mut self, reply: ReplyTo) -> RequestId {
        self.next += 1;
        let request = RequestId(self.next);
        self.waiting.insert(request, reply);
        request
    }

    pub(crate) fn answer(&mut self, request: RequestId, msg: ServerMsg) {
        if let Some(reply) = self.waiting.remove(&request) {
            let _ = reply.send(Ok(msg));
        }
    }

    /// Fails every waiting request (commit failure, shutdown).
    pub(crate) fn fail_all(&mut self, error: &HubError) {
        for (_, reply) in self.waiting.drain() {
            let _ = reply.send(Err(error.clone()));
        }
    }
}

/// A finished history read: the core generation it was started by, and its answer.
pub(crate) type Loaded = (u64, LoadId, Result<Vec<Message>, LoadError>);

/// History reads in flight on the journal thread. Invariant: at most `max_in_flight`; a read
/// started by an older core (before a restore) is recognised by its epoch and dropped, since
/// load ids restart with the new core.
pub(crate) struct Loads {
    in_flight: FuturesUnordered<BoxFuture<'static, Loaded>>,
    max_in_flight: usize,
    epoch: u64,
}

impl Loads {
    pub(crate) fn new(max_in_flight: usize) -> Loads {
        Loads { in_flight: FuturesUnordered::new(), max_in_flight: max_in_flight.max(1), epoch: 0 }
    }

    /// Starts a read, or answers `LoadError::Busy` at once when too many are in flight.
    pub(crate) fn start(&mut self, load: LoadId, query: HistoryQuery, journal: &JournalThread) {
        let epoch = self.epoch;
        if self.in_flight.len() >= self.max_in_flight {
            self.in_flight.push(futures::future::ready((epoch, load, Err(LoadError::Busy))).boxed());
            return;
        }
        let rx = journal.history(query);
        self.in_flight.push(
            async move {
                let result = rx.await.unwrap_or(Err(LoadError::Stopped));
                (epoch, load, result)
            }
            .boxed(),
        );
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.in_flight.is_empty()
    }

    /// The next finished read (pending while none is; never call it when empty).
    pub(crate) async fn next(&mut self) -> Option<Loaded> {
        self.in_flight.next().await
    }

    /// A finished read, if one is ready now.
    pub(crate) fn ready(&mut self) -> Option<Loaded> {
        self.in_flight.next().now_or_never().flatten()
    }

    /// Whether a finished read belongs to the current core.
    pub(crate) fn is_current(&self, epoch: u64) -> bool {
        epoch == self.epoch
    }

    /// The core was replaced: reads in flight will be dropped when they return.
    pub(crate) fn restart(&mut self) {
        self.epoch += 1;
    }
}
