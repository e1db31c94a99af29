//! Chat inside an existing axum application: the app keeps its own login (a session cookie
//! here) and mounts the `chat-ws` hub, journaled by `chat-store`, on its own route.
//!
//! ```text
//! cargo run -p examples --example axum_embed -- --listen 127.0.0.1:7814 --db /tmp/embed.redb
//! curl -i -X POST 'http://127.0.0.1:7814/login?user=alice'     # the app's own login: a cookie
//! # then open ws://127.0.0.1:7814/chat with that cookie (subprotocol chat.v1.json)
//! ```
//!
//! The chat part is `chat_socket` plus `spawn_hub` in `serve`: the app's identity becomes an
//! [`Identity`] whose [`LoginId`] is the app's session id, so its logout closes the sockets too.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::extract::ws::{self, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chat_core::{Codec, UserName};
use chat_ws::tokio_tungstenite::tungstenite::protocol::CloseFrame;
use chat_ws::tokio_tungstenite::tungstenite::{Bytes, Message};
use chat_ws::{Auth, HubConfig, HubHandle, Identity, LoginId, serve_socket, spawn_hub};
use futures::{Sink, SinkExt, Stream, StreamExt};

/// The app's state: its own sessions (session id → user), and the chat hub.
#[derive(Clone)]
struct App {
    sessions: Arc<Mutex<HashMap<String, UserName>>>,
    hub: HubHandle,
}

/// Serves the app on `listener`, with the chat journal in `db`, until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, db: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let store = chat_store::Store::open(db)?;
    let (hub, _task) = spawn_hub(HubConfig::default(), store)?;
    let app = App { sessions: Arc::default(), hub };
    let router = axum::Router::new()
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/chat", get(chat_socket))
        .with_state(app);
    axum::serve(listener, router).await?;
    Ok(())
}

/// The app's own login (a real app checks a password): a session cookie.
async fn login(State(app): State<App>, Query(q): Query<HashMap<String, String>>) -> Response {
    let Some(user) = q.get("user").and_then(|u| u.parse::<UserName>().ok()) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let sid = format!("{:016x}{:016x}", RandomState::new().hash_one(1), RandomState::new().hash_one(2));
    app.sessions.lock().unwrap().insert(sid.clone(), user);
    ([(header::SET_COOKIE, format!("sid={sid}; HttpOnly; SameSite=Strict; Path=/"))], "logged in").into_response()
}

/// The app's logout also closes this login's chat sockets.
async fn logout(State(app): State<App>, headers: HeaderMap) -> StatusCode {
    if let Some(sid) = session_id(&headers) {
        app.sessions.lock().unwrap().remove(&sid);
        app.hub.close_login(&LoginId::new(&sid));
    }
    StatusCode::NO_CONTENT
}

fn session_id(headers: &HeaderMap) -> Option<String> {
    let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
    cookies.split(';').find_map(|c| c.trim().strip_prefix("sid=")).map(str::to_owned)
}

/// `GET /chat`: the app's session is the chat identity; the hub does the rest.
async fn chat_socket(State(app): State<App>, headers: HeaderMap, upgrade: WebSocketUpgrade) -> Response {
    let sid = session_id(&headers);
    let user = sid.as_ref().and_then(|sid| app.sessions.lock().unwrap().get(sid).cloned());
    let (Some(sid), Some(user)) = (sid, user) else { return StatusCode::UNAUTHORIZED.into_response() };
    let limits = app.hub.limits().clone();
    upgrade
        .protocols([Codec::Json.subprotocol()])
        .max_frame_size(limits.max_frame_bytes)
        .max_message_size(limits.max_message_bytes)
        .max_write_buffer_size(limits.max_write_buffer_bytes)
        .on_upgrade(move |socket| async move {
            let identity = Identity::login(user, LoginId::new(&sid));
            serve_socket(app.hub, adapt(socket), Codec::Json, Auth::User(identity)).await;
        })
}

/// axum's WebSocket as the `Stream + Sink` of tungstenite messages the pump takes.
fn adapt(
    socket: WebSocket,
) -> impl Stream<Item = Result<Message, axum::Error>> + Sink<Message, Error = axum::Error> + Unpin + Send {
    socket.map(|read| read.map(from_axum)).with(|msg| futures::future::ready(Ok(to_axum(msg))))
}

fn from_axum(msg: ws::Message) -> Message {
    match msg {
        ws::Message::Text(text) => Message::Text(text.as_str().into()),
        ws::Message::Binary(bytes) => Message::Binary(bytes),
        ws::Message::Ping(bytes) => Message::Ping(bytes),
        ws::Message::Pong(bytes) => Message::Pong(bytes),
        ws::Message::Close(frame) => {
            Message::Close(frame.map(|f| CloseFrame { code: f.code.into(), reason: f.reason.as_str().into() }))
        }
    }
}

fn to_axum(msg: Message) -> ws::Message {
    match msg {
        // Still the shared encoded bytes (checked as UTF-8 again, not copied).
        Message::Text(text) => ws::Message::Text(ws::Utf8Bytes::try_from(Bytes::from(text)).unwrap_or_default()),
        Message::Binary(bytes) => ws::Message::Binary(bytes),
        Message::Ping(bytes) => ws::Message::Ping(bytes),
        Message::Pong(bytes) => ws::Message::Pong(bytes),
        Message::Close(frame) => ws::Message::Close(
            frame.map(|f| ws::CloseFrame { code: u16::from(f.code), reason: f.reason.as_str().into() }),
        ),
        // The pump never sends raw frames.
        Message::Frame(_) => ws::Message::Pong(Bytes::new()),
    }
}

#[allow(dead_code)] // the test includes this file for `serve` only
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str, default: &str| {
        args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned()).unwrap_or(default.into())
    };
    let listener = tokio::net::TcpListener::bind(flag("--listen", "127.0.0.1:7814")).await?;
    println!("listening on {}", listener.local_addr()?);
    serve(listener, Path::new(&flag("--db", "axum_embed.redb"))).await
}
