//! Command-line flags (each with an environment variable) for the `chat-server` binary.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::config::{
    DEFAULT_DB_FILE, DEFAULT_PORT, Database, Limits, MetricsAccess, Registration, SearchDir, ServerConfig, Tls,
};

/// A private group chat for your LAN: rooms, direct messages, @mentions, unread counts and
/// notifications, in the browser. Run it, then open one of the printed URLs.
#[derive(Debug, Clone, Parser)]
#[command(name = "chat-server", version, about, long_about = None)]
#[non_exhaustive]
pub struct Cli {
    /// Address to listen on: 0.0.0.0 for every interface (others on the LAN can join),
    /// 127.0.0.1 for this machine only.
    #[arg(long, env = "CHAT_BIND", default_value = "0.0.0.0")]
    pub bind: IpAddr,

    /// Port to listen on (0 picks a free one).
    #[arg(long, short, env = "CHAT_PORT", default_value_t = DEFAULT_PORT)]
    pub port: u16,

    /// Database file (redb). Created when missing; holds messages, accounts and sessions.
    #[arg(long, env = "CHAT_DB", default_value = DEFAULT_DB_FILE, global = true)]
    pub db: PathBuf,

    /// Directory of the full-text search index (default: next to the database, `chat.search/`
    /// for `chat.redb`). It
    /// is rebuilt from the database in the background when missing or damaged.
    #[arg(long, env = "CHAT_SEARCH_DIR", conflicts_with = "no_search")]
    pub search_dir: Option<PathBuf>,

    /// Run without a search index (`search` answers `search_unavailable`).
    #[arg(long, env = "CHAT_NO_SEARCH")]
    pub no_search: bool,

    /// A maintenance command instead of serving (see `chat-server help COMMAND`).
    #[command(subcommand)]
    pub command: Option<crate::commands::Command>,

    /// Extra origin allowed to open WebSockets and post with the session cookie, as
    /// scheme://host or scheme://host:port (repeat, or comma-separate in the env var). The
    /// server's own origin is always allowed.
    #[arg(long = "origin", env = "CHAT_ORIGINS", value_delimiter = ',')]
    pub origins: Vec<String>,

    /// Extra host name (or address) this server answers to, besides localhost and this
    /// machine's addresses: requests for any other Host get 421, which stops DNS rebinding
    /// (repeat, or comma-separate in the env var). Needed when people reach the server by a
    /// DNS name, for example behind a reverse proxy.
    #[arg(long = "host", env = "CHAT_HOSTS", value_delimiter = ',')]
    pub hosts: Vec<String>,

    /// Serve HTTPS with this certificate chain (PEM). Needs --tls-key.
    #[arg(long, env = "CHAT_TLS_CERT", requires = "tls_key", conflicts_with = "tls_self_signed")]
    pub tls_cert: Option<PathBuf>,

    /// Private key (PEM: PKCS#8, PKCS#1 or SEC1) for --tls-cert.
    #[arg(long, env = "CHAT_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Serve HTTPS with a self-signed certificate for localhost and this machine's LAN
    /// addresses, generated on first run next to the database (chat-cert.pem, chat-key.pem)
    /// and reused later. Browsers warn once; compare the printed fingerprint. HTTPS lets
    /// browsers show desktop notifications for other machines on the LAN.
    #[arg(long, env = "CHAT_TLS_SELF_SIGNED")]
    pub tls_self_signed: bool,

    /// Longest message, in characters.
    #[arg(long, env = "CHAT_MAX_MESSAGE_CHARS", default_value_t = 4_000)]
    pub max_message_chars: usize,

    /// Messages each connection may send per second, sustained.
    #[arg(long, env = "CHAT_SEND_RATE", default_value_t = 10)]
    pub send_rate: u32,

    /// Messages each connection may send in a burst.
    #[arg(long, env = "CHAT_SEND_BURST", default_value_t = 20)]
    pub send_burst: u32,

    /// Most members of a group room.
    #[arg(long, env = "CHAT_MAX_ROOM_MEMBERS", default_value_t = 1_000)]
    pub max_room_members: usize,

    /// Largest HTTP request body, in bytes (larger gets 413).
    #[arg(long, env = "CHAT_MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,

    /// Largest WebSocket message, in bytes.
    #[arg(long, env = "CHAT_MAX_FRAME_BYTES", default_value_t = 64 * 1024)]
    pub max_frame_bytes: usize,

    /// Most open connections at once (HTTP and WebSocket, each counted separately).
    #[arg(long, env = "CHAT_MAX_CONNECTIONS", default_value_t = 20_000)]
    pub max_connections: usize,

    /// Most open connections from one client address (a reverse proxy on this machine counts
    /// as one address: raise this behind one).
    #[arg(long, env = "CHAT_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 128)]
    pub max_connections_per_address: usize,

    /// WebSocket frames per second that all connections from one client address may send
    /// together; past it (and past the burst) those connections stop being read until the
    /// address is back under the rate, so nothing is lost. 0 turns the budget off.
    #[arg(long, env = "CHAT_FRAMES_PER_ADDRESS_PER_SEC", default_value_t = 200)]
    pub frames_per_address_per_sec: u32,

    /// Frames one client address may send at once before the rate above applies.
    #[arg(long, env = "CHAT_FRAME_BURST_PER_ADDRESS", default_value_t = 400)]
    pub frame_burst_per_address: u32,

    /// Seconds one HTTP request may take, headers to answer, body included (slower: 408).
    #[arg(long, env = "CHAT_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,

    /// Register/login attempts allowed per client address per minute.
    #[arg(long, env = "CHAT_LOGIN_ATTEMPTS_PER_MINUTE", default_value_t = 60)]
    pub login_attempts_per_minute: u32,

    /// Failed logins of one user name from one client address before that address must wait
    /// (1 s, doubling per further failure, at most 15 min). Other addresses never wait for them.
    #[arg(long, env = "CHAT_LOGIN_FAILURES_BEFORE_DELAY", default_value_t = 5)]
    pub login_failures_before_delay: u32,

    /// Days a login session stays valid.
    #[arg(long, env = "CHAT_SESSION_DAYS", default_value_t = 30)]
    pub session_days: u64,

    /// Serve GET /metrics to any client, not only to this machine's (loopback) clients.
    #[arg(long, env = "CHAT_METRICS_PUBLIC")]
    pub metrics_public: bool,

    /// Who may create accounts: open (anyone), invite (an invite code from an administrator),
    /// closed (administrators only). Without this flag the mode an administrator last set at
    /// run time applies (open if none was ever set); with it, that stored mode is replaced.
    #[arg(long, env = "CHAT_REGISTRATION", value_enum)]
    pub registration: Option<Registration>,

    /// Directory of attachment files (default: `<db>.attachments` beside the database); also
    /// where `backup` finds them when the server is stopped.
    #[arg(long, env = "CHAT_ATTACHMENTS_DIR", global = true)]
    pub attachments_dir: Option<PathBuf>,

    /// Largest attachment, in MiB.
    #[arg(long, env = "CHAT_MAX_ATTACHMENT_MIB", default_value_t = 10)]
    pub max_attachment_mib: u64,

    /// Storage quota per user for attachments, in MiB.
    #[arg(long, env = "CHAT_ATTACHMENT_QUOTA_MIB", default_value_t = 500)]
    pub attachment_quota_mib: u64,

    /// Attachment uploads per user per minute.
    #[arg(long, env = "CHAT_UPLOADS_PER_MINUTE", default_value_t = 30)]
    pub uploads_per_minute: u32,

    /// Seconds an unreferenced attachment is kept before it is deleted.
    #[arg(long, env = "CHAT_ATTACHMENT_GRACE_SECS", default_value_t = 3600)]
    pub attachment_grace_secs: u64,

    /// Log filter: error, warn, info, debug, trace, or a tracing directive such as
    /// "chat_server=debug,info".
    #[arg(long, env = "CHAT_LOG", default_value = "info")]
    pub log: String,

    /// Run as a node of a cluster: the NATS server(s) with JetStream, e.g.
    /// nats://127.0.0.1:4222 (see docs/scaling.md). Without it the server is a single node.
    #[cfg(feature = "cluster")]
    #[arg(long, env = "CHAT_CLUSTER", requires = "node_id")]
    pub cluster: Option<String>,

    /// This node's name in the cluster (unique; A-Z a-z 0-9 - _).
    #[cfg(feature = "cluster")]
    #[arg(long, env = "CHAT_NODE_ID", requires = "cluster")]
    pub node_id: Option<String>,

    /// Milliseconds a leader's lease lasts without renewal: a dead leader is replaced after
    /// about this long.
    #[cfg(feature = "cluster")]
    #[arg(long, env = "CHAT_CLUSTER_LEASE_MS", default_value_t = 3_000)]
    pub cluster_lease_ms: u64,

    /// Prefix of the cluster's stream, bucket and subjects, so several chats can share NATS.
    #[cfg(feature = "cluster")]
    #[arg(long, env = "CHAT_CLUSTER_PREFIX", default_value = "chat")]
    pub cluster_prefix: String,

    /// JetStream replicas of the log and the lease (3 on a three-server NATS cluster).
    #[cfg(feature = "cluster")]
    #[arg(long, env = "CHAT_CLUSTER_REPLICAS", default_value_t = 1)]
    pub cluster_replicas: usize,
}

impl Cli {
    /// The server configuration these flags describe.
    pub fn config(&self) -> ServerConfig {
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Tls::Files { cert: cert.clone(), key: key.clone() },
            _ if self.tls_self_signed => Tls::SelfSigned { dir: self.db_dir() },
            _ => Tls::Off,
        };
        let mut chat = chat_core::Config::default();
        chat.max_message_chars = self.max_message_chars;
        chat.send_rate_per_sec = self.send_rate;
        chat.send_burst = self.send_burst;
        chat.max_room_members = self.max_room_members;
        let limits = Limits {
            max_body_bytes: self.max_body_bytes,
            max_frame_bytes: self.max_frame_bytes,
            max_connections: self.max_connections,
            max_connections_per_addr: self.max_connections_per_address,
            frames_per_addr: (self.frames_per_address_per_sec > 0)
                .then_some((self.frames_per_address_per_sec, self.frame_burst_per_address)),
            request_timeout: Duration::from_secs(self.request_timeout_secs.max(1)),
            auth_attempts_per_addr: self.login_attempts_per_minute,
            login_failures_before_delay: self.login_failures_before_delay,
            session_ttl: Duration::from_secs(self.session_days.saturating_mul(86_400)),
            ..Limits::default()
        };
        let attachments = crate::AttachmentConfig {
            dir: self.attachments_dir.clone(),
            max_file_bytes: self.max_attachment_mib.saturating_mul(1 << 20),
            quota_bytes: self.attachment_quota_mib.saturating_mul(1 << 20),
            uploads_per_minute: self.uploads_per_minute,
            grace: Duration::from_secs(self.attachment_grace_secs),
            ..crate::AttachmentConfig::default()
        };
        ServerConfig {
            bind: self.bind,
            port: self.port,
            database: Database::File(self.db.clone()),
            origins: self.origins.clone(),
            hosts: self.hosts.clone(),
            tls,
            chat,
            limits,
            metrics: if self.metrics_public { MetricsAccess::Anyone } else { MetricsAccess::Loopback },
            attachments,
            #[cfg(feature = "cluster")]
            cluster: self.cluster_config(),
            registration: self.registration,
            search: match (&self.search_dir, self.no_search) {
                (_, true) => SearchDir::Off,
                (Some(dir), false) => SearchDir::Dir(dir.clone()),
                (None, false) => SearchDir::BesideDatabase,
            },
        }
    }

    #[cfg(feature = "cluster")]
    fn cluster_config(&self) -> Option<chat_ws::cluster::ClusterConfig> {
        let (url, node_id) = (self.cluster.as_ref()?, self.node_id.as_ref()?);
        let mut config = chat_ws::cluster::ClusterConfig::new(url, node_id);
        config.lease_ttl = Duration::from_millis(self.cluster_lease_ms);
        config.prefix = self.cluster_prefix.clone();
        config.replicas = self.cluster_replicas.max(1);
        Some(config)
    }

    /// The folder holding the database (where the self-signed certificate goes).
    fn db_dir(&self) -> PathBuf {
        match self.db.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
            _ => PathBuf::from("."),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn flags_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_match_the_seed() {
        let cli = Cli::try_parse_from(["chat-server"]).unwrap();
        let config = cli.config();
        assert_eq!(config.port, 7812);
        assert!(config.bind.is_unspecified());
        assert_eq!(config.database, Database::File(PathBuf::from("chat.redb")));
        assert_eq!(config.tls, Tls::Off);
        assert_eq!(config.metrics, MetricsAccess::Loopback);
    }

    #[test]
    fn flags_reach_the_config() {
        let cli = Cli::try_parse_from([
            "chat-server",
            "--port",
            "9000",
            "--db",
            "/tmp/x/chat.redb",
            "--origin",
            "https://a.example",
            "--origin",
            "http://b.example:8080",
            "--tls-self-signed",
            "--max-message-chars",
            "100",
        ])
        .unwrap();
        let config = cli.config();
        assert_eq!(config.port, 9000);
        assert_eq!(config.origins.len(), 2);
        assert_eq!(config.tls, Tls::SelfSigned { dir: PathBuf::from("/tmp/x") });
        assert_eq!(config.chat.max_message_chars, 100);
        assert!(Cli::try_parse_from(["chat-server", "--tls-cert", "c.pem"]).is_err());
        let public = Cli::try_parse_from(["chat-server", "--metrics-public"]).unwrap().config();
        assert_eq!(public.metrics, MetricsAccess::Anyone);
    }

    #[test]
    fn subcommands_take_the_database_after_them() {
        use crate::commands::{AdminAction, Command};
        let cli = Cli::try_parse_from(["chat-server", "admin", "grant", "alice", "--db", "/tmp/c.redb"]).unwrap();
        assert_eq!(cli.db, PathBuf::from("/tmp/c.redb"));
        assert!(
            matches!(cli.command, Some(Command::Admin { action: AdminAction::Grant { ref name } }) if name == "alice")
        );
        let cli = Cli::try_parse_from(["chat-server", "backup", "copy.redb"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Backup { ref path }) if path == &PathBuf::from("copy.redb")));
        let cli =
            Cli::try_parse_from(["chat-server", "backup", "copy.redb", "--attachments-dir", "/srv/files"]).unwrap();
        assert_eq!(cli.attachments_dir, Some(PathBuf::from("/srv/files")));
        let cli = Cli::try_parse_from(["chat-server", "--registration", "invite"]).unwrap();
        assert_eq!(cli.config().registration, Some(Registration::Invite));
        assert_eq!(Cli::try_parse_from(["chat-server"]).unwrap().config().registration, None);
        assert!(Cli::try_parse_from(["chat-server", "--registration", "maybe"]).is_err());
    }

    #[test]
    fn metrics_are_for_this_machine_by_default() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let local = MetricsAccess::Loopback;
        assert!(local.allows(ip("127.0.0.1")));
        assert!(local.allows(ip("::1")));
        assert!(local.allows(ip("::ffff:127.0.0.1")), "IPv4 loopback seen through a dual-stack socket");
        assert!(!local.allows(ip("192.168.1.20")));
        assert!(!local.allows(ip("10.0.0.7")));
        assert!(!local.allows(ip("fe80::1")));
        assert!(MetricsAccess::Anyone.allows(ip("192.168.1.20")));
    }
}
