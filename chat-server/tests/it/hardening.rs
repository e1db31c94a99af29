//! Hostile clients at the HTTP layer: foreign `Host` names (DNS rebinding), trickled bodies,
//! too many connections from one address, file modes, HSTS.

use std::net::SocketAddr;
use std::time::Duration;

use chat_server::{Database, Server, ServerConfig};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::support::*;

/// A bound on how long a test waits for something the server must do, so a regression fails
/// instead of hanging. Not a timing assertion: the events asserted happen well before it.
const PATIENCE: Duration = Duration::from_secs(30);

/// A TCP connection from `local` (any 127.0.0.0/8 address works on loopback).
async fn connect_from(local: &str, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{local}:0").parse().unwrap()).unwrap();
    socket.connect(server).await.unwrap()
}

#[tokio::test]
async fn foreign_host_names_are_refused() {
    let server = start().await;
    let addr = server.local_addr();
    let port = addr.port();
    let evil = format!("evil.example:{port}");
    let body = serde_json::to_vec(&json!({"username": "mallory", "password": "password-mallory"})).unwrap();
    let r = send(
        addr,
        "POST",
        "/api/register",
        &[("host", &evil), ("origin", &format!("http://{evil}")), ("content-type", "application/json")],
        Some(body),
    )
    .await;
    assert_eq!(r.status, 421, "a rebinding page cannot sign up");
    assert_eq!(r.code(), "host_not_allowed");
    // Nor open a WebSocket with its own (matching) origin.
    let refused = ws_connect(addr, &[("host", &evil), ("origin", &format!("http://{evil}"))]).await;
    assert_eq!(refused_status(refused), 421);
    assert_eq!(get(addr, "/healthz", None).await.status, 200, "the real address still works");
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}"), format!("[::1]:{port}")] {
        assert_eq!(send(addr, "GET", "/healthz", &[("host", &host)], None).await.status, 200, "{host}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn configured_host_names_are_served() {
    let mut config = ServerConfig::ephemeral();
    config.hosts = vec!["chat.example".into()];
    let server = Server::start(config).await.unwrap();
    let addr = server.local_addr();
    let host = format!("chat.example:{}", addr.port());
    let origin = format!("http://{host}");
    let token = register(addr, "alice").await;
    let cookie = format!("chat_session={token}");
    let ok = ws_connect(addr, &[("host", &host), ("origin", &origin), ("cookie", &cookie)]).await;
    assert!(ok.is_ok(), "the configured name is this server's own origin");
    assert_eq!(send(addr, "GET", "/healthz", &[("host", "chat.example.org")], None).await.status, 421);
    server.shutdown().await;
}

#[tokio::test]
async fn a_trickled_body_times_out() {
    let mut config = ServerConfig::ephemeral();
    config.limits.request_timeout = Duration::from_secs(1);
    let server = Server::start(config).await.unwrap();
    let addr = server.local_addr();
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    // Keep sending a byte now and then, never finishing; the server answers 408 and closes.
    let trickle = async {
        let mut response = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            tokio::select! {
                read = tcp.read(&mut buf) => match read {
                    Ok(0) | Err(_) => return response,
                    Ok(n) => response.extend_from_slice(&buf[..n]),
                },
                _ = tokio::time::sleep(Duration::from_millis(200)) => {
                    let _ = tcp.write_all(b" ").await;
                }
            }
        }
    };
    let response = tokio::time::timeout(PATIENCE, trickle).await.expect("the server ends the request");
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("request_timeout"), "{text}");
    server.shutdown().await;
}

#[tokio::test]
async fn connections_per_address_are_capped() {
    let mut config = ServerConfig::ephemeral();
    config.limits.max_connections_per_addr = 2;
    let server = Server::start(config).await.unwrap();
    let addr = server.local_addr();
    // Two idle connections from 127.0.0.2 (a WebSocket counts like any connection).
    let token = register(addr, "alice").await;
    let _idle = connect_from("127.0.0.2", addr).await;
    let bearer = format!("Bearer {token}");
    let mut req =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!("ws://{addr}/ws"))
            .unwrap();
    req.headers_mut().insert("authorization", bearer.parse().unwrap());
    let tcp = connect_from("127.0.0.2", addr).await;
    let (mut ws, _) =
        tokio_tungstenite::client_async(req, tokio_tungstenite::MaybeTlsStream::Plain(tcp)).await.expect("upgrade");
    assert_eq!(ws_next(&mut ws).await["type"], "connected");
    // The third from that address is closed at once, without an answer.
    let mut third = connect_from("127.0.0.2", addr).await;
    let _ = third.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes()).await;
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(PATIENCE, third.read(&mut buf)).await.expect("closed");
    assert!(matches!(read, Ok(0) | Err(_)), "refused: {read:?}");
    // Another address is not affected.
    assert_eq!(get(addr, "/healthz", None).await.status, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn hsts_only_under_tls() {
    let server = start().await;
    let r = get(server.local_addr(), "/healthz", None).await;
    assert_eq!(r.header("strict-transport-security"), None, "never over plain HTTP");
    server.shutdown().await;
}

#[cfg(unix)]
#[tokio::test]
async fn the_database_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.redb");
    let mut config = ServerConfig::ephemeral();
    config.database = Database::File(path.clone());
    let server = Server::start(config.clone()).await.unwrap();
    register(server.local_addr(), "alice").await;
    server.shutdown().await;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "chat.redb holds every DM and the password hashes");
    // A file created by an older version with a wider mode is tightened at start.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let server = Server::start(config).await.unwrap();
    server.shutdown().await;
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
}
