//! [`Server::start`]: opens the store, starts the hub, binds, and serves HTTP/1.1 (optionally
//! over TLS) until [`RunningServer::shutdown`].

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use chat_ws::{ConnLimits, HubConfig, spawn_hub};
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::accounts::Accounts;
use crate::config::{Database, ServerConfig, Tls};
use crate::http::{self, App};
use crate::metrics::ServerMetrics;
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
            Database::File(path) => chat_store::Store::open(path)?,
            Database::Memory => chat_store::Store::in_memory()?,
        };
        let mut hub_config = HubConfig::default();
        hub_config.chat = config.chat.clone();
        hub_config.limits = conn_limits(&config);
        let (hub, hub_task) = spawn_hub(hub_config, store.clone())?;

        let addr = SocketAddr::new(config.bind, config.port);
        let listener = TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr, source })?;
        let local_addr = listener.local_addr().map_err(|source| StartError::Bind { addr, source })?;

        let (rest_ops, rest_sends) = http::rest_throttles(&config.chat);
        let app = Arc::new(App {
            accounts: Accounts::new(Arc::new(store), &config.limits),
            hub: hub.clone(),
            metrics: ServerMetrics::default(),
            ws_slots: Arc::new(Semaphore::new(config.limits.max_connections)),
            origins: config.origins.iter().map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase()).collect(),
            tls: tls.is_some(),
            max_body_bytes: config.limits.max_body_bytes,
            session_ttl_secs: config.limits.session_ttl.as_secs(),
            metrics_access: config.metrics,
            rest_ops,
            rest_sends,
            sockets: http::Sockets::default(),
        });
        let scheme = if tls.is_some() { "https" } else { "http" };
        let urls = crate::net::urls(scheme, local_addr, &lan);
        let (stop_tx, stop_rx) = watch::channel(false);
        let acceptor = tls.as_ref().map(|t| tokio_rustls::TlsAcceptor::from(t.config.clone()));
        let slots = Arc::new(Semaphore::new(config.limits.max_connections));
        let sweep_task = tokio::spawn(sweep_tokens(app.clone(), stop_rx.clone()));
        let accept_task = tokio::spawn(accept_loop(listener, app, acceptor, slots, stop_rx));
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
            hub,
            hub_task,
        })
    }
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
    hub: chat_ws::HubHandle,
    hub_task: JoinHandle<()>,
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
        self.hub.shutdown().await;
        let _ = self.hub_task.await;
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

async fn accept_loop(
    listener: TcpListener,
    app: Arc<App>,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    slots: Arc<Semaphore>,
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
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    app.metrics.connections_refused.fetch_add(1, Relaxed);
                    drop(tcp);
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                let (app, acceptor, stop) = (app.clone(), acceptor.clone(), stop.clone());
                connections.spawn(async move {
                    app.metrics.connections_open.fetch_add(1, Relaxed);
                    serve_connection(tcp, peer, app.clone(), acceptor, stop).await;
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

async fn serve_connection(
    tcp: TcpStream,
    peer: SocketAddr,
    app: Arc<App>,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    stop: watch::Receiver<bool>,
) {
    match acceptor {
        None => serve_http(TokioIo::new(tcp), peer, app, stop).await,
        Some(acceptor) => match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
            Ok(Ok(stream)) => serve_http(TokioIo::new(stream), peer, app, stop).await,
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

async fn serve_http<I>(io: I, peer: SocketAddr, app: Arc<App>, mut stop: watch::Receiver<bool>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = service_fn(move |req| http::handle(app.clone(), peer, req));
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
