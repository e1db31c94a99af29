//! [`ServerConfig`]: everything the server needs to start, with documented defaults.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

/// The port the seed listened on, and ours by default.
pub const DEFAULT_PORT: u16 = 7812;
/// The database file, relative to the working directory, by default.
pub const DEFAULT_DB_FILE: &str = "chat.redb";

/// How to start a server. `ServerConfig::default()` is what the binary runs with no flags:
/// `0.0.0.0:7812`, `chat.redb` in the working directory, plain HTTP.
///
/// ```
/// let mut config = chat_server::ServerConfig::ephemeral();
/// config.limits.max_body_bytes = 16 * 1024;
/// assert_eq!(config.port, 0);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Address to listen on.
    pub bind: IpAddr,
    /// Port to listen on (0 picks a free one; see [`RunningServer::local_addr`]).
    ///
    /// [`RunningServer::local_addr`]: crate::RunningServer::local_addr
    pub port: u16,
    /// Where messages, accounts and sessions live.
    pub database: Database,
    /// Extra origins (`scheme://host[:port]`) allowed to open WebSockets, besides the server's
    /// own origin (the `Host` the browser used).
    pub origins: Vec<String>,
    /// Extra names (`chat.example`, or an address) this server answers to, besides `localhost`
    /// and this machine's addresses. Requests for any other `Host` get 421 (DNS rebinding).
    pub hosts: Vec<String>,
    /// HTTPS or not.
    pub tls: Tls,
    /// Limits and timings of the chat core (message length, rate limits, …).
    pub chat: chat_core::Config,
    /// HTTP, account and connection limits.
    pub limits: Limits,
    /// Who may read `GET /metrics`.
    pub metrics: MetricsAccess,
    /// Where attachments live and their limits.
    pub attachments: crate::AttachmentConfig,
    /// Run as a node of a cluster on NATS JetStream (`None`: a single node).
    #[cfg(feature = "cluster")]
    pub cluster: Option<chat_ws::cluster::ClusterConfig>,
    /// Who may create accounts. `None` keeps the mode stored in the database (set at run time by
    /// an administrator), or [`Registration::Open`] when none was ever set; `Some` stores it at
    /// start-up.
    pub registration: Option<Registration>,
    /// Where the full-text search index lives ([`SearchDir::BesideDatabase`] by default).
    pub search: SearchDir,
}

/// Where the search index (chat-search) lives. It is derived state: delete it and it is
/// rebuilt from the database in the background at the next start.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SearchDir {
    /// Beside the database file, named after it (`chat.redb` → `chat.search/`; the default);
    /// no search for an in-memory database.
    #[default]
    BesideDatabase,
    /// This directory.
    Dir(PathBuf),
    /// No search: `search` answers `search_unavailable`.
    Off,
}

/// Who may create accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
#[non_exhaustive]
pub enum Registration {
    /// Anyone who reaches the server (the default).
    #[default]
    Open,
    /// Sign-up needs an invite code made by an administrator.
    Invite,
    /// Only administrators create accounts.
    Closed,
}

impl Registration {
    /// The mode as stored and sent (`open`, `invite`, `closed`).
    pub fn as_str(self) -> &'static str {
        match self {
            Registration::Open => "open",
            Registration::Invite => "invite",
            Registration::Closed => "closed",
        }
    }

    /// The mode named `s`.
    pub fn parse(s: &str) -> Option<Registration> {
        match s {
            "open" => Some(Registration::Open),
            "invite" => Some(Registration::Invite),
            "closed" => Some(Registration::Closed),
            _ => None,
        }
    }
}

/// Who may read `GET /metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum MetricsAccess {
    /// Clients on this machine only (`127.0.0.1`, `::1`): the default, because the server listens
    /// on the LAN and the counters tell anyone who can reach it how active the chat is.
    #[default]
    Loopback,
    /// Anyone who can reach the server (put a firewall or a proxy in front).
    Anyone,
}

impl MetricsAccess {
    /// Whether a client at `peer` may read the metrics.
    pub fn allows(self, peer: IpAddr) -> bool {
        match self {
            MetricsAccess::Anyone => true,
            MetricsAccess::Loopback => peer.to_canonical().is_loopback(),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: DEFAULT_PORT,
            database: Database::File(PathBuf::from(DEFAULT_DB_FILE)),
            origins: Vec::new(),
            hosts: Vec::new(),
            tls: Tls::Off,
            chat: chat_core::Config::default(),
            limits: Limits::default(),
            metrics: MetricsAccess::default(),
            attachments: crate::AttachmentConfig::default(),
            #[cfg(feature = "cluster")]
            cluster: None,
            registration: None,
            search: SearchDir::default(),
        }
    }
}

impl ServerConfig {
    /// A server for tests and embedding: `127.0.0.1`, a free port, an in-memory database, and
    /// cheap password hashing ([`PasswordCost::TESTING`]). Nothing survives
    /// [`RunningServer::shutdown`](crate::RunningServer::shutdown).
    pub fn ephemeral() -> ServerConfig {
        let limits = Limits { password_cost: PasswordCost::TESTING, ..Limits::default() };
        ServerConfig {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            database: Database::Memory,
            limits,
            ..ServerConfig::default()
        }
    }
}

/// Where the server keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Database {
    /// A redb file (created when missing).
    File(PathBuf),
    /// In memory: lost at shutdown.
    Memory,
}

/// Whether and how to serve HTTPS.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Tls {
    /// Plain HTTP.
    Off,
    /// A certificate chain and private key from PEM files.
    Files {
        /// Certificate chain, leaf first.
        cert: PathBuf,
        /// The private key (PKCS#8, PKCS#1 or SEC1).
        key: PathBuf,
    },
    /// A self-signed certificate for `localhost`, `127.0.0.1` and the machine's LAN addresses,
    /// generated on first run into `dir` (`chat-cert.pem` / `chat-key.pem`) and reused later.
    SelfSigned {
        /// Where the files live: next to the database by default.
        dir: PathBuf,
    },
}

/// Limits of the HTTP front end and the account system.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest request body accepted, in bytes (default 64 KiB); larger gets 413.
    pub max_body_bytes: usize,
    /// Largest WebSocket message, in bytes (default 64 KiB).
    pub max_frame_bytes: usize,
    /// Most open connections (HTTP and WebSocket) at once (default 20,000); more are refused.
    pub max_connections: usize,
    /// Most open connections from one client address (default 128); more are refused, so one
    /// machine cannot fill [`max_connections`](Limits::max_connections).
    pub max_connections_per_addr: usize,
    /// WebSocket frames per second, and burst, that all connections of one client address
    /// share (default 200/s, burst 400; `None`: no shared budget). Past it those connections
    /// are not read until the address is back under the rate (back-pressure, nothing lost), so
    /// many accounts on one machine cannot together outrun the per-user buckets of the core.
    pub frames_per_addr: Option<(u32, u32)>,
    /// How long one HTTP request may take, headers to response, body included (default 30 s):
    /// a client trickling its body is answered 408 and disconnected.
    pub request_timeout: Duration,
    /// Password hashes computed at once (default 2); the rest wait in a bounded queue.
    pub max_concurrent_hashes: usize,
    /// Requests allowed to wait for a hashing slot (default 64); more get 503.
    pub max_hash_queue: usize,
    /// Register/login attempts per client address per minute (default 60).
    pub auth_attempts_per_addr: u32,
    /// Failed logins of one user name from one client address that cost nothing (default 5).
    /// After them that address waits [`login_failure_delay`](Limits::login_failure_delay)
    /// before its next try of that name, doubling with each further failure (at most 15
    /// minutes); 15 minutes without a failure start over. Other addresses are not affected, so
    /// nobody can lock an owner out of their account by guessing.
    pub login_failures_before_delay: u32,
    /// The first delay after the free failures (default 1 s).
    pub login_failure_delay: Duration,
    /// How long a session token is valid (default 30 days).
    pub session_ttl: Duration,
    /// Argon2id cost of password hashing.
    pub password_cost: PasswordCost,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body_bytes: 64 * 1024,
            max_frame_bytes: 64 * 1024,
            max_connections: 20_000,
            max_connections_per_addr: 128,
            frames_per_addr: Some((200, 400)),
            request_timeout: Duration::from_secs(30),
            max_concurrent_hashes: 2,
            max_hash_queue: 64,
            auth_attempts_per_addr: 60,
            login_failures_before_delay: 5,
            login_failure_delay: Duration::from_secs(1),
            session_ttl: Duration::from_secs(30 * 24 * 3600),
            password_cost: PasswordCost::default(),
        }
    }
}

/// Argon2id parameters. Stored hashes carry their own parameters, so changing these affects
/// only new hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordCost {
    /// Memory, KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
}

impl PasswordCost {
    /// The OWASP recommendation for argon2id: 19 MiB, 2 iterations (the default).
    pub const RECOMMENDED: PasswordCost = PasswordCost { memory_kib: 19 * 1024, iterations: 2 };
    /// Cheap hashing for tests (unoptimised builds hash slowly). Never for real accounts.
    pub const TESTING: PasswordCost = PasswordCost { memory_kib: 256, iterations: 1 };
}

impl Default for PasswordCost {
    fn default() -> PasswordCost {
        PasswordCost::RECOMMENDED
    }
}
