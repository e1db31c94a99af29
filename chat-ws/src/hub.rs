//! The hub: one task that owns the [`Chat`], batches inputs, group-commits their log entries on
//! the journal thread, and then carries out the outputs (fan-out to session queues).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chat_core::{
    Chat, ClientMsg, Input, Journal, LoadError, LoadId, LogEntry, Message, Output, RequestId, ServerMsg, SessionId,
    Timestamp, UserName,
};
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::auth::{Identity, LoginId};
use crate::closers::Closers;
use crate::frame::{CloseNotice, OutFrame};
use crate::journal::JournalThread;
use crate::limits::{ConnLimits, HubConfig};
use crate::metrics::{HubMetrics, Metrics};
use crate::session::{CloseSignal, SessionLink};

/// Why a hub operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HubError {
    /// The hub has stopped (shut down, or its journal became unreadable).
    #[error("the hub has stopped")]
    Closed,
    /// The hub is shutting down and takes no new sessions or requests.
    #[error("the hub is shutting down")]
    ShuttingDown,
    /// The journal commit of this operation's batch failed; nothing of it was applied.
    #[error("journal commit failed; nothing was changed: {0}")]
    CommitFailed(String),
}

type Query = Box<dyn FnOnce(&Chat) + Send>;
type LoadFuture = BoxFuture<'static, (u64, LoadId, Result<Vec<Message>, LoadError>)>;

/// What handles and sessions send to the hub (through the bounded inbox).
pub(crate) enum Command {
    Connect { identity: Identity, reply: oneshot::Sender<Result<SessionLink, HubError>> },
    Receive { session: SessionId, msg: ClientMsg },
    Request { user: UserName, msg: ClientMsg, reply: oneshot::Sender<Result<ServerMsg, HubError>> },
    AddUser { user: UserName, reply: oneshot::Sender<Result<(), HubError>> },
    Query(Query),
    Shutdown { reply: oneshot::Sender<()> },
}

/// State shared between the hub task and its handles.
#[derive(Debug)]
struct Shared {
    metrics: Metrics,
    limits: ConnLimits,
    /// Close signals of live sessions, so `kick` and `close_login` need no queue.
    closers: Closers,
}

/// A cloneable handle to a running hub, for adapters (`serve_socket`), REST handlers and
/// embedders with their own transport.
#[derive(Debug, Clone)]
pub struct HubHandle {
    inbox: mpsc::Sender<Command>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Command::Connect { .. } => "Connect",
            Command::Receive { .. } => "Receive",
            Command::Request { .. } => "Request",
            Command::AddUser { .. } => "AddUser",
            Command::Query(_) => "Query",
            Command::Shutdown { .. } => "Shutdown",
        })
    }
}

/// Starts a hub on the current tokio runtime.
///
/// Reads `journal.snapshot()` on the calling thread (this is start-up), restores the [`Chat`]
/// from it, moves the journal to a dedicated thread (so commits and history reads never block
/// the async workers), and spawns the hub task. The task ends after [`HubHandle::shutdown`], or
/// when every handle and session is gone, or if the journal cannot be read after a failed
/// commit.
///
/// # Panics
/// Outside a tokio runtime, or if the OS cannot start the journal thread.
pub fn spawn_hub<J>(config: HubConfig, journal: J) -> Result<(HubHandle, JoinHandle<()>), J::Error>
where
    J: Journal + Send + 'static,
{
    let snapshot = journal.snapshot()?;
    let journal = JournalThread::spawn(journal).expect("failed to start the journal thread");
    let chat = Chat::restore(config.chat.clone(), snapshot);
    let (inbox_tx, inbox) = mpsc::channel(config.inbox_capacity.max(1));
    let (disconnects_tx, disconnects) = mpsc::unbounded_channel();
    let shared =
        Arc::new(Shared { metrics: Metrics::default(), limits: config.limits.clone(), closers: Closers::default() });
    let hub = Hub {
        chat,
        clock: Clock::start(),
        shared: shared.clone(),
        sessions: HashMap::new(),
        next_session: 1,
        next_request: 1,
        requests: HashMap::new(),
        journal,
        inbox,
        inbox_weak: inbox_tx.downgrade(),
        disconnects,
        disconnects_tx,
        loads: FuturesUnordered::new(),
        epoch: 0,
        shutdown_waiters: Vec::new(),
        stopping: false,
        config,
    };
    let task = tokio::spawn(hub.run());
    Ok((HubHandle { inbox: inbox_tx, shared }, task))
}

impl HubHandle {
    async fn call<T>(&self, cmd: Command, rx: oneshot::Receiver<Result<T, HubError>>) -> Result<T, HubError> {
        self.inbox.send(cmd).await.map_err(|_| HubError::Closed)?;
        rx.await.unwrap_or(Err(HubError::Closed))
    }

    /// Connects a new session of an authenticated `user` (the hub mints its id). Its first event
    /// is `connected`. Fails once shutdown has begun.
    pub async fn connect(&self, user: UserName) -> Result<SessionLink, HubError> {
        self.connect_as(Identity::user(user)).await
    }

    /// [`connect`](HubHandle::connect) for a user signed in with a login, so that
    /// [`close_login`](HubHandle::close_login) can end the session at logout.
    pub async fn connect_as(&self, identity: Identity) -> Result<SessionLink, HubError> {
        let (reply, rx) = oneshot::channel();
        self.call(Command::Connect { identity, reply }, rx).await
    }

    /// A sessionless request on behalf of `user` (the REST API): `Input::Request`, answered by
    /// its one reply after the batch it changed was committed.
    pub async fn request(&self, user: UserName, msg: ClientMsg) -> Result<ServerMsg, HubError> {
        let (reply, rx) = oneshot::channel();
        self.call(Command::Request { user, msg, reply }, rx).await
    }

    /// Makes `user` known (at registration); resolves after the `UserAdded` entry (if any) is
    /// committed.
    pub async fn add_user(&self, user: UserName) -> Result<(), HubError> {
        let (reply, rx) = oneshot::channel();
        self.call(Command::AddUser { user, reply }, rx).await
    }

    /// Runs `f` on the hub's `Chat` (read-only), after the current batch is committed, and
    /// returns its result. Keep `f` short: the hub waits for it.
    pub async fn query<R: Send + 'static>(&self, f: impl FnOnce(&Chat) -> R + Send + 'static) -> Result<R, HubError> {
        let (tx, rx) = oneshot::channel();
        let query: Query = Box::new(move |chat| {
            let _ = tx.send(f(chat));
        });
        self.inbox.send(Command::Query(query)).await.map_err(|_| HubError::Closed)?;
        rx.await.map_err(|_| HubError::Closed)
    }

    /// Ends one session (for example at logout): its connection is closed with 1000 and the
    /// core sees it disconnect. Does nothing if the session is gone.
    pub fn kick(&self, session: SessionId) {
        self.shared.closers.close(session, CloseNotice::KICKED);
    }

    /// Ends every live session connected with `login` (see [`Identity::login`]), for logout:
    /// each connection is closed with 1000 and the core sees it disconnect. Returns how many
    /// sessions were told to close. Revoke the login's token first, so no new socket can
    /// authenticate with it after this call.
    pub fn close_login(&self, login: &LoginId) -> usize {
        self.shared.closers.close_login(login, CloseNotice::KICKED)
    }

    /// Graceful shutdown: the hub stops taking new sessions and requests, commits what is in
    /// flight, closes every session with 1001 "going away", waits (up to
    /// `HubConfig::shutdown_grace`) for the connections to finish closing, stops the journal
    /// thread, and then this returns. Returns at once if the hub has already stopped.
    pub async fn shutdown(&self) {
        let (reply, rx) = oneshot::channel();
        if self.inbox.send(Command::Shutdown { reply }).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// The hub's counters.
    pub fn metrics(&self) -> HubMetrics {
        self.shared.metrics.snapshot()
    }

    /// The per-connection limits this hub was configured with.
    pub fn limits(&self) -> &ConnLimits {
        &self.shared.limits
    }

    pub(crate) fn count_frames_in(&self, n: u64) {
        Metrics::add(&self.shared.metrics.frames_in, n);
    }

    pub(crate) fn count_frames_out(&self, n: u64) {
        Metrics::add(&self.shared.metrics.frames_out, n);
    }
}

/// Wall-clock milliseconds derived from a monotonic clock, so time never jumps with the
/// system clock after start.
struct Clock {
    start: Instant,
    start_ms: u64,
}

impl Clock {
    fn start() -> Clock {
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Clock { start: Instant::now(), start_ms: u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX) }
    }

    fn now(&self) -> Timestamp {
        let elapsed = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        Timestamp(self.start_ms.saturating_add(elapsed))
    }

    fn instant_at(&self, at: Timestamp) -> Instant {
        self.start + Duration::from_millis(at.0.saturating_sub(self.start_ms))
    }
}

/// A session as the hub sees it.
struct Slot {
    tx: mpsc::Sender<Arc<OutFrame>>,
    close: Arc<CloseSignal>,
    /// Told to close: no more deliveries or inputs; removed when its link is dropped.
    closed: bool,
}

/// What one drain owes its callers once the commit succeeded.
#[derive(Default)]
struct Drain {
    adds: Vec<oneshot::Sender<Result<(), HubError>>>,
    queries: Vec<Query>,
}

struct Hub {
    chat: Chat,
    config: HubConfig,
    clock: Clock,
    shared: Arc<Shared>,
    sessions: HashMap<SessionId, Slot>,
    next_session: u64,
    next_request: u64,
    requests: HashMap<RequestId, oneshot::Sender<Result<ServerMsg, HubError>>>,
    journal: JournalThread,
    inbox: mpsc::Receiver<Command>,
    /// For new links; weak so the inbox closes when every handle and link is gone.
    inbox_weak: mpsc::WeakSender<Command>,
    disconnects: mpsc::UnboundedReceiver<SessionId>,
    disconnects_tx: mpsc::UnboundedSender<SessionId>,
    loads: FuturesUnordered<LoadFuture>,
    /// Bumped when the core is restored: loads of an older core are dropped.
    epoch: u64,
    shutdown_waiters: Vec<oneshot::Sender<()>>,
    stopping: bool,
}

impl Hub {
    async fn run(mut self) {
        let cap = self.config.max_batch.max(1);
        let mut batch: Vec<Command> = Vec::with_capacity(cap);
        let mut gone: Vec<SessionId> = Vec::new();
        let mut loaded = Vec::new();
        while !self.stopping {
            let deadline = self.chat.poll_timeout().map(|t| self.clock.instant_at(t));
            let far = || tokio::time::Instant::now() + Duration::from_secs(3600);
            let sleep_until = deadline.map_or_else(far, tokio::time::Instant::from_std);
            tokio::select! {
                biased;
                n = self.inbox.recv_many(&mut batch, cap) => {
                    if n == 0 {
                        // Every handle and session is gone.
                        self.stopping = true;
                    }
                }
                Some(id) = self.disconnects.recv() => gone.push(id),
                Some(l) = self.loads.next(), if !self.loads.is_empty() => loaded.push(l),
                () = tokio::time::sleep_until(sleep_until), if deadline.is_some() => {}
            }
            // Take everything else that is waiting, too (up to the cap).
            while let Ok(id) = self.disconnects.try_recv() {
                gone.push(id);
            }
            while loaded.len() < cap {
                match self.loads.next().now_or_never() {
                    Some(Some(l)) => loaded.push(l),
                    _ => break,
                }
            }

            let now = self.clock.now();
            let mut drain = Drain::default();
            for (epoch, load, result) in loaded.drain(..) {
                if epoch == self.epoch {
                    self.chat.handle(now, Input::Loaded { load, result });
                }
            }
            for cmd in batch.drain(..) {
                self.command(now, cmd, &mut drain);
            }
            for session in gone.drain(..) {
                self.disconnected(now, session);
            }
            if self.chat.poll_timeout().is_some_and(|t| t <= now) {
                self.chat.handle(now, Input::Tick);
            }
            self.drain(drain).await;
        }
        self.finish().await;
    }

    fn command(&mut self, now: Timestamp, cmd: Command, drain: &mut Drain) {
        match cmd {
            Command::Connect { identity, reply } => self.connect(now, identity, reply),
            Command::Receive { session, msg } => {
                if self.sessions.get(&session).is_some_and(|s| !s.closed) {
                    self.chat.handle(now, Input::Receive { session, msg });
                }
            }
            Command::Request { user, msg, reply } => {
                if self.stopping {
                    let _ = reply.send(Err(HubError::ShuttingDown));
                    return;
                }
                let request = RequestId(self.next_request);
                self.next_request += 1;
                self.requests.insert(request, reply);
                self.chat.handle(now, Input::Request { request, user, msg });
            }
            Command::AddUser { user, reply } => {
                self.chat.handle(now, Input::AddUser { user });
                drain.adds.push(reply);
            }
            Command::Query(query) => drain.queries.push(query),
            Command::Shutdown { reply } => {
                self.stopping = true;
                self.shutdown_waiters.push(reply);
            }
        }
    }

    fn connect(&mut self, now: Timestamp, identity: Identity, reply: oneshot::Sender<Result<SessionLink, HubError>>) {
        if self.stopping {
            let _ = reply.send(Err(HubError::ShuttingDown));
            return;
        }
        let Some(inbox) = self.inbox_weak.upgrade() else {
            let _ = reply.send(Err(HubError::Closed));
            return;
        };
        let session = SessionId(self.next_session);
        self.next_session += 1;
        let (tx, events) = mpsc::channel(self.config.session_queue.max(1));
        let close = Arc::new(CloseSignal::default());
        self.sessions.insert(session, Slot { tx, close: close.clone(), closed: false });
        let Identity { user, login } = identity;
        self.shared.closers.insert(session, close.clone(), login, CloseNotice::KICKED);
        let metrics = &self.shared.metrics;
        Metrics::add(&metrics.connections, 1);
        metrics.sessions.store(self.sessions.len() as u64, std::sync::atomic::Ordering::Relaxed);
        self.chat.handle(now, Input::Connect { session, user });
        let link = SessionLink { id: session, events, close, inbox, disconnects: self.disconnects_tx.clone() };
        // If the caller gave up, the link comes back here and its drop disconnects it.
        let _ = reply.send(Ok(link));
    }

    fn disconnected(&mut self, now: Timestamp, session: SessionId) {
        if self.sessions.remove(&session).is_some() {
            self.shared.closers.remove(session);
            let gauge = self.sessions.len() as u64;
            self.shared.metrics.sessions.store(gauge, std::sync::atomic::Ordering::Relaxed);
        }
        self.chat.handle(now, Input::Disconnect { session });
    }

    /// Tells a session to close and stops delivering to it.
    fn close(&mut self, session: SessionId, notice: CloseNotice) {
        if let Some(slot) = self.sessions.get_mut(&session) {
            slot.closed = true;
            slot.close.close(notice);
        }
    }

    /// Drains the core once, commits every `Persist` in one append, then carries out the rest.
    async fn drain(&mut self, drain: Drain) {
        let mut entries: Vec<LogEntry> = Vec::new();
        let mut rest: Vec<Output> = Vec::new();
        while let Some(output) = self.chat.poll_output() {
            match output {
                Output::Persist(entry) => entries.push(entry),
                other => rest.push(other),
            }
        }
        if !entries.is_empty() {
            let count = entries.len();
            let messages = entries.iter().filter(|e| matches!(e, LogEntry::Message(_))).count() as u64;
            match self.journal.append(entries).await {
                Ok(latency) => {
                    self.shared.metrics.commit(count, latency);
                    Metrics::add(&self.shared.metrics.messages, messages);
                }
                Err(error) => return self.commit_failed(error, drain).await,
            }
        }
        for query in drain.queries {
            query(&self.chat);
        }
        for add in drain.adds {
            let _ = add.send(Ok(()));
        }
        let mut slow = Vec::new();
        for output in rest {
            match output {
                Output::Deliver { sessions, msg } => self.deliver(&sessions, msg, &mut slow),
                Output::Reply { request, msg } => {
                    if let Some(reply) = self.requests.remove(&request) {
                        let _ = reply.send(Ok(*msg));
                    }
                }
                Output::Load { load, query } => self.load(load, query),
                Output::Close { session, .. } => self.close(session, CloseNotice::FLOODING),
                _ => {}
            }
        }
        for session in slow {
            Metrics::add(&self.shared.metrics.slow_consumers_closed, 1);
            self.close(session, CloseNotice::SLOW_CONSUMER);
        }
    }

    /// Queues one shared frame to every recipient; a full queue marks a slow consumer.
    fn deliver(&mut self, sessions: &[SessionId], msg: Arc<ServerMsg>, slow: &mut Vec<SessionId>) {
        let frame = Arc::new(OutFrame::new(msg));
        let mut delivered = 0;
        for session in sessions {
            let Some(slot) = self.sessions.get(session) else { continue };
            if slot.closed {
                continue;
            }
            match slot.tx.try_send(frame.clone()) {
                Ok(()) => delivered += 1,
                Err(TrySendError::Full(_)) => {
                    if !slow.contains(session) {
                        slow.push(*session);
                    }
                }
                Err(TrySendError::Closed(_)) => {}
            }
        }
        Metrics::add(&self.shared.metrics.deliveries, delivered);
    }

    fn load(&mut self, load: LoadId, query: chat_core::HistoryQuery) {
        let epoch = self.epoch;
        if self.loads.len() >= self.config.max_loads_in_flight.max(1) {
            let busy = Err(LoadError::Busy);
            self.loads.push(futures::future::ready((epoch, load, busy)).boxed());
            return;
        }
        let rx = self.journal.history(query);
        self.loads.push(
            async move {
                let result = rx.await.unwrap_or_else(|_| Err(LoadError::Stopped));
                (epoch, load, result)
            }
            .boxed(),
        );
    }

    /// A commit failed: acknowledge nothing of this drain, restore the core from the journal,
    /// close every session (clients reconnect and resume), fail pending requests.
    async fn commit_failed(&mut self, error: String, drain: Drain) {
        Metrics::add(&self.shared.metrics.commit_failures, 1);
        let failed = HubError::CommitFailed(error);
        for (_, reply) in self.requests.drain() {
            let _ = reply.send(Err(failed.clone()));
        }
        for add in drain.adds {
            let _ = add.send(Err(failed.clone()));
        }
        let live: Vec<SessionId> = self.sessions.keys().copied().collect();
        for session in live {
            self.close(session, CloseNotice::COMMIT_FAILED);
        }
        self.epoch += 1;
        match self.journal.snapshot().await {
            Ok(snapshot) => self.chat = Chat::restore(self.config.chat.clone(), snapshot),
            Err(_) => {
                // The journal cannot even be read: stop rather than serve a state we cannot
                // trust. Handles see `HubError::Closed`.
                self.stopping = true;
            }
        }
        for query in drain.queries {
            query(&self.chat);
        }
    }

    /// Shutdown: close every session with 1001, wait for them to go, stop the journal.
    async fn finish(mut self) {
        for (_, reply) in self.requests.drain() {
            let _ = reply.send(Err(HubError::ShuttingDown));
        }
        let live: Vec<SessionId> = self.sessions.keys().copied().collect();
        for session in live {
            self.close(session, CloseNotice::GOING_AWAY);
        }
        let deadline = tokio::time::Instant::now() + self.config.shutdown_grace;
        while !self.sessions.is_empty() {
            tokio::select! {
                Some(session) = self.disconnects.recv() => {
                    self.sessions.remove(&session);
                    self.shared.closers.remove(session);
                }
                Some(cmd) = self.inbox.recv() => match cmd {
                    Command::Shutdown { reply } => self.shutdown_waiters.push(reply),
                    other => refuse(other),
                },
                () = tokio::time::sleep_until(deadline) => break,
            }
        }
        self.shared.metrics.sessions.store(self.sessions.len() as u64, std::sync::atomic::Ordering::Relaxed);
        self.inbox.close();
        while let Ok(cmd) = self.inbox.try_recv() {
            match cmd {
                Command::Shutdown { reply } => self.shutdown_waiters.push(reply),
                other => refuse(other),
            }
        }
        let mut journal = self.journal;
        let _ = tokio::task::spawn_blocking(move || journal.stop()).await;
        for waiter in self.shutdown_waiters {
            let _ = waiter.send(());
        }
    }
}

/// Answers a command that arrived during shutdown.
fn refuse(cmd: Command) {
    match cmd {
        Command::Connect { reply, .. } => {
            let _ = reply.send(Err(HubError::ShuttingDown));
        }
        Command::Request { reply, .. } => {
            let _ = reply.send(Err(HubError::ShuttingDown));
        }
        Command::AddUser { reply, .. } => {
            let _ = reply.send(Err(HubError::ShuttingDown));
        }
        Command::Shutdown { reply } => {
            let _ = reply.send(());
        }
        Command::Receive { .. } | Command::Query(_) => {}
    }
}
