//! Test helpers: start a server, a minimal HTTP/1.1 client (hyper, one connection per request),
//! WebSocket connections with chosen headers, [`wait_until`] for what the server does in the
//! background, and attachments (a server with an attachment directory, uploads, the files it
//! keeps).

use std::fmt::Debug;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chat_server::{RunningServer, Server, ServerConfig};
use futures::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::header::HeaderMap;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Starts an in-memory server on 127.0.0.1:0.
pub async fn start() -> RunningServer {
    Server::start(ServerConfig::ephemeral()).await.expect("server starts")
}

/// How long [`wait_until`] waits before it calls the wait a hang. Generous (the machine is
/// shared): it only bounds a hang and is never a timing assertion.
pub const HANG_GUARD: Duration = Duration::from_secs(60);

/// Calls `probe` every 50 ms until `done` holds for what it returns, and returns that value.
/// For what the server does in the background (indexing, garbage collection). After
/// [`HANG_GUARD`] it panics with `what` (what was awaited) and the last value observed.
pub async fn wait_until<T, Fut>(what: &str, mut probe: impl FnMut() -> Fut, done: impl Fn(&T) -> bool) -> T
where
    T: Debug,
    Fut: Future<Output = T>,
{
    let started = Instant::now();
    loop {
        let value = probe().await;
        if done(&value) {
            return value;
        }
        assert!(
            started.elapsed() < HANG_GUARD,
            "hang guard: waited {HANG_GUARD:?} for {what}; last observed: {value:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An HTTP response, fully read.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!("status {} body is not JSON ({e}): {:?}", self.status, String::from_utf8_lossy(&self.body))
        })
    }

    /// The `error.code` of a JSON error body.
    pub fn code(&self) -> String {
        self.json()["error"]["code"].as_str().expect("error code").to_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends one request over a fresh connection to `addr`.
pub async fn send(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: Option<Vec<u8>>) -> Resp {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    send_over(TokioIo::new(tcp), addr, method, path, headers, body).await
}

/// Sends one request over an established stream.
pub async fn send_over<I>(
    io: I,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Resp
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.expect("handshake");
    tokio::spawn(conn);
    let mut req = Request::builder().method(Method::from_bytes(method.as_bytes()).unwrap()).uri(path);
    if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("host")) {
        req = req.header("host", addr.to_string());
    }
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let req = req.body(Full::new(Bytes::from(body.unwrap_or_default()))).unwrap();
    let response = sender.send_request(req).await.expect("response");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.expect("body").to_bytes();
    Resp { status, headers, body }
}

pub async fn get(addr: SocketAddr, path: &str, token: Option<&str>) -> Resp {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
    send(addr, "GET", path, &headers, None).await
}

pub async fn post(addr: SocketAddr, path: &str, token: Option<&str>, body: Value) -> Resp {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers: Vec<(&str, &str)> = vec![("content-type", "application/json")];
    headers.extend(auth.iter().map(|a| ("authorization", a.as_str())));
    send(addr, "POST", path, &headers, Some(serde_json::to_vec(&body).unwrap())).await
}

/// Registers `name` with password `"password-<name>"`; returns the token.
pub async fn register(addr: SocketAddr, name: &str) -> String {
    let r = post(
        addr,
        "/api/register",
        None,
        serde_json::json!({"username": name, "password": format!("password-{name}")}),
    )
    .await;
    assert_eq!(r.status, 201, "register {name}: {:?}", String::from_utf8_lossy(&r.body));
    r.json()["token"].as_str().unwrap().to_owned()
}

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
/// A WebSocket handshake's outcome.
pub type Handshake = Result<(Ws, tungstenite::http::Response<Option<Vec<u8>>>), tungstenite::Error>;

/// Opens `/ws` with extra headers; the handshake error (with the HTTP status) on refusal.
pub async fn ws_connect(
    addr: SocketAddr,
    headers: &[(&str, &str)],
) -> Result<(Ws, tungstenite::http::Response<Option<Vec<u8>>>), tungstenite::Error> {
    let mut req = format!("ws://{addr}/ws").into_client_request().unwrap();
    for (name, value) in headers {
        req.headers_mut()
            .insert(tungstenite::http::HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
    }
    let tcp = TcpStream::connect(addr).await.expect("connect");
    tokio_tungstenite::client_async(req, MaybeTlsStream::Plain(tcp)).await
}

/// The HTTP status of a refused WebSocket handshake.
pub fn refused_status(result: Handshake) -> u16 {
    match result {
        Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("expected a refusal, the upgrade succeeded"),
    }
}

/// Sends a JSON frame.
pub async fn ws_send(ws: &mut Ws, frame: Value) {
    ws.send(Message::text(frame.to_string())).await.expect("send frame");
}

/// The next JSON event (skipping pings); panics on close.
pub async fn ws_next(ws: &mut Ws) -> Value {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => return serde_json::from_str(&text).expect("JSON event"),
            Some(Ok(Message::Binary(bytes))) => {
                return rmp_serde::from_slice(&bytes).expect("msgpack event");
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected an event, got {other:?}"),
        }
    }
}

/// Reads until the connection closes; returns the close code (None if closed without a frame).
pub async fn ws_closed(ws: &mut Ws) -> Option<u16> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return None,
        }
    }
}

/// The `(action, target)` pairs of an `/api/admin/audit` answer, newest first.
pub fn audit_actions(audit: &Value) -> Vec<(String, String)> {
    audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap().to_owned(), e["target"].as_str().unwrap_or("").to_owned()))
        .collect()
}

/// Creates the room `group:<name>` as `token`'s user; asserts 201.
pub async fn create_room(addr: SocketAddr, token: &str, name: &str, private: bool) {
    let r = post(addr, "/api/rooms", Some(token), json!({"room_name": name, "private": private})).await;
    assert_eq!(r.status, 201, "create {name}: {}", String::from_utf8_lossy(&r.body));
}

// ---- Attachments ----

/// Starts an in-memory server that keeps attachments in `dir`, after `tune` adjusted its
/// configuration.
pub async fn start_with_attachments(dir: &Path, tune: impl FnOnce(&mut ServerConfig)) -> RunningServer {
    let mut config = ServerConfig::ephemeral();
    config.attachments.dir = Some(dir.to_owned());
    tune(&mut config);
    Server::start(config).await.expect("server starts")
}

/// A server from [`start_with_attachments`] with an attachment directory of its own, removed
/// when this is dropped.
pub struct AttachmentServer {
    pub server: RunningServer,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
}

impl AttachmentServer {
    pub async fn start(tune: impl FnOnce(&mut ServerConfig)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let server = start_with_attachments(dir.path(), tune).await;
        let addr = server.local_addr();
        AttachmentServer { server, addr, dir }
    }

    /// The files in the attachment directory: see [`stored_files`].
    pub fn files(&self) -> Vec<String> {
        stored_files(self.dir.path())
    }

    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// A `tune` for [`start_with_attachments`]: collection every 100 ms with a 300 ms grace period,
/// so that a test sees unreferenced files go.
pub fn quick_collection(config: &mut ServerConfig) {
    config.attachments.grace = Duration::from_millis(300);
    config.attachments.gc_interval = Duration::from_millis(100);
}

/// `POST /api/attachments` as `multipart/form-data` with one `file` field, file name `name`.
/// The part claims `Content-Type: text/html`, which the server must ignore (it sniffs).
pub async fn upload_multipart(addr: SocketAddr, token: &str, name: &str, bytes: &[u8]) -> Resp {
    let boundary = "----chat-test-boundary-7d1f";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: text/html\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let auth = format!("Bearer {token}");
    let content_type = format!("multipart/form-data; boundary={boundary}");
    send(addr, "POST", "/api/attachments", &[("authorization", &auth), ("content-type", &content_type)], Some(body))
        .await
}

/// `POST /api/attachments?name=<name>` with the bytes as the raw body. `name` goes into the query
/// as given: the caller percent-encodes it.
pub async fn upload_raw(addr: SocketAddr, token: &str, name: &str, bytes: &[u8]) -> Resp {
    let auth = format!("Bearer {token}");
    let path = format!("/api/attachments?name={name}");
    let headers = [("authorization", auth.as_str()), ("content-type", "application/octet-stream")];
    send(addr, "POST", &path, &headers, Some(bytes.to_vec())).await
}

/// [`upload_multipart`], asserting 201; the attachment's JSON.
pub async fn uploaded(addr: SocketAddr, token: &str, name: &str, bytes: &[u8]) -> Value {
    let r = upload_multipart(addr, token, name, bytes).await;
    assert_eq!(r.status, 201, "upload {name}: {}", String::from_utf8_lossy(&r.body));
    r.json()
}

/// The `id` of an attachment's JSON.
pub fn attachment_id(attachment: &Value) -> String {
    attachment["id"].as_str().expect("attachment id").to_owned()
}

/// `POST /api/messages` to `room` with `content` and the attachment ids `attachments`.
pub async fn send_with_attachments(
    addr: SocketAddr,
    token: &str,
    room: &str,
    content: &str,
    attachments: &[&str],
) -> Resp {
    post(addr, "/api/messages", Some(token), json!({"room": room, "content": content, "attachments": attachments}))
        .await
}

/// A `width` × `height` PNG (a gradient, so it is not trivially compressible).
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 90]));
    let mut out = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png).unwrap();
    out
}

/// The files in an attachment directory and its `tmp/`, as paths relative to `dir`, sorted.
pub fn stored_files(dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    for sub in [dir.to_owned(), dir.join("tmp")] {
        for entry in std::fs::read_dir(&sub).into_iter().flatten() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                names.push(entry.path().strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    names.sort();
    names
}

/// Waits ([`wait_until`]) until garbage collection removed the file of attachment `id` from
/// `dir`.
pub async fn wait_until_collected(dir: &Path, id: &str) {
    let file = dir.join(id);
    let what = format!("garbage collection to remove {}", file.display());
    wait_until(&what, || async { stored_files(dir) }, |files| !files.iter().any(|f| f == id)).await;
}
