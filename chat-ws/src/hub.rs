//! The hub: one task that owns the [`Chat`], batches inputs, group-commits their log entries on
//! the journal thread, and then carries out the outputs (fan-out to session queues).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chat_core::{
    Chat, ClientMsg, CloseReason, Input, Journal, LogEntry, Output, ServerMsg, SessionId, Timestamp, UserName,
};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::attachments::{Resolutions, Resolved};
use crate::auth::{Identity, LoginId};
use crate::closers::Closers;
use crate::frame::{CloseNotice, OutFrame};
use crate::journal::{JournalError, JournalThread};
use crate::limits::{ConnLimits, HubConfig};
use crate::metrics::{HubMetrics, Metrics};
use crate::pending::{Loaded, Loads, ReplyTo, Requests};
use crate::search::{Searched, Searches};
use crate::session::SessionLink;
use crate::slots::{Marks, Sessions};

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
    #[error("journal commit failed; nothing was changed")]
    CommitFailed(#[source] JournalError),
}

type Query = Box<dyn FnOnce(&Chat) + Send>;

/// What handles and sessions send to the hub (through the bounded inbox).
pub(crate) enum Command {
    Connect { identity: Identity, reply: oneshot::Sender<Result<SessionLink, HubError>> },
    Receive { session: SessionId, msg: ClientMsg },
    Request { user: UserName, msg: ClientMsg, admin: bool, reply: ReplyTo },
    AddUser { user: UserName, reply: oneshot::Sender<Result<(), HubError>> },
    Query(Query),
    Shutdown { reply: oneshot::Sender<()> },
}

/// State shared between the hub task and its handles (in cluster mode, also by the node's
/// stable handle and every hub the node runs while it leads, so counters and close signals
/// outlive a change of leader).
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) metrics: Metrics,
    pub(crate) limits: ConnLimits,
    /// Close signals of live sessions, so `kick` and `close_login` need no queue.
    pub(crate) closers: Closers,
    /// A reader the hub waits for caught up (its pump saw its queue at the low mark).
    caught_up: Notify,
    /// The low mark of the session queues.
    low_water: usize,
}

impl Shared {
    pub(crate) fn new(config: &HubConfig) -> Arc<Shared> {
        let marks = Marks::new(config.session_queue, config.reader_grace);
        Arc::new(Shared {
            metrics: Metrics::default(),
            limits: config.limits.clone(),
            closers: Closers::default(),
            caught_up: Notify::new(),
            low_water: marks.low,
        })
    }
}

/// A cloneable handle to a running hub, for adapters (`serve_socket`), REST handlers and
/// embedders with their own transport.
#[derive(Debug, Clone)]
pub struct HubHandle {
    pub(crate) inbox: mpsc::Sender<Command>,
    pub(crate) shared: Arc<Shared>,
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
    let shared = Shared::new(&config);
    spawn_hub_in(config, journal, shared)
}

/// [`spawn_hub`] with the given shared state (the cluster node's, so its stable handle closes
/// and counts this hub's sessions too).
pub(crate) fn spawn_hub_in<J>(
    config: HubConfig,
    journal: J,
    shared: Arc<Shared>,
) -> Result<(HubHandle, JoinHandle<()>), J::Error>
where
    J: Journal + Send + 'static,
{
    let snapshot = journal.snapshot()?;
    let journal = JournalThread::spawn(journal).expect("failed to start the journal thread");
    let chat = Chat::restore(config.chat.clone(), snapshot);
    let (inbox_tx, inbox) = mpsc::channel(config.inbox_capacity.max(1));
    let (disconnects_tx, disconnects) = mpsc::unbounded_channel();
    let hub = Hub {
        chat,
        clock: Clock::start(),
        shared: shared.clone(),
        sessions: Sessions::new(config.session_queue, config.reader_grace),
        staged: Staged::default(),
        requests: Requests::default(),
        loads: Loads::new(config.max_loads_in_flight),
        searches: Searches::new(config.search.clone(), config.max_searches_in_flight),
        resolutions: Resolutions::default(),
        journal,
        mailbox: Mailbox { inbox, inbox_weak: inbox_tx.downgrade(), disconnects, disconnects_tx },
        stop: Stop::default(),
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
        self.call(Command::Request { user, msg, admin: false, reply }, rx).await
    }

    /// A sessionless request on behalf of a server administrator: `Input::AdminRequest`. The
    /// caller (the server) vouches that `user` is one; the core then lets `delete_message`
    /// delete any message of any room, and handles everything else as [`HubHandle::request`].
    pub async fn admin_request(&self, user: UserName, msg: ClientMsg) -> Result<ServerMsg, HubError> {
        let (reply, rx) = oneshot::channel();
        self.call(Command::Request { user, msg, admin: true, reply }, rx).await
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

    pub(crate) fn count_frames_throttled(&self) {
        Metrics::add(&self.shared.metrics.frames_throttled, 1);
    }

    pub(crate) fn count_frames_out(&self, n: u64) {
        Metrics::add(&self.shared.metrics.frames_out, n);
    }

    /// Called by a pump after it wrote: if the hub waits for this reader and it is down to the
    /// low mark, tell the hub.
    pub(crate) fn wrote(&self, link: &SessionLink) {
        if link.is_behind() && link.queued() <= self.shared.low_water {
            link.close.set_behind(false);
            self.shared.caught_up.notify_one();
        }
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

/// Where the hub's inputs arrive: the bounded inbox and the disconnects of dropped links.
struct Mailbox {
    inbox: mpsc::Receiver<Command>,
    /// For new links; weak so the inbox closes when every handle and link is gone.
    inbox_weak: mpsc::WeakSender<Command>,
    disconnects: mpsc::UnboundedReceiver<SessionId>,
    disconnects_tx: mpsc::UnboundedSender<SessionId>,
}

/// Shutdown state: once `stopping`, the loop ends after the batch in hand; `waiters` are
/// answered when the hub has finished.
#[derive(Default)]
struct Stop {
    stopping: bool,
    waiters: Vec<oneshot::Sender<()>>,
}

/// What one batch owes its callers once the commit succeeded.
#[derive(Default)]
struct Owed {
    adds: Vec<oneshot::Sender<Result<(), HubError>>>,
    queries: Vec<Query>,
}

/// The core's outputs of the batch so far ([`Chat::drain`] after each input), awaiting the
/// commit. `delivers` counts the `Deliver`s, which bound the batch (`Marks::per_batch`).
#[derive(Default)]
struct Staged {
    entries: Vec<LogEntry>,
    rest: Vec<Output>,
    delivers: usize,
}

struct Hub {
    chat: Chat,
    config: HubConfig,
    clock: Clock,
    shared: Arc<Shared>,
    sessions: Sessions,
    staged: Staged,
    requests: Requests,
    loads: Loads,
    searches: Searches,
    resolutions: Resolutions,
    journal: JournalThread,
    mailbox: Mailbox,
    stop: Stop,
}

impl Hub {
    async fn run(mut self) {
        let cap = self.config.max_batch.max(1);
        let per_batch = self.sessions.marks().per_batch;
        let mut batch: Vec<Command> = Vec::with_capacity(cap);
        // Commands taken from the inbox and not handled yet (a batch ends early once it holds
        // `per_batch` deliveries); handled first in the next batch.
        let mut pending: VecDeque<Command> = VecDeque::with_capacity(cap);
        let mut gone: Vec<SessionId> = Vec::new();
        let mut loaded: Vec<Loaded> = Vec::new();
        let mut searched: Vec<Searched> = Vec::new();
        let mut resolved: Vec<Resolved> = Vec::new();
        let mut was_gated = false;
        while !self.stop.stopping {
            let gate = self.sessions.gate(Instant::now(), &self.shared.metrics);
            if gate.is_some() && !was_gated {
                Metrics::add(&self.shared.metrics.input_paused, 1);
            }
            was_gated = gate.is_some();
            if gate.is_some() || pending.is_empty() {
                let deadline = self.chat.poll_timeout().map(|t| self.clock.instant_at(t));
                let wake = match (deadline, gate) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                let far = || tokio::time::Instant::now() + Duration::from_secs(3600);
                let sleep_until = wake.map_or_else(far, tokio::time::Instant::from_std);
                tokio::select! {
                    biased;
                    // Back-pressure: while a reader is behind, commands wait in the inbox and
                    // the pumps stop reading their sockets.
                    n = self.mailbox.inbox.recv_many(&mut batch, cap), if gate.is_none() => {
                        if n == 0 {
                            // Every handle and session is gone.
                            self.stop.stopping = true;
                        }
                    }
                    Some(id) = self.mailbox.disconnects.recv() => gone.push(id),
                    Some(l) = self.loads.next(), if !self.loads.is_empty() => loaded.push(l),
                    Some(s) = self.searches.next(), if !self.searches.is_empty() => searched.push(s),
                    Some(r) = self.resolutions.next(), if !self.resolutions.is_empty() => resolved.push(r),
                    () = self.shared.caught_up.notified(), if gate.is_some() => {}
                    () = tokio::time::sleep_until(sleep_until), if wake.is_some() => {}
                }
            }
            // Take everything else that is waiting, too (up to the cap).
            while let Ok(id) = self.mailbox.disconnects.try_recv() {
                gone.push(id);
            }
            while loaded.len() < cap {
                match self.loads.ready() {
                    Some(l) => loaded.push(l),
                    None => break,
                }
            }

            while searched.len() < cap {
                match self.searches.ready() {
                    Some(s) => searched.push(s),
                    None => break,
                }
            }
            while let Some(r) = self.resolutions.ready() {
                resolved.push(r);
            }

            let now = self.clock.now();
            let mut owed = Owed::default();
            for (epoch, load, result) in resolved.drain(..) {
                if self.resolutions.is_current(epoch) {
                    self.chat.handle(now, Input::AttachmentsResolved { load, result });
                }
            }
            for (epoch, load, result) in loaded.drain(..) {
                if self.loads.is_current(epoch) {
                    self.chat.handle(now, Input::Loaded { load, result });
                }
            }
            for (epoch, load, result) in searched.drain(..) {
                if self.searches.is_current(epoch) {
                    self.chat.handle(now, Input::Searched { load, result });
                }
            }
            self.stage();
            pending.extend(batch.drain(..));
            if self.sessions.gate(Instant::now(), &self.shared.metrics).is_none() {
                while self.staged.delivers < per_batch {
                    let Some(cmd) = pending.pop_front() else { break };
                    self.command(now, cmd, &mut owed);
                    self.stage();
                }
            }
            for session in gone.drain(..) {
                self.disconnected(now, session);
            }
            if self.chat.poll_timeout().is_some_and(|t| t <= now) {
                self.chat.handle(now, Input::Tick);
            }
            self.stage();
            self.commit_and_carry_out(owed).await;
        }
        for cmd in pending {
            refuse(cmd);
        }
        self.finish().await;
    }

    /// Moves the core's queued outputs into the batch's staged outputs.
    fn stage(&mut self) {
        let (entries, rest) = self.chat.drain().into_parts();
        self.staged.entries.extend(entries);
        self.staged.delivers += rest.iter().filter(|o| matches!(o, Output::Deliver { .. })).count();
        self.staged.rest.extend(rest);
    }

    fn command(&mut self, now: Timestamp, cmd: Command, owed: &mut Owed) {
        match cmd {
            Command::Connect { identity, reply } => self.connect(now, identity, reply),
            Command::Receive { session, msg } => {
                if self.sessions.is_open(session) {
                    self.chat.handle(now, Input::Receive { session, msg });
                }
            }
            Command::Request { user, msg, admin, reply } => {
                if self.stop.stopping {
                    let _ = reply.send(Err(HubError::ShuttingDown));
                    return;
                }
                let request = self.requests.insert(reply);
                let input = match admin {
                    true => Input::AdminRequest { request, user, msg },
                    false => Input::Request { request, user, msg },
                };
                self.chat.handle(now, input);
            }
            Command::AddUser { user, reply } => {
                self.chat.handle(now, Input::AddUser { user });
                owed.adds.push(reply);
            }
            Command::Query(query) => owed.queries.push(query),
            Command::Shutdown { reply } => {
                self.stop.stopping = true;
                self.stop.waiters.push(reply);
            }
        }
    }

    fn connect(&mut self, now: Timestamp, identity: Identity, reply: oneshot::Sender<Result<SessionLink, HubError>>) {
        if self.stop.stopping {
            let _ = reply.send(Err(HubError::ShuttingDown));
            return;
        }
        let Some(inbox) = self.mailbox.inbox_weak.upgrade() else {
            let _ = reply.send(Err(HubError::Closed));
            return;
        };
        let Identity { user, login } = identity;
        let (session, events, close) = self.sessions.open(login, &self.shared.closers, &self.shared.metrics);
        self.chat.handle(now, Input::Connect { session, user });
        let link = SessionLink { id: session, events, close, inbox, disconnects: self.mailbox.disconnects_tx.clone() };
        // If the caller gave up, the link comes back here and its drop disconnects it.
        let _ = reply.send(Ok(link));
    }

    fn disconnected(&mut self, now: Timestamp, session: SessionId) {
        self.sessions.remove(session, &self.shared.closers, &self.shared.metrics);
        self.chat.handle(now, Input::Disconnect { session });
    }

    /// The driver step: commits every entry the batch's drains ([`Chat::drain`]) staged in one
    /// append, and only then carries out the rest, in order.
    async fn commit_and_carry_out(&mut self, owed: Owed) {
        let Staged { entries, rest, .. } = std::mem::take(&mut self.staged);
        if !entries.is_empty() {
            let count = entries.len();
            let messages = entries.iter().filter(|e| matches!(e, LogEntry::Message(_))).count() as u64;
            // The index sees a batch only once it is durable (a copy: entries are mostly Arcs).
            let for_index = self.searches.indexes().then(|| entries.clone());
            match self.journal.append(entries).await {
                Ok(latency) => {
                    self.shared.metrics.commit(count, latency);
                    Metrics::add(&self.shared.metrics.messages, messages);
                    if let Some(entries) = for_index {
                        self.searches.committed(&entries);
                    }
                }
                Err(error) => return self.commit_failed(error, owed).await,
            }
        }
        for query in owed.queries {
            query(&self.chat);
        }
        for add in owed.adds {
            let _ = add.send(Ok(()));
        }
        let mut slow = Vec::new();
        let now = Instant::now();
        for output in rest {
            self.carry_out(now, output, &mut slow);
        }
        for session in slow {
            Metrics::add(&self.shared.metrics.slow_consumers_closed, 1);
            self.sessions.close(session, CloseNotice::SLOW_CONSUMER);
        }
    }

    /// One committed output. Every variant this version knows is named; `Output` is
    /// `#[non_exhaustive]`, so a newer core's output is logged, never silently dropped.
    fn carry_out(&mut self, now: Instant, output: Output, slow: &mut Vec<SessionId>) {
        match output {
            Output::Deliver { sessions, msg } => {
                let frame = Arc::new(OutFrame::new(msg));
                let delivered = self.sessions.deliver(now, &sessions, &frame, slow);
                Metrics::add(&self.shared.metrics.deliveries, delivered);
            }
            Output::Reply { request, msg } => self.requests.answer(request, *msg),
            Output::Load { load, query } => self.loads.start(load, query, &self.journal),
            Output::Search { load, user, rooms, query } => self.searches.start(load, &user, rooms, *query),
            Output::ResolveAttachments { load, user, ids } => {
                self.resolutions.start(&self.config.attachments, self.clock.now(), load, user, ids)
            }
            Output::Close { session, reason } => self.sessions.close(session, close_notice(reason)),
            // `Chat::drain` hands the entries out separately; the rest never holds one.
            Output::Persist(_) => tracing::error!("a Persist after the commit; ignored"),
            other => tracing::error!(output = ?other, "an output this hub does not know; ignored"),
        }
    }

    /// A commit failed: acknowledge nothing of this batch, restore the core from the journal,
    /// close every session (clients reconnect and resume), fail pending requests.
    async fn commit_failed(&mut self, error: JournalError, owed: Owed) {
        tracing::error!(error = &error as &dyn std::error::Error, "journal commit failed; restoring the core");
        Metrics::add(&self.shared.metrics.commit_failures, 1);
        let failed = HubError::CommitFailed(error);
        self.requests.fail_all(&failed);
        for add in owed.adds {
            let _ = add.send(Err(failed.clone()));
        }
        self.sessions.close_all(CloseNotice::COMMIT_FAILED);
        self.loads.restart();
        self.searches.restart();
        self.resolutions.restart();
        match self.journal.snapshot().await {
            Ok(snapshot) => self.chat = Chat::restore(self.config.chat.clone(), snapshot),
            Err(error) => {
                // The journal cannot even be read: stop rather than serve a state we cannot
                // trust. Handles see `HubError::Closed`.
                tracing::error!(error = &error as &dyn std::error::Error, "journal unreadable; the hub stops");
                self.stop.stopping = true;
            }
        }
        for query in owed.queries {
            query(&self.chat);
        }
    }

    /// Shutdown: close every session with 1001, wait for them to go, stop the journal.
    async fn finish(mut self) {
        self.requests.fail_all(&HubError::ShuttingDown);
        self.sessions.close_all(CloseNotice::GOING_AWAY);
        let deadline = tokio::time::Instant::now() + self.config.shutdown_grace;
        while !self.sessions.is_empty() {
            tokio::select! {
                Some(session) = self.mailbox.disconnects.recv() => {
                    self.sessions.remove(session, &self.shared.closers, &self.shared.metrics);
                }
                Some(cmd) = self.mailbox.inbox.recv() => match cmd {
                    Command::Shutdown { reply } => self.stop.waiters.push(reply),
                    other => refuse(other),
                },
                () = tokio::time::sleep_until(deadline) => break,
            }
        }
        self.mailbox.inbox.close();
        while let Ok(cmd) = self.mailbox.inbox.try_recv() {
            match cmd {
                Command::Shutdown { reply } => self.stop.waiters.push(reply),
                other => refuse(other),
            }
        }
        let mut journal = self.journal;
        let _ = tokio::task::spawn_blocking(move || journal.stop()).await;
        for waiter in self.stop.waiters {
            let _ = waiter.send(());
        }
    }
}

/// The close frame for the core's reason. `CloseReason` is `#[non_exhaustive]`: a reason this
/// version does not know still closes, with the generic policy code.
fn close_notice(reason: CloseReason) -> CloseNotice {
    match reason {
        CloseReason::Flooding => CloseNotice::FLOODING,
        CloseReason::TooManySessions => CloseNotice::TOO_MANY_SESSIONS,
        other => {
            tracing::warn!(reason = ?other, "a close reason this hub does not know");
            CloseNotice::POLICY
        }
    }
}

/// Answers a command that arrived during shutdown.
fn refuse(cmd: Command) {
    refuse_with(cmd, HubError::ShuttingDown);
}

/// Answers a command that cannot be carried out with `error` (a shutdown answers the waiter).
pub(crate) fn refuse_with(cmd: Command, error: HubError) {
    match cmd {
        Command::Connect { reply, .. } => {
            let _ = reply.send(Err(error));
        }
        Command::Request { reply, .. } => {
            let _ = reply.send(Err(error));
        }
        Command::AddUser { reply, .. } => {
            let _ = reply.send(Err(error));
        }
        Command::Shutdown { reply } => {
            let _ = reply.send(());
        }
        Command::Receive { .. } | Command::Query(_) => {}
    }
}
