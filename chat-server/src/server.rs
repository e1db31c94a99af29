//! [`Server::start`]: opens the store, starts the hub, binds, and serves HTTP/1.1 (optionally
//! over TLS) until [`RunningServer::shutdown`].

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use chat_ws::{ConnLimits, HubConfig, spawn_hub};
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt as _;

use crate::accounts::Accounts;
use crate::config::{Database, ServerConfig, Tls};
use crate::conn::{AddrSlot, PerAddress};
use crate::hosts::Hosts;
use crate::metrics::ServerMetrics;
use crate::state::{self, App};
use crate::tls::{self, TlsError};

/// How long a client may take to send its request headers or finish a TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for in-flight HTTP requests.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The database could not be opened.
    #[error("cannot open the database: {0}")]
    Store(#[from] chat_store::OpenError),
    /// The database could not be read at start-up.
    #[error("cannot read the database: {0}")]
    Snapshot(#[from] chat_store::StoreError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// TLS could not be set up.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The node could not join its cluster.
    #[cfg(feature = "cluster")]
    #[error("cannot join the cluster: {0}")]
    Cluster(#[from] chat_ws::cluster::ClusterError),
    /// The database file's mode could not be set.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
}

/// Creates the database file with mode 0600 before a byte is written to it (it holds every DM
/// and the password hashes): an empty redb database that `Store::open` then initialises; or
/// tightens an existing file to 0600. A missing folder is left for the store to report.
fn private_file(path: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let created = std::fs::OpenOptions::new().read(true).write(true).create_new(true).mode(0o600).open(path);
        match created {
            Ok(file) => {
                // `Store::open` refuses an empty file (that is damage, not a new store).
                let backend = redb::backends::FileBackend::new(file).map_err(std::io::Error::other)?;
                redb::Builder::new().create_with_backend(backend).map_err(std::io::Error::other)?;
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let mode = std::fs::metadata(path)?.permissions().mode();
                if mode & 0o077 != 0 {
                    tracing::info!(path = %path.display(), "making the database readable by its owner only (0600)");
                    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
                }
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// The reference chat server.
///
/// ```no_run
/// # async fn run() -> Result<(), chat_server::StartError> {
/// let server = chat_server::Server::start(chat_server::ServerConfig::ephemeral()).await?;
/// println!("listening on {}", server.url());
/// server.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Server(());

impl Server {
    /// Opens the database, starts the hub, binds and serves in the background. Must be called
    /// inside a tokio runtime. Returns once the socket is listening.
    pub async fn start(config: ServerConfig) -> Result<RunningServer, StartError> {
        let lan = crate::net::lan_addresses();
        let tls = match &config.tls {
            Tls::Off => None,
            Tls::Files { cert, key } => Some(tls::from_files(cert, key)?),
            Tls::SelfSigned { dir } => Some(tls::self_signed(dir, &lan)?),
        };
        let store = match &config.database {
            Database::File(path) => {
                private_file(path).map_err(|source| StartError::Io { path: path.clone(), source })?;
                chat_store::Store::open(path)?
            }
            Database::Memory => chat_store::Store::in_memory()?,
        };
        let attachments = attachment_service(&config, &store)?;
        let mut hub_config = HubConfig::default();
        if attachments.is_some() {
            let resolver = crate::attachments::StoreResolver(store.clone());
            hub_config.attachments = chat_ws::Resolver(Some(Arc::new(resolver)));
        }
        hub_config.chat = config.chat.clone();
        hub_config.limits = conn_limits(&config);
        // The index follows the leader's commits (in cluster mode: see docs/search.md).
        let indexer = crate::search::dir(&config.search, &config.database)
            .and_then(|dir| crate::search::start(&dir, store.clone()));
        hub_config.search = indexer.as_ref().map(|i| chat_ws::SearchSeam::new(crate::search::Seam::new(i)));
        #[cfg(feature = "cluster")]
        let (hub, hub_task, cluster) = match &config.cluster {
            Some(cluster) => {
                let mut cluster = cluster.clone();
                cluster.advertise.get_or_insert_with(|| format!("{}:{}", config.bind, config.port));
                let (node, hub, task) = chat_ws::cluster::start(cluster, hub_config, store.clone()).await?;
                (hub, task, Some(node))
            }
            None => {
                let (hub, task) = spawn_hub(hub_config, store.clone())?;
                (hub, task, None)
            }
        };
        #[cfg(not(feature = "cluster"))]
        let (hub, hub_task) = spawn_hub(hub_config, store.clone())?;

        let addr = SocketAddr::new(config.bind, config.port);
        let listener = TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr, source })?;
        let local_addr = listener.local_addr().map_err(|source| StartError::Bind { addr, source })?;

        let (rest_ops, rest_sends) = state::rest_throttles(&config.chat);
        // In a cluster, accounts and sessions are cluster-wide (crate::cluster_accounts).
        #[cfg(feature = "cluster")]
        let on_ended: Arc<std::sync::OnceLock<crate::cluster_accounts::OnEnded>> = Arc::default();
        #[cfg(feature = "cluster")]
        let account_store: Arc<dyn crate::account_store::AccountStore> = match &cluster {
            Some(node) => {
                Arc::new(crate::cluster_accounts::ClusterAccounts::start(node, store.clone(), on_ended.clone()).await?)
            }
            None => Arc::new(store.clone()),
        };
        #[cfg(not(feature = "cluster"))]
        let account_store: Arc<dyn crate::account_store::AccountStore> = Arc::new(store.clone());
        let accounts = Accounts::new(account_store, &config.limits);
        if let Some(mode) = config.registration {
            // Given on the command line: it wins over the mode an administrator stored.
            accounts.store.set_registration(mode).map_err(|e| match e {
                crate::account_store::AccountStoreError::Store(e) => StartError::Snapshot(e),
                #[cfg(feature = "cluster")]
                crate::account_store::AccountStoreError::Cluster(e) => StartError::Cluster(e),
            })?;
        }
        if store.admin_count()? == 0 && !store.accounts(None, 1)?.is_empty() {
            tracing::warn!("no administrator: run `chat-server admin grant NAME --db FILE` with the server stopped");
        }
        let app = Arc::new(App {
            accounts,
            hub: hub.clone(),
            metrics: ServerMetrics::default(),
            ws_slots: Arc::new(Semaphore::new(config.limits.max_connections)),
            origins: config.origins.iter().map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase()).collect(),
            hosts: Hosts::new(&config.hosts, config.bind, &lan),
            tls: tls.is_some(),
            session_ttl_secs: config.limits.session_ttl.as_secs(),
            metrics_access: config.metrics,
            rest_ops,
            rest_sends,
            attachments: attachments.clone(),
            #[cfg(feature = "cluster")]
            cluster: cluster.clone(),
        });
        #[cfg(feature = "cluster")]
        {
            let app = Arc::downgrade(&app);
            let close: crate::cluster_accounts::OnEnded = Box::new(move |tokens| {
                if let Some(app) = app.upgrade() {
                    app.end_sessions(tokens);
                }
            });
            let _ = on_ended.set(close);
        }
        let router = crate::http::router(app.clone(), config.limits.request_timeout, config.limits.max_body_bytes);
        let scheme = if tls.is_some() { "https" } else { "http" };
        let urls = crate::net::urls(scheme, local_addr, &lan);
        let (stop_tx, stop_rx) = watch::channel(false);
        let acceptor = tls.as_ref().map(|t| tokio_rustls::TlsAcceptor::from(t.config.clone()));
        let limits = ConnectionLimits {
            total: Arc::new(Semaphore::new(config.limits.max_connections)),
            per_addr: Arc::new(PerAddress::new(config.limits.max_connections_per_addr, config.limits.frames_per_addr)),
        };
        let sweep_task = tokio::spawn(sweep_tokens(app.clone(), stop_rx.clone()));
        let flush_task = tokio::spawn(flush_uses(app.clone(), stop_rx.clone()));
        if let Some(attachments) = attachments {
            // Ends when `stop` turns true; a collection cut short by shutdown is redone later.
            tokio::spawn(crate::attachments::collect_loop(attachments, stop_rx.clone()));
        }
        #[cfg(unix)]
        let control_task = match &config.database {
            Database::File(path) => Some(tokio::spawn(crate::control::serve(
                crate::control::socket_path(path),
                store.clone(),
                app.clone(),
                stop_rx.clone(),
            ))),
            Database::Memory => None,
        };
        #[cfg(not(unix))]
        let control_task: Option<JoinHandle<()>> = None;
        let accept_task = tokio::spawn(accept_loop(listener, app, router, acceptor, limits, stop_rx));
        tracing::info!(%local_addr, scheme, "listening");
        Ok(RunningServer {
            local_addr,
            scheme,
            urls,
            tls_fingerprint: tls.as_ref().map(|t| t.fingerprint.clone()),
            tls_cert: tls.as_ref().map(|t| (t.cert_path.clone(), t.generated)),
            stop: stop_tx,
            accept_task,
            sweep_task,
            flush_task,
            control_task,
            hub,
            hub_task,
            indexer,
            #[cfg(feature = "cluster")]
            cluster,
        })
    }
}

/// The attachment service: in `config.attachments.dir`, else `<database>.attachments/` beside a
/// database file; none for an in-memory database without a directory.
fn attachment_service(
    config: &ServerConfig,
    store: &chat_store::Store,
) -> Result<Option<Arc<crate::attachments::Attachments>>, StartError> {
    let dir = config.attachments.dir.clone().or_else(|| match &config.database {
        Database::File(path) => {
            let mut dir = path.as_os_str().to_owned();
            dir.push(".attachments");
            Some(PathBuf::from(dir))
        }
        Database::Memory => None,
    });
    let Some(dir) = dir else { return Ok(None) };
    let service = crate::attachments::Attachments::open(dir.clone(), store.clone(), config.attachments.clone())
        .map_err(|source| StartError::Io { path: dir, source })?;
    Ok(Some(Arc::new(service)))
}

fn conn_limits(config: &ServerConfig) -> ConnLimits {
    let mut limits = ConnLimits::default();
    limits.max_frame_bytes = config.limits.max_frame_bytes;
    limits.max_message_bytes = config.limits.max_frame_bytes;
    limits
}

/// A started server. Dropping it without [`shutdown`](RunningServer::shutdown) stops accepting
/// and closes idle HTTP connections, but skips the orderly hub shutdown.
#[derive(Debug)]
pub struct RunningServer {
    local_addr: SocketAddr,
    scheme: &'static str,
    urls: Vec<String>,
    tls_fingerprint: Option<String>,
    tls_cert: Option<(PathBuf, bool)>,
    stop: watch::Sender<bool>,
    accept_task: JoinHandle<()>,
    sweep_task: JoinHandle<()>,
    flush_task: JoinHandle<()>,
    control_task: Option<JoinHandle<()>>,
    hub: chat_ws::HubHandle,
    hub_task: JoinHandle<()>,
    indexer: Option<chat_search::Indexer>,
    #[cfg(feature = "cluster")]
    cluster: Option<chat_ws::cluster::ClusterNode>,
}

impl RunningServer {
    /// The address the server listens on (with the real port when started with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://` or `https://` plus the listening address (`127.0.0.1:port` when bound to every
    /// interface), without a trailing slash: for clients on this machine.
    pub fn url(&self) -> String {
        let ip = match self.local_addr.ip() {
            IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        format!("{}://{}", self.scheme, SocketAddr::new(ip, self.local_addr.port()))
    }

    /// The URLs people can open: localhost and every LAN address (for the start-up banner).
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// This node's view of its cluster (`None` for a single node).
    #[cfg(feature = "cluster")]
    pub fn cluster_status(&self) -> Option<chat_ws::cluster::ClusterStatus> {
        self.cluster.as_ref().map(|c| c.status())
    }

    /// SHA-256 fingerprint of the TLS certificate (`AB:CD:…`), when serving HTTPS.
    pub fn tls_fingerprint(&self) -> Option<&str> {
        self.tls_fingerprint.as_deref()
    }

    /// The certificate file and whether this start generated it, when serving HTTPS.
    pub fn tls_certificate(&self) -> Option<(&std::path::Path, bool)> {
        self.tls_cert.as_ref().map(|(p, generated)| (p.as_path(), *generated))
    }

    /// Graceful shutdown: stops accepting, lets in-flight HTTP requests finish (up to 5 s),
    /// then shuts the hub down (it commits everything in flight and closes every WebSocket with
    /// 1001), and returns when the database is closed. Nothing acknowledged is lost.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.accept_task.await;
        let _ = self.sweep_task.await;
        let _ = self.flush_task.await;
        if let Some(task) = self.control_task {
            let _ = task.await;
        }
        self.hub.shutdown().await;
        let _ = self.hub_task.await;
        if let Some(indexer) = self.indexer {
            // Its last commit, then the running marker goes (a clean stop needs no rebuild).
            let _ = tokio::task::spawn_blocking(move || indexer.shutdown()).await;
        }
        tracing::info!("stopped");
    }
}

/// How often expired login tokens are deleted.
const TOKEN_SWEEP_INTERVAL: Duration = Duration::from_secs(3600);

/// Deletes expired login tokens at start-up and then hourly, until the server stops.
async fn sweep_tokens(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    loop {
        match app.accounts.sweep_expired().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "expired login tokens deleted"),
            Err(e) => tracing::warn!(error = %e, "could not delete expired login tokens"),
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(TOKEN_SWEEP_INTERVAL) => {}
        }
    }
}

/// Writes the recorded session uses every `USE_FLUSH_INTERVAL`, and once more at shutdown.
async fn flush_uses(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    loop {
        let stopping = tokio::select! {
            _ = stop.changed() => true,
            _ = tokio::time::sleep(crate::accounts::USE_FLUSH_INTERVAL) => false,
        };
        if let Err(e) = app.accounts.flush_uses().await {
            tracing::warn!(error = %e, "could not record session uses");
        }
        if stopping {
            return;
        }
    }
}

/// The accept loop's bounds: all connections, and connections per client address.
struct ConnectionLimits {
    total: Arc<Semaphore>,
    per_addr: Arc<PerAddress>,
}

async fn accept_loop(
    listener: TcpListener,
    app: Arc<App>,
    router: Router,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(ok) => ok,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(slot) = limits.total.clone().try_acquire_owned() else {
                    app.metrics.connections_refused.fetch_add(1, Relaxed);
                    drop(tcp);
                    continue;
                };
                // Held by the connection and by a WebSocket upgraded from it.
                let Some(addr_slot) = limits.per_addr.try_acquire(peer.ip()) else {
                    app.metrics.connections_refused.fetch_add(1, Relaxed);
                    tracing::debug!(%peer, "connection refused: too many from this address");
                    drop(tcp);
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                let (app, router, acceptor, stop) = (app.clone(), router.clone(), acceptor.clone(), stop.clone());
                connections.spawn(async move {
                    app.metrics.connections_open.fetch_add(1, Relaxed);
                    let conn = Conn { peer, router, addr_slot: Arc::new(addr_slot) };
                    serve_connection(tcp, conn, &app, acceptor, stop).await;
                    app.metrics.connections_open.fetch_sub(1, Relaxed);
                    drop(slot);
                });
            }
        }
    }
    drop(listener);
    // Let in-flight requests finish; each connection saw `stop` and shuts down gracefully.
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async { while connections.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        connections.abort_all();
    }
}

/// One accepted connection: who, what serves it, and its place in the per-address count.
struct Conn {
    peer: SocketAddr,
    router: Router,
    addr_slot: Arc<AddrSlot>,
}

async fn serve_connection(
    tcp: TcpStream,
    conn: Conn,
    app: &App,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    stop: watch::Receiver<bool>,
) {
    let peer = conn.peer;
    match acceptor {
        None => serve_http(TokioIo::new(tcp), conn, stop).await,
        Some(acceptor) => match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
            Ok(Ok(stream)) => serve_http(TokioIo::new(stream), conn, stop).await,
            Ok(Err(e)) => {
                app.metrics.tls_handshake_failures.fetch_add(1, Relaxed);
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
            }
            Err(_) => {
                app.metrics.tls_handshake_failures.fetch_add(1, Relaxed);
            }
        },
    }
}

async fn serve_http<I>(io: I, conn: Conn, mut stop: watch::Receiver<bool>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let Conn { peer, router, addr_slot } = conn;
    let service = service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        req.extensions_mut().insert(addr_slot.clone());
        router.clone().oneshot(req)
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HANDSHAKE_TIMEOUT)
        .max_buf_size(64 * 1024)
        .serve_connection(io, service)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::trace!(%peer, error = %e, "connection ended");
            }
        }
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}
