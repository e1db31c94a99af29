//! A TCP proxy in front of the test server that misbehaves on purpose for WebSocket upgrades
//! (`GET /ws`): it passes them through, refuses them, or lets the server's `connected` frame
//! through and then drops the socket (what a client sees when every resume kills its
//! connection). Everything else (the page, the REST calls) passes through untouched. It counts
//! upgrade attempts, so a test can check how often the page reconnects.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the proxy does with a WebSocket upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward it to the server.
    Pass = 0,
    /// Close the TCP connection without answering.
    Refuse = 1,
    /// Forward it until the server's `connected` frame reached the page, then close both sides.
    DropAfterConnected = 2,
}

struct Shared {
    upstream: SocketAddr,
    mode: AtomicU8,
    upgrades: AtomicUsize,
    /// Bumped to close every WebSocket currently passing through.
    kill: watch::Sender<u64>,
}

/// The running proxy; stops on drop.
pub struct Proxy {
    shared: Arc<Shared>,
    port: u16,
    task: JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free loopback port in front of `upstream`.
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.expect("bind the proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let shared = Arc::new(Shared {
            upstream,
            mode: AtomicU8::new(Mode::Pass as u8),
            upgrades: AtomicUsize::new(0),
            kill: watch::channel(0).0,
        });
        let accept = Arc::clone(&shared);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(serve(Arc::clone(&accept), client));
            }
        });
        Proxy { shared, port, task }
    }

    /// `http://127.0.0.1:<proxy port>`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Changes what later upgrades get, and closes the WebSockets open now.
    pub fn set_mode(&self, mode: Mode) {
        self.shared.mode.store(mode as u8, Ordering::SeqCst);
        self.shared.kill.send_modify(|n| *n += 1);
    }

    /// WebSocket upgrade requests seen so far.
    pub fn upgrades(&self) -> usize {
        self.shared.upgrades.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        self.shared.kill.send_modify(|n| *n += 1);
    }
}

/// The end of the request head, if `buf` holds all of it.
fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|at| at + 4)
}

async fn serve(shared: Arc<Shared>, mut client: TcpStream) {
    // Read the first request head to see whether it is an upgrade to /ws.
    let mut head = Vec::new();
    let mut chunk = [0u8; 4096];
    while head_end(&head).is_none() {
        match client.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
        }
        if head.len() > 64 * 1024 {
            return;
        }
    }
    let is_ws = head.starts_with(b"GET /ws ") || head.starts_with(b"GET /ws?");
    let mode = if is_ws {
        shared.upgrades.fetch_add(1, Ordering::SeqCst);
        match shared.mode.load(Ordering::SeqCst) {
            1 => Mode::Refuse,
            2 => Mode::DropAfterConnected,
            _ => Mode::Pass,
        }
    } else {
        Mode::Pass
    };
    if mode == Mode::Refuse {
        return; // Dropping `client` closes the connection.
    }
    let Ok(mut upstream) = TcpStream::connect(shared.upstream).await else { return };
    if upstream.write_all(&head).await.is_err() {
        return;
    }
    let mut kill = shared.kill.subscribe();
    if !is_ws {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        return;
    }
    match mode {
        Mode::DropAfterConnected => {
            let (mut client_rd, mut client_wr) = client.into_split();
            let (mut up_rd, mut up_wr) = upstream.into_split();
            let to_server = tokio::spawn(async move {
                let _ = tokio::io::copy(&mut client_rd, &mut up_wr).await;
            });
            // Server frames are unmasked, uncompressed text: the `connected` frame is visible.
            let mut seen = Vec::new();
            let mut buf = [0u8; 8192];
            loop {
                let n = match up_rd.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                if client_wr.write_all(&buf[..n]).await.is_err() {
                    break;
                }
                seen.extend_from_slice(&buf[..n]);
                const NEEDLE: &[u8] = b"\"type\":\"connected\"";
                if seen.windows(NEEDLE.len()).any(|w| w == NEEDLE) {
                    break;
                }
            }
            let _ = client_wr.flush().await;
            to_server.abort();
        }
        _ => {
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
                _ = kill.changed() => {}
            }
        }
    }
}
