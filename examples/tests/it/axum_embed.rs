//! The axum embedding example, served on 127.0.0.1:0: the app's own login, chat over its route,
//! and its logout closing the chat socket.

use std::net::SocketAddr;

use chat_core::{ClientMsg, Codec, RoomRef, ServerMsg};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

#[path = "../../examples/axum_embed.rs"]
mod app;

type Ws = tokio_tungstenite::WebSocketStream<TcpStream>;

/// One HTTP/1.1 request without a body; returns the status line's code and the response.
async fn http(addr: SocketAddr, method: &str, path: &str, cookie: Option<&str>) -> (u16, String) {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let cookie = cookie.map(|c| format!("Cookie: {c}\r\n")).unwrap_or_default();
    let request =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{cookie}Content-Length: 0\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.unwrap();
    let code = response.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap();
    (code, response)
}

/// Logs in with the app's own login; returns the `sid=…` cookie.
async fn login(addr: SocketAddr, user: &str) -> String {
    let (code, response) = http(addr, "POST", &format!("/login?user={user}"), None).await;
    assert_eq!(code, 200, "{response}");
    let line = response.lines().find(|l| l.to_ascii_lowercase().starts_with("set-cookie:")).unwrap();
    line.split_once(':').unwrap().1.trim().split(';').next().unwrap().to_owned()
}

async fn open(addr: SocketAddr, cookie: Option<&str>) -> Result<Ws, WsError> {
    let mut request = format!("ws://{addr}/chat").into_client_request().unwrap();
    let headers = request.headers_mut();
    headers.insert("sec-websocket-protocol", HeaderValue::from_static("chat.v1.json"));
    if let Some(cookie) = cookie {
        headers.insert("cookie", HeaderValue::from_str(cookie).unwrap());
    }
    let tcp = TcpStream::connect(addr).await.unwrap();
    Ok(tokio_tungstenite::client_async(request, tcp).await?.0)
}

async fn send(ws: &mut Ws, msg: &ClientMsg) {
    let text = String::from_utf8(Codec::Json.encode_client(msg).unwrap()).unwrap();
    ws.send(Message::Text(text.into())).await.unwrap();
}

/// The next event for which `pick` says something (panics if the socket ends first).
async fn until<T>(ws: &mut Ws, mut pick: impl FnMut(ServerMsg) -> Option<T>) -> T {
    loop {
        let next = tokio::time::timeout(std::time::Duration::from_secs(60), ws.next()).await.expect("test hung");
        match next {
            Some(Ok(Message::Text(text))) => {
                if let Some(found) = pick(Codec::Json.decode_server(text.as_bytes()).unwrap()) {
                    return found;
                }
            }
            Some(Ok(Message::Close(frame))) => panic!("closed: {frame:?}"),
            Some(Ok(_)) => {}
            other => panic!("socket ended: {other:?}"),
        }
    }
}

#[tokio::test]
async fn an_axum_app_with_its_own_login_chats_through_the_hub() {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let db = dir.path().join("chat.redb");
    tokio::spawn(async move { app::serve(listener, &db).await.unwrap() });

    // Without the app's session there is no chat.
    assert!(open(addr, None).await.is_err());

    let lobby = RoomRef { room: Some("group:lobby".into()), ..Default::default() };
    let (alice_cookie, bob_cookie) = (login(addr, "alice").await, login(addr, "bob").await);
    let mut alice = open(addr, Some(&alice_cookie)).await.unwrap();
    let mut bob = open(addr, Some(&bob_cookie)).await.unwrap();
    for ws in [&mut alice, &mut bob] {
        until(ws, |m| matches!(m, ServerMsg::Connected { .. }).then_some(())).await;
        send(ws, &ClientMsg::JoinRoom { room: lobby.clone() }).await;
        until(ws, |m| matches!(m, ServerMsg::RoomJoined(_)).then_some(())).await;
    }
    let hello = ClientMsg::SendMessage {
        attachments: Vec::new(),
        room: lobby,
        content: "hello from axum".into(),
        client_id: None,
        reply_to: None,
    };
    send(&mut alice, &hello).await;
    let got = until(&mut bob, |m| match m {
        ServerMsg::Message(msg) => Some(msg),
        _ => None,
    })
    .await;
    assert_eq!((got.sender.as_str(), got.content.as_str()), ("alice", "hello from axum"));

    // The app's logout closes alice's chat socket (1000); bob stays.
    let (code, _) = http(addr, "POST", "/logout", Some(&alice_cookie)).await;
    assert_eq!(code, 204);
    let close = loop {
        match alice.next().await {
            Some(Ok(Message::Close(frame))) => break frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => {}
            _ => break None,
        }
    };
    assert_eq!(close, Some(1000));
    send(&mut bob, &ClientMsg::ListUsers(Default::default())).await;
    until(&mut bob, |m| matches!(m, ServerMsg::UserList { .. }).then_some(())).await;
}
