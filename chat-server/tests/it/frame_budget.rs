//! The WebSocket frame budget that all connections of one client address share: many accounts
//! on one machine are slowed down together (their sockets are not read for a while), and no
//! frame is lost; another address is not affected.

use std::net::SocketAddr;
use std::time::Duration;

use chat_server::{Server, ServerConfig};
use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::MaybeTlsStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::*;

/// A bound on how long a test waits for something the server must do, so a regression fails
/// instead of hanging. Not a timing assertion.
const PATIENCE: Duration = Duration::from_secs(30);

/// A signed-in WebSocket from client address `local` (any 127.0.0.0/8 address on loopback),
/// read up to its `connected` event.
async fn signed_in_from(local: &str, server: SocketAddr, token: &str) -> Ws {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{local}:0").parse().unwrap()).unwrap();
    let tcp: TcpStream = socket.connect(server).await.unwrap();
    let mut req = format!("ws://{server}/ws").into_client_request().unwrap();
    req.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::client_async(req, MaybeTlsStream::Plain(tcp)).await.expect("upgrade");
    loop {
        if ws_next(&mut ws).await["type"] == "connected" {
            return ws;
        }
    }
}

/// Sends `n` `list_rooms` frames at once, then reads until `n` `room_list` answers came back.
async fn ask_and_count(ws: &mut Ws, n: usize) {
    for _ in 0..n {
        ws_send(ws, json!({"type": "list_rooms"})).await;
    }
    let mut answers = 0;
    while answers < n {
        let event: Value = tokio::time::timeout(PATIENCE, ws_next(ws)).await.expect("every frame is answered");
        assert_ne!(event["type"], "error", "nothing is refused: {event}");
        if event["type"] == "room_list" {
            answers += 1;
        }
    }
}

async fn frames_throttled(addr: SocketAddr) -> u64 {
    let metrics = get(addr, "/metrics", None).await;
    let text = String::from_utf8(metrics.body.to_vec()).unwrap();
    let line = text.lines().find(|l| l.starts_with("chat_frames_throttled_total ")).expect("metric present");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn accounts_on_one_address_share_a_frame_budget_and_lose_nothing() {
    let mut config = ServerConfig::ephemeral();
    // Far below the per-user buckets of the core (burst 100): only the address budget bites.
    config.limits.frames_per_addr = Some((50, 20));
    let server = Server::start(config).await.unwrap();
    let addr = server.local_addr();
    let (ann, ben, cat) = (register(addr, "ann").await, register(addr, "ben").await, register(addr, "cat").await);

    let mut a = signed_in_from("127.0.0.1", addr, &ann).await;
    let mut b = signed_in_from("127.0.0.1", addr, &ben).await;
    assert_eq!(frames_throttled(addr).await, 0);
    // Two accounts, one address: 80 frames together, four times the burst. Each is answered.
    let (_, _) = tokio::join!(ask_and_count(&mut a, 40), ask_and_count(&mut b, 40));
    let throttled = frames_throttled(addr).await;
    assert!(throttled > 0, "the shared budget held the address back");

    // Another address has a budget of its own: within its burst it is never held back.
    let mut c = signed_in_from("127.0.0.2", addr, &cat).await;
    ask_and_count(&mut c, 15).await;
    assert_eq!(frames_throttled(addr).await, throttled, "127.0.0.2 did not pay for 127.0.0.1");
    server.shutdown().await;
}

#[tokio::test]
async fn the_budget_can_be_turned_off() {
    let mut config = ServerConfig::ephemeral();
    config.limits.frames_per_addr = None;
    let server = Server::start(config).await.unwrap();
    let addr = server.local_addr();
    let ann = register(addr, "ann").await;
    let mut a = signed_in_from("127.0.0.1", addr, &ann).await;
    ask_and_count(&mut a, 90).await;
    assert_eq!(frames_throttled(addr).await, 0);
    server.shutdown().await;
}
