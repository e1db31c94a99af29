//! Cluster mode (feature `cluster`): several nodes share one chat through NATS JetStream.
//!
//! - One node at a time **leads**: it holds a lease in a JetStream KV bucket (the revision at
//!   which it took the lease is its **epoch**) and runs the ordinary hub. Its journal publishes
//!   every group commit as one record of the log stream, fenced with
//!   `Nats-Expected-Last-Subject-Sequence` and deduplicated with `Nats-Msg-Id`, and only then
//!   commits it to its local chat-store: nothing is delivered or acknowledged before the log
//!   has it. A deposed leader's next publish is refused; it stops acknowledging and steps down.
//! - Every other node **follows** the stream into its own chat-store (so any node can take
//!   over with the whole history) and is a **gateway**: the [`HubHandle`](crate::HubHandle) it
//!   gives the server forwards sessions, REST requests and registrations to the leader over
//!   NATS subjects scoped to the leader's epoch, and closes its sessions when the leader
//!   changes, so clients reconnect and `resume`.
//! - A follower that finds the lease free takes it, folds the log to its end, appends an epoch
//!   record (fenced like every record, so an older leader can no longer append), restores the
//!   core from its store and leads.
//!
//! - State beside the chat (the server's accounts) is replicated with an [`OpLog`]: any node
//!   appends operations to a stream of their own, and every node applies all of them in stream
//!   order to its own copy.
//!
//! [`start`] runs a node; `docs/scaling.md` has the design, the failure table and the limits.

mod forward;
mod journal;
mod lease;
mod log;
mod node;
mod oplog;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

pub use node::{ClusterNode, start};
pub use oplog::{Apply, ApplyError, MAX_OP_BYTES, OpLog};

/// How to join a cluster.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClusterConfig {
    /// The NATS server(s), e.g. `nats://127.0.0.1:4222` (comma-separated for several).
    pub url: String,
    /// This node's name, unique in the cluster: 1–64 of `A-Z a-z 0-9 - _`.
    pub node_id: String,
    /// Prefix of the stream, bucket and subjects (`chat`), so several chats can share a NATS
    /// server: 1–32 of `a-z 0-9 _`.
    pub prefix: String,
    /// How long a lease lasts without renewal (the leader renews every third of it). A dead
    /// leader is replaced after at most about this long.
    pub lease_ttl: Duration,
    /// JetStream replicas of the stream and the lease bucket (1 on a single NATS server; 3 in
    /// production, on a three-server NATS cluster).
    pub replicas: usize,
    /// What this node's HTTP address is, shown to others in the lease (for operators).
    pub advertise: Option<String>,
}

impl ClusterConfig {
    /// A node `node_id` on the NATS server at `url`, with the defaults (prefix `chat`, 3 s
    /// lease, one replica).
    pub fn new(url: impl Into<String>, node_id: impl Into<String>) -> ClusterConfig {
        ClusterConfig {
            url: url.into(),
            node_id: node_id.into(),
            prefix: "chat".into(),
            lease_ttl: Duration::from_secs(3),
            replicas: 1,
            advertise: None,
        }
    }

    fn check(&self) -> Result<(), ClusterError> {
        let ok =
            |s: &str, max: usize, allowed: fn(char) -> bool| !s.is_empty() && s.len() <= max && s.chars().all(allowed);
        if !ok(&self.node_id, 64, |c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(ClusterError::Config("the node id must be 1-64 of A-Z a-z 0-9 - _"));
        }
        if !ok(&self.prefix, 32, |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            return Err(ClusterError::Config("the prefix must be 1-32 of a-z 0-9 _"));
        }
        if self.lease_ttl < Duration::from_millis(500) {
            return Err(ClusterError::Config("the lease must last at least 500 ms"));
        }
        Ok(())
    }
}

/// Why a cluster operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// The configuration is not usable.
    #[error("invalid cluster configuration: {0}")]
    Config(&'static str),
    /// NATS could not be reached or refused a request.
    #[error("NATS: {0}")]
    Nats(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The local store failed.
    #[error("the local store failed")]
    Store(#[from] chat_store::StoreError),
    /// The local store holds more of the log than the stream: it belongs to another log (the
    /// stream was deleted or another NATS server is used). Start from an empty store.
    #[error("the local store is at log position {local} but the log ends at {log}: it belongs to another log")]
    AheadOfLog {
        /// Where the store is.
        local: u64,
        /// Where the stream ends.
        log: u64,
    },
    /// A log record could not be encoded or decoded.
    #[error("log record: {0}")]
    Record(String),
    /// This node is no longer the leader: another node appended to the log.
    #[error("this node is no longer the leader")]
    Deposed,
    /// An operation of an [`OpLog`] could not be applied to the local copy (it is retried).
    #[error("applying an operation failed")]
    Apply(#[source] oplog::ApplyError),
    /// This node did not apply an operation of an [`OpLog`] in time (it is far behind, or its
    /// local store keeps failing).
    #[error("operation {0} was not applied on this node in time")]
    NotApplied(u64),
    /// The log's sequence skipped a record (the stream lost data).
    #[error("log gap: expected record {expected}, got {got}")]
    Gap {
        /// The next position.
        expected: u64,
        /// What came.
        got: u64,
    },
}

impl ClusterError {
    fn nats(error: impl std::error::Error + Send + Sync + 'static) -> ClusterError {
        ClusterError::Nats(Box::new(error))
    }
}

/// A node's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Role {
    /// Holds the lease and runs the hub.
    Leader,
    /// Folds the log and forwards its sessions to the leader.
    Follower,
    /// Between roles (electing, catching up, stepping down).
    Candidate,
}

impl Role {
    /// `leader`, `follower` or `candidate`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Leader => "leader",
            Role::Follower => "follower",
            Role::Candidate => "candidate",
        }
    }
}

/// A node's view of the cluster, for `/healthz` and `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterStatus {
    /// This node's name.
    pub node_id: String,
    /// What it does now.
    pub role: Role,
    /// The epoch of the leader this node follows or is (0 before the first election).
    pub epoch: u64,
    /// The leader's node id, when known.
    pub leader: Option<String>,
    /// Records of the log folded into the local store.
    pub position: u64,
    /// The log's last record, as last seen.
    pub log_end: u64,
    /// Inputs this node forwarded to the leader (session frames, requests, registrations).
    pub forwarded: u64,
    /// Sessions of other nodes this node served as leader, now.
    pub remote_sessions: u64,
    /// Times this node became leader.
    pub elections_won: u64,
    /// Times this node stepped down (deposed, lease lost, or NATS unreachable).
    pub step_downs: u64,
}

impl ClusterStatus {
    /// How many records the local store is behind the log.
    pub fn lag(&self) -> u64 {
        self.log_end.saturating_sub(self.position)
    }
}

/// The live counters behind [`ClusterStatus`].
#[derive(Debug, Default)]
struct Counters {
    role: AtomicU64,
    epoch: AtomicU64,
    leader: std::sync::Mutex<Option<String>>,
    position: AtomicU64,
    log_end: AtomicU64,
    forwarded: AtomicU64,
    remote_sessions: AtomicU64,
    elections_won: AtomicU64,
    step_downs: AtomicU64,
}

impl Counters {
    fn set_role(&self, role: Role) {
        let n = match role {
            Role::Candidate => 0,
            Role::Follower => 1,
            Role::Leader => 2,
        };
        self.role.store(n, Relaxed);
    }

    fn role(&self) -> Role {
        match self.role.load(Relaxed) {
            1 => Role::Follower,
            2 => Role::Leader,
            _ => Role::Candidate,
        }
    }

    fn set_leader(&self, epoch: u64, leader: Option<String>) {
        self.epoch.store(epoch, Relaxed);
        *self.leader.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = leader;
    }

    fn positioned(&self, position: u64) {
        self.position.store(position, Relaxed);
        self.log_end.fetch_max(position, Relaxed);
    }

    fn status(&self, node_id: &str) -> ClusterStatus {
        ClusterStatus {
            node_id: node_id.to_owned(),
            role: self.role(),
            epoch: self.epoch.load(Relaxed),
            leader: self.leader.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone(),
            position: self.position.load(Relaxed),
            log_end: self.log_end.load(Relaxed),
            forwarded: self.forwarded.load(Relaxed),
            remote_sessions: self.remote_sessions.load(Relaxed),
            elections_won: self.elections_won.load(Relaxed),
            step_downs: self.step_downs.load(Relaxed),
        }
    }
}

/// Names of the JetStream objects and subjects of one cluster. Nothing user-controlled (room
/// keys contain `:`, names may contain `.`) ever becomes part of a subject: only the prefix,
/// node ids (both checked) and numbers do.
#[derive(Debug, Clone)]
struct Names {
    prefix: String,
}

impl Names {
    fn stream(&self) -> String {
        format!("{}_log", self.prefix)
    }
    fn log_subject(&self) -> String {
        format!("{}.log", self.prefix)
    }
    fn lease_bucket(&self) -> String {
        format!("{}_lease", self.prefix)
    }
    /// The leader of `epoch` listens here (`open`, `up`, `request`, `add_user`).
    fn leader(&self, epoch: u64, what: &str) -> String {
        format!("{}.lead.{epoch}.{what}", self.prefix)
    }
    /// A gateway's deliveries.
    fn down(&self, node: &str) -> String {
        format!("{}.gw.{node}.down", self.prefix)
    }
    /// A gateway's heartbeat (`*` for every gateway).
    fn beat(&self, node: &str) -> String {
        format!("{}.gw.{node}.beat", self.prefix)
    }
}

type SharedCounters = Arc<Counters>;
