//! A cluster node: the role loop (follow, take the lease, catch up, lead, step down) and the
//! stable [`HubHandle`] whose commands go to the local hub while this node leads and to the
//! leader through a [`Gateway`] otherwise.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use async_nats::jetstream::context::Context;
use async_nats::jetstream::stream::Stream;
use chat_store::Store;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::forward::{Gateway, serve_gateways};
use super::journal::{ClusterJournal, Fence};
use super::lease::Lease;
use super::log::{self, Record};
use super::oplog::{Apply, OpLog};
use super::{ClusterConfig, ClusterError, ClusterStatus, Counters, Names, Role, SharedCounters};
use crate::SearchSeam;
use crate::hub::{Command, HubError, HubHandle, Shared, refuse_with, spawn_hub_in};
use crate::limits::HubConfig;

/// Where the node's handle sends commands now.
#[derive(Clone)]
enum Route {
    /// Electing or stepping down: commands wait (up to [`ROUTE_PATIENCE`]).
    Down,
    Leader(HubHandle),
    Follower(Arc<Gateway>),
}

/// How long a command waits for the node to have a leader before it is refused.
const ROUTE_PATIENCE: Duration = Duration::from_secs(8);

/// A running cluster node (cheap to clone). The [`HubHandle`] [`start`] returned with it is
/// the node's chat: give it to `serve_socket` and the REST handlers exactly like a single
/// node's. [`HubHandle::shutdown`] on it stops the node: if it leads, its hub commits what is in
/// flight and closes its sessions with 1001 and the lease is released, so another node takes
/// over at once; forwarded sessions are closed; the log is no longer followed.
#[derive(Debug, Clone)]
pub struct ClusterNode {
    node_id: String,
    counters: SharedCounters,
    js: Context,
    config: ClusterConfig,
    stop: watch::Receiver<bool>,
}

impl ClusterNode {
    /// The node's view of the cluster now.
    pub fn status(&self) -> ClusterStatus {
        self.counters.status(&self.node_id)
    }

    /// Opens the cluster's operation log `name` (1–32 of `a-z 0-9 _`; its stream is created if
    /// missing) and applies it with `apply`, from the operation after `from` (the last one
    /// this node's copy holds, 0 for none) on, until the node stops. See [`OpLog`].
    pub async fn op_log(&self, name: &str, from: u64, apply: Apply) -> Result<OpLog, ClusterError> {
        OpLog::open(&self.js, &self.config, name, from, apply, self.stop.clone()).await
    }
}

/// The state of a node's role loop.
struct Node {
    config: ClusterConfig,
    hub_config: HubConfig,
    names: Names,
    client: async_nats::Client,
    js: Context,
    stream: Stream,
    lease: Lease,
    store: Store,
    shared: Arc<Shared>,
    counters: SharedCounters,
    route: watch::Sender<Route>,
    next_sid: Arc<AtomicU64>,
    stop: watch::Receiver<bool>,
}

/// Joins the cluster: connects to NATS, creates the log stream and the lease bucket if they are
/// missing, checks that `store` is a replica of this log, and starts the node's role loop.
/// Returns the node and its handle (the second value is the task that ends when the handle's
/// shutdown is done, as [`spawn_hub`](crate::spawn_hub) returns its task).
///
/// Fails when NATS cannot be reached, or when `store` is ahead of the log.
pub async fn start(
    config: ClusterConfig,
    hub_config: HubConfig,
    store: Store,
) -> Result<(ClusterNode, HubHandle, JoinHandle<()>), ClusterError> {
    config.check()?;
    let names = Names { prefix: config.prefix.clone() };
    let client = async_nats::ConnectOptions::new()
        .name(format!("chat-{}", config.node_id))
        .connection_timeout(Duration::from_secs(5))
        .max_reconnects(None)
        .connect(config.url.as_str())
        .await
        .map_err(ClusterError::nats)?;
    let js = async_nats::jetstream::new(client.clone());
    let stream = log::ensure_stream(&js, &names, config.replicas).await?;
    let lease =
        Lease::open(&js, &names, &config.node_id, config.advertise.clone(), config.lease_ttl, config.replicas).await?;
    let local = log::position(&store)?;
    let end = log::log_end(&stream).await?;
    if local > end {
        return Err(ClusterError::AheadOfLog { local, log: end });
    }
    let counters: SharedCounters = Arc::new(Counters::default());
    counters.positioned(local);
    counters.log_end.store(end, Relaxed);
    let shared = Shared::new(&hub_config);
    let (inbox_tx, inbox) = mpsc::channel(hub_config.inbox_capacity.max(1));
    let (route, route_rx) = watch::channel(Route::Down);
    let (stop_tx, stop) = watch::channel(false);
    let (node_js, node_stop) = (js.clone(), stop.clone());
    let node = Node {
        names,
        client,
        js,
        stream,
        lease,
        store,
        shared: shared.clone(),
        counters: counters.clone(),
        route,
        next_sid: Arc::new(AtomicU64::new(1)),
        stop: stop.clone(),
        hub_config,
        config: config.clone(),
    };
    tokio::spawn(node.run());
    let router = tokio::spawn(route_commands(inbox, route_rx, stop_tx));
    let handle = HubHandle { inbox: inbox_tx, shared };
    let node = ClusterNode { node_id: config.node_id.clone(), counters, js: node_js, config, stop: node_stop };
    Ok((node, handle, router))
}

/// The node handle's commands, to wherever the route points. A shutdown through the handle
/// stops the node.
async fn route_commands(mut inbox: mpsc::Receiver<Command>, route: watch::Receiver<Route>, stop: watch::Sender<bool>) {
    while let Some(cmd) = inbox.recv().await {
        if let Command::Shutdown { reply } = cmd {
            let _ = stop.send(true);
            // Wait until the role loop is done (it drops the route's sender).
            let mut route = route.clone();
            while route.changed().await.is_ok() {}
            let _ = reply.send(());
            break;
        }
        let mut route = route.clone();
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + ROUTE_PATIENCE;
            loop {
                let current = route.borrow_and_update().clone();
                match current {
                    Route::Leader(hub) => {
                        if let Err(mpsc::error::SendError(cmd)) = hub.inbox.send(cmd).await {
                            refuse_with(cmd, HubError::Closed);
                        }
                        return;
                    }
                    Route::Follower(gateway) => return gateway.command(cmd),
                    Route::Down => {
                        let changed = tokio::time::timeout_at(deadline, route.changed()).await;
                        if !matches!(changed, Ok(Ok(()))) {
                            return refuse_with(cmd, HubError::Closed);
                        }
                    }
                }
            }
        });
    }
}

/// How a leadership ended.
enum Ended {
    /// Deposed, lease lost, or the hub stopped: follow again.
    SteppedDown,
    /// The node is stopping.
    Stopped,
}

impl Node {
    /// The search index the folded entries go to (the one the leader's hub feeds), if any.
    fn index(&self) -> Option<SearchSeam> {
        self.hub_config.search.clone()
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    async fn run(mut self) {
        while !self.stopping() {
            let Some((epoch, revision)) = self.follow().await else { break };
            match self.lead(epoch, revision).await {
                Ended::Stopped => break,
                Ended::SteppedDown => {
                    self.counters.step_downs.fetch_add(1, Relaxed);
                }
            }
        }
        self.counters.set_role(Role::Candidate);
        let _ = self.route.send(Route::Down);
        // Dropping `self.route` tells the router that the node is done.
    }

    /// Follows the log and forwards to the current leader until this node takes the lease:
    /// `Some((epoch, revision))`, or `None` when stopping.
    async fn follow(&mut self) -> Option<(u64, u64)> {
        self.counters.set_role(Role::Follower);
        let (fold_stop, fold_stop_rx) = watch::channel(false);
        let fold = tokio::spawn(fold_forever(
            self.stream.clone(),
            self.store.clone(),
            self.counters.clone(),
            self.index(),
            fold_stop_rx,
        ));
        let mut gateway: Option<(u64, watch::Sender<bool>, JoinHandle<()>)> = None;
        let poll = self.config.lease_ttl / 4;
        let won = loop {
            if self.stopping() {
                break None;
            }
            match self.lease.holder().await {
                Ok(Some(holder)) if holder.node != self.config.node_id => {
                    if gateway.as_ref().is_none_or(|(epoch, _, _)| *epoch != holder.epoch) {
                        if let Some((_, stop, task)) = gateway.take() {
                            let _ = self.route.send(Route::Down);
                            let _ = stop.send(true);
                            let _ = task.await;
                        }
                        let (stop, stop_rx) = watch::channel(false);
                        let started = Gateway::start(
                            self.client.clone(),
                            self.names.clone(),
                            self.config.node_id.clone(),
                            holder.epoch,
                            self.shared.clone(),
                            self.counters.clone(),
                            self.next_sid.clone(),
                            self.hub_config.session_queue,
                            stop_rx,
                        )
                        .await;
                        match started {
                            Ok((gw, task)) => {
                                self.counters.set_leader(holder.epoch, Some(holder.node.clone()));
                                let _ = self.route.send(Route::Follower(gw));
                                gateway = Some((holder.epoch, stop, task));
                            }
                            Err(e) => tracing::warn!(error = %e, "cannot subscribe for forwarding"),
                        }
                    }
                }
                // Our own lease from before a restart: wait for it to expire.
                Ok(Some(_)) => {}
                Ok(None) => match self.lease.try_acquire().await {
                    Ok(Some(revision)) => break Some((revision, revision)),
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot take the lease"),
                },
                Err(e) => tracing::warn!(error = %e, "cannot read the lease"),
            }
            if let Ok(end) = log::log_end(&self.stream).await {
                self.counters.log_end.fetch_max(end, Relaxed);
            }
            let mut stop = self.stop.clone();
            tokio::select! {
                _ = stop.changed() => {}
                () = tokio::time::sleep(poll) => {}
            }
        };
        let _ = self.route.send(Route::Down);
        if let Some((_, stop, task)) = gateway {
            let _ = stop.send(true);
            let _ = task.await;
        }
        let _ = fold_stop.send(true);
        let _ = fold.await;
        won
    }

    /// Leads the epoch whose lease this node took at `revision`.
    async fn lead(&mut self, epoch: u64, revision: u64) -> Ended {
        self.counters.set_role(Role::Candidate);
        let fence = Arc::new(Fence::default());
        let (renew_stop, renew_stop_rx) = watch::channel(false);
        let renew = tokio::spawn(renew_lease(
            self.lease.clone(),
            epoch,
            revision,
            self.config.lease_ttl,
            fence.clone(),
            renew_stop_rx,
        ));
        let end = |renew_stop: watch::Sender<bool>, renew: JoinHandle<u64>| async move {
            let _ = renew_stop.send(true);
            renew.await.unwrap_or(0)
        };
        let position = match self.open_epoch(epoch, &fence).await {
            Ok(position) => position,
            Err(e) => {
                tracing::warn!(error = %e, epoch, "could not open the epoch; following again");
                end(renew_stop, renew).await;
                return Ended::SteppedDown;
            }
        };
        let journal = ClusterJournal {
            store: self.store.clone(),
            js: self.js.clone(),
            names: self.names.clone(),
            node: self.config.node_id.clone(),
            epoch,
            position,
            runtime: tokio::runtime::Handle::current(),
            fence: fence.clone(),
            counters: self.counters.clone(),
        };
        let (hub, mut hub_task) = match spawn_hub_in(self.hub_config.clone(), journal, self.shared.clone()) {
            Ok(started) => started,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the local store; following again");
                end(renew_stop, renew).await;
                return Ended::SteppedDown;
            }
        };
        let (serve_stop, serve_stop_rx) = watch::channel(false);
        let serve = tokio::spawn(serve_gateways(
            hub.clone(),
            self.client.clone(),
            self.names.clone(),
            epoch,
            self.counters.clone(),
            serve_stop_rx,
        ));
        self.counters.set_leader(epoch, Some(self.config.node_id.clone()));
        self.counters.set_role(Role::Leader);
        self.counters.elections_won.fetch_add(1, Relaxed);
        let _ = self.route.send(Route::Leader(hub.clone()));
        tracing::info!(epoch, position, "leading");
        let mut stop = self.stop.clone();
        let stopped = tokio::select! {
            _ = stop.changed() => true,
            () = fence.tripped() => false,
            _ = &mut hub_task => false,
        };
        tracing::info!(epoch, stopped, "stepping down");
        self.counters.set_role(Role::Candidate);
        let _ = self.route.send(Route::Down);
        let _ = serve_stop.send(true);
        let _ = serve.await;
        hub.shutdown().await;
        let _ = hub_task.await;
        let revision = end(renew_stop, renew).await;
        if stopped {
            if revision != 0 && !fence.is_tripped() {
                self.lease.release(revision).await;
            }
            Ended::Stopped
        } else {
            Ended::SteppedDown
        }
    }

    /// Folds the log to its end and appends the epoch's opening record, fenced at that end;
    /// repeats if another leader appended meanwhile. The position after the record.
    async fn open_epoch(&mut self, epoch: u64, fence: &Fence) -> Result<u64, ClusterError> {
        loop {
            if fence.is_tripped() {
                return Err(ClusterError::Deposed);
            }
            let end = log::log_end(&self.stream).await?;
            let index = self.index();
            let at = log::follow(&self.stream, &self.store, &self.counters, &index, Some(end), std::future::pending())
                .await?;
            let record = Record { epoch, node: self.config.node_id.clone(), entries: Vec::new() };
            let payload = rmp_serde::to_vec_named(&record).map_err(|e| ClusterError::Record(e.to_string()))?;
            match log::publish(&self.js, &self.names, &self.config.node_id, epoch, at, payload).await {
                Ok(position) => {
                    let mut store = self.store.clone();
                    tokio::task::spawn_blocking(move || log::fold_into(&mut store, &[], position))
                        .await
                        .map_err(|e| ClusterError::Record(e.to_string()))??;
                    self.counters.positioned(position);
                    return Ok(position);
                }
                Err(ClusterError::Deposed) => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// Folds the log into the store until `stop`, starting again after an error.
async fn fold_forever(
    stream: Stream,
    store: Store,
    counters: SharedCounters,
    index: Option<SearchSeam>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let stopped = {
            let mut stop = stop.clone();
            async move {
                let _ = stop.changed().await;
            }
        };
        match log::follow(&stream, &store, &counters, &index, None, stopped).await {
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(error = %e, "following the log failed; starting again");
                tokio::select! {
                    _ = stop.changed() => return,
                    () = tokio::time::sleep(Duration::from_millis(500)) => {}
                }
            }
        }
    }
}

/// Renews the lease every third of its time to live. Trips the fence when it cannot renew for
/// two thirds of it (someone else holds it, or NATS is unreachable): another node may take
/// over after the full time. Returns the last revision held (0 if lost).
async fn renew_lease(
    lease: Lease,
    epoch: u64,
    mut revision: u64,
    ttl: Duration,
    fence: Arc<Fence>,
    mut stop: watch::Receiver<bool>,
) -> u64 {
    let mut last_ok = tokio::time::Instant::now();
    loop {
        let wait = if last_ok.elapsed() < ttl / 3 { ttl / 3 } else { Duration::from_millis(100) };
        tokio::select! {
            _ = stop.changed() => return revision,
            () = fence.tripped() => return 0,
            () = tokio::time::sleep(wait) => {}
        }
        match lease.renew(epoch, revision).await {
            Ok(next) => {
                revision = next;
                last_ok = tokio::time::Instant::now();
            }
            Err(e) => {
                tracing::warn!(error = %e, "lease renewal failed");
                if last_ok.elapsed() >= ttl * 2 / 3 {
                    fence.trip();
                    return 0;
                }
            }
        }
    }
}
