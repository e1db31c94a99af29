//! A minimal client of the server's WebSocket API (`chat.v1.json`): connect, authenticate with
//! a first `register` frame, then send and receive protocol messages.

use chat_core::codec::JSON_SUBPROTOCOL;
use chat_core::{ClientMsg, Codec, ServerMsg};
use chat_ws::{ClientAuthMsg, Register, ServerAuthMsg};
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// What can go wrong in these examples (they print it and exit).
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The WebSocket stream.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The server's address unless `--url` says otherwise.
pub const DEFAULT_URL: &str = "ws://127.0.0.1:7812/ws";

/// Largest frame accepted from the server (a history page of long messages fits).
const MAX_FRAME: usize = 1 << 20;

/// `--flag value` pairs from the command line.
#[derive(Debug, Clone)]
pub struct Flags(Vec<String>);

impl Flags {
    /// The process's arguments.
    pub fn from_env() -> Flags {
        Flags(std::env::args().skip(1).collect())
    }

    /// The value after `--name`, or `default`.
    pub fn get(&self, name: &str, default: &str) -> String {
        let flag = format!("--{name}");
        match self.0.iter().position(|a| *a == flag) {
            Some(i) => self.0.get(i + 1).cloned().unwrap_or_default(),
            None => default.to_owned(),
        }
    }
}

/// Opens the WebSocket (asking for the JSON subprotocol) and signs up or logs in with a first
/// `register` frame. Returns the stream once the server answered `registered`.
pub async fn connect(url: &str, username: &str, password: &str) -> Result<Ws, Error> {
    let mut request = url.into_client_request()?;
    request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static(JSON_SUBPROTOCOL));
    let config = WebSocketConfig::default().max_message_size(Some(MAX_FRAME)).max_frame_size(Some(MAX_FRAME));
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(request, Some(config), false).await?;
    let register = ClientAuthMsg::Register(Register::password(username, password)).encode(Codec::Json)?;
    ws.send(Message::Text(Utf8Bytes::from(String::from_utf8(register)?))).await?;
    // Until `registered`, the server sends handshake frames (chat-ws's, not the core's).
    while let Some(frame) = ws.next().await {
        let bytes = match frame? {
            Message::Text(text) => text.as_bytes().to_vec(),
            Message::Close(_) => break,
            _ => continue,
        };
        match ServerAuthMsg::decode(Codec::Json, &bytes)? {
            ServerAuthMsg::Registered { .. } => return Ok(ws),
            ServerAuthMsg::Error { code, message } => return Err(format!("{code}: {message}").into()),
            _ => {}
        }
    }
    Err("the server closed the connection during login".into())
}

/// Sends one frame.
pub async fn send(ws: &mut Ws, msg: &ClientMsg) -> Result<(), Error> {
    let text = String::from_utf8(Codec::Json.encode_client(msg)?)?;
    Ok(ws.send(Message::Text(Utf8Bytes::from(text))).await?)
}

/// The next protocol message, or `None` once the connection is closed. Frames that do not
/// decode are reported and skipped.
pub async fn recv(ws: &mut Ws) -> Result<Option<ServerMsg>, Error> {
    while let Some(frame) = ws.next().await {
        let bytes = match frame? {
            Message::Text(text) => text.as_bytes().to_vec(),
            Message::Binary(bytes) => bytes.to_vec(),
            Message::Close(_) => return Ok(None),
            _ => continue, // ping/pong: tungstenite answers pings itself
        };
        match Codec::Json.decode_server(&bytes) {
            Ok(msg) => return Ok(Some(msg)),
            Err(e) => eprintln!("skipping an undecodable frame: {e}"),
        }
    }
    Ok(None)
}

/// `text` made safe to print on a terminal: control characters (escape sequences a peer could
/// use to rewrite the screen) become `\u{..}` escapes.
pub fn printable(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { c.escape_unicode().to_string() } else { c.to_string() }).collect()
}
