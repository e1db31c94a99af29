//! The attachment seam: the hub answers the core's [`Output::ResolveAttachments`] with an
//! [`AttachmentResolver`] the server gives it (`HubConfig::attachments`), off its loop. Without
//! one, every resolution fails with [`ResolveError::Unavailable`] (`attachments_unavailable`).
//!
//! [`Output::ResolveAttachments`]: chat_core::Output::ResolveAttachments

use std::sync::Arc;

use chat_core::attachment::{Attachment, AttachmentId, ResolveError};
use chat_core::{LoadId, Timestamp, UserName};
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};

/// Resolves the attachment ids of a `send_message`: each must be a file `user` uploaded. The
/// implementation must also keep those files from garbage collection until a message that
/// references them can have been committed (chat-server touches them in its store at `now`).
pub trait AttachmentResolver: Send + Sync + 'static {
    /// One attachment per id, in order, or [`ResolveError::NotFound`] if any id is not
    /// `user`'s.
    fn resolve(
        &self,
        now: Timestamp,
        user: UserName,
        ids: Vec<AttachmentId>,
    ) -> BoxFuture<'static, Result<Vec<Attachment>, ResolveError>>;
}

/// The resolver of a hub, if any (a newtype so `HubConfig` stays `Debug` and `Clone`).
#[derive(Clone, Default)]
pub struct Resolver(pub Option<Arc<dyn AttachmentResolver>>);

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Resolver(Some(..))" } else { "Resolver(None)" })
    }
}

/// A finished resolution: the core generation that asked, and the answer.
pub(crate) type Resolved = (u64, LoadId, Result<Vec<Attachment>, ResolveError>);

/// Resolutions in flight; like history reads, an answer for an older core (before a restore)
/// is recognised by its epoch and dropped.
#[derive(Default)]
pub(crate) struct Resolutions {
    in_flight: FuturesUnordered<BoxFuture<'static, Resolved>>,
    epoch: u64,
}

impl Resolutions {
    pub(crate) fn start(
        &mut self,
        resolver: &Resolver,
        now: Timestamp,
        load: LoadId,
        user: UserName,
        ids: Vec<AttachmentId>,
    ) {
        let epoch = self.epoch;
        let future = match &resolver.0 {
            Some(resolver) => resolver.resolve(now, user, ids),
            None => futures::future::ready(Err(ResolveError::Unavailable("this server stores no attachments".into())))
                .boxed(),
        };
        self.in_flight.push(future.map(move |result| (epoch, load, result)).boxed());
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.in_flight.is_empty()
    }

    /// The next finished resolution (pending while none is; never call it when empty).
    pub(crate) async fn next(&mut self) -> Option<Resolved> {
        self.in_flight.next().await
    }

    /// A finished resolution, if one is ready now.
    pub(crate) fn ready(&mut self) -> Option<Resolved> {
        self.in_flight.next().now_or_never().flatten()
    }

    pub(crate) fn is_current(&self, epoch: u64) -> bool {
        epoch == self.epoch
    }

    /// The core was replaced: answers in flight are dropped when they return.
    pub(crate) fn restart(&mut self) {
        self.epoch += 1;
    }
}
