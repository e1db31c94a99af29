use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chat_core::journal::MemoryJournalError;
use chat_core::{
    ClientMsg, Codec, HistoryQuery, Journal, LogEntry, MemoryJournal, Message as ChatMessage, RoomRef, ServerMsg,
    Snapshot, UserName,
};
use chat_ws::{
    Auth, AuthRefusal, Authenticated, Authenticator, ClientAuthMsg, HubConfig, HubHandle, Identity, LoginId, Register,
    ServerAuthMsg, WsErrorCode, negotiate_subprotocol, serve_socket, spawn_hub,
};
use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Bytes, Message};

/// Guards against a hung test; never a timing assertion.
pub const HANG_GUARD: Duration = Duration::from_secs(60);

/// A hub config with rate limits out of the way.
pub fn config() -> HubConfig {
    let mut config = HubConfig::default();
    config.chat.send_rate_per_sec = 100_000;
    config.chat.send_burst = 100_000;
    config.chat.op_rate_per_sec = 100_000;
    config.chat.op_burst = 100_000;
    config
}

/// A `MemoryJournal` the test can still reach after handing it to the hub.
#[derive(Clone, Default)]
pub struct SharedJournal(Arc<Mutex<MemoryJournal>>);

impl SharedJournal {
    pub fn lock(&self) -> MutexGuard<'_, MemoryJournal> {
        self.0.lock().unwrap()
    }
}

impl Journal for SharedJournal {
    type Error = MemoryJournalError;

    fn append(&mut self, entries: &[LogEntry]) -> Result<(), MemoryJournalError> {
        self.lock().append(entries)
    }

    fn snapshot(&self) -> Result<Snapshot, MemoryJournalError> {
        self.lock().snapshot()
    }

    fn history(&self, query: &HistoryQuery) -> Result<Vec<ChatMessage>, MemoryJournalError> {
        self.lock().history(query)
    }
}

/// Accepts any user name with the password "secret" and issues token "tok-<name>"; accepts
/// that token back. The login id is the token.
pub struct TestAuth;

impl Authenticator for TestAuth {
    fn authenticate(
        &self,
        register: Register,
    ) -> futures::future::BoxFuture<'static, Result<Authenticated, AuthRefusal>> {
        let result = match (register.username, register.password, register.token) {
            (Some(name), Some(password), None) if password == "secret" => match name.parse::<UserName>() {
                Ok(user) => {
                    let token = format!("tok-{user}");
                    Ok(Authenticated::new(Identity::login(user, LoginId::new(&token))).with_token(token))
                }
                Err(e) => Err(AuthRefusal::new(chat_core::ErrorCode::InvalidUsername, e.to_string())),
            },
            (None, None, Some(token)) => match token.strip_prefix("tok-").and_then(|n| n.parse::<UserName>().ok()) {
                Some(user) => Ok(Authenticated::new(Identity::login(user, LoginId::new(&token)))),
                None => Err(AuthRefusal::new(WsErrorCode::BadCredentials, "unknown token")),
            },
            _ => Err(AuthRefusal::new(WsErrorCode::BadCredentials, "wrong name or password")),
        };
        Box::pin(async move { result })
    }
}

/// A hub plus an accept loop on 127.0.0.1:0. `/ws?user=NAME` authenticates as NAME during the
/// upgrade (`/ws?user=NAME&login=ID` also tags the login, as a cookie would); `/ws` without a
/// user needs a first-frame `register` (checked by [`TestAuth`]).
pub struct TestServer {
    pub addr: SocketAddr,
    pub hub: HubHandle,
    pub task: JoinHandle<()>,
    accept: JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl TestServer {
    pub async fn start<J>(config: HubConfig, journal: J) -> TestServer
    where
        J: Journal + Send + 'static,
    {
        let ws_config = chat_ws::websocket_config(&config.limits);
        let (hub, task) = spawn_hub(config, journal).expect("journal snapshot");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accept_hub = hub.clone();
        let accept = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let hub = accept_hub.clone();
                tokio::spawn(async move {
                    let mut codec = None;
                    let mut user = None;
                    #[allow(clippy::result_large_err)] // tungstenite's callback signature
                    let callback = |req: &Request, mut resp: Response| {
                        let offered = req.headers().get("sec-websocket-protocol").and_then(|v| v.to_str().ok());
                        if let Some(c) = offered.and_then(negotiate_subprotocol) {
                            resp.headers_mut()
                                .insert("sec-websocket-protocol", HeaderValue::from_static(c.subprotocol()));
                            codec = Some(c);
                        }
                        let query = req.uri().query().unwrap_or_default();
                        let param = |key: &str| {
                            query.split('&').find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=')).map(str::to_owned)
                        };
                        user = param("user").and_then(|name| name.parse::<UserName>().ok()).map(|user| {
                            match param("login") {
                                Some(login) => Identity::login(user, LoginId::new(login)),
                                None => Identity::user(user),
                            }
                        });
                        Ok(resp)
                    };
                    let Ok(ws) = tokio_tungstenite::accept_hdr_async_with_config(tcp, callback, Some(ws_config)).await
                    else {
                        return;
                    };
                    let auth = match user {
                        Some(user) => Auth::User(user),
                        None => Auth::FirstFrame(Arc::new(TestAuth)),
                    };
                    serve_socket(hub, ws, codec.unwrap_or(Codec::Json), auth).await;
                });
            }
        });
        TestServer { addr, hub, task, accept }
    }

    pub async fn memory(config: HubConfig) -> (TestServer, SharedJournal) {
        let journal = SharedJournal::default();
        (TestServer::start(config, journal.clone()).await, journal)
    }

    /// A client connected as `user`, after its `connected` event.
    pub async fn client(&self, user: &str, codec: Codec) -> Client {
        self.client_at(&format!("user={user}"), user, codec).await
    }

    /// A client connected with the query `query` (`user=NAME[&login=ID]`) as `user`, after its
    /// `connected` event.
    pub async fn client_at(&self, query: &str, user: &str, codec: Codec) -> Client {
        let mut client = Client::open(self.addr, Some(query), codec, None).await;
        match client.recv().await {
            ServerMsg::Connected { username, .. } => assert_eq!(username.as_str(), user),
            other => panic!("expected connected, got {other:?}"),
        }
        client
    }
}

pub fn room(key: &str) -> RoomRef {
    RoomRef { room: Some(key.into()), ..Default::default() }
}

pub fn send(key: &str, content: &str, client_id: Option<&str>) -> ClientMsg {
    ClientMsg::SendMessage {
        attachments: Vec::new(),
        room: room(key),
        content: content.into(),
        client_id: client_id.map(Into::into),
        reply_to: None,
    }
}

/// A test client.
pub struct Client {
    pub ws: WebSocketStream<TcpStream>,
    pub codec: Codec,
    /// Events read but skipped by `until`, in order.
    backlog: std::collections::VecDeque<ServerMsg>,
}

/// What a client read next.
#[derive(Debug)]
pub enum Read {
    Event(ServerMsg),
    Closed(Option<CloseFrame>),
    /// The transport ended without a close frame (reset or EOF).
    Ended,
}

impl Client {
    /// Opens a connection (`query`: `user=NAME…` to authenticate during the upgrade, or `None`
    /// for a first-frame `register`); `recv_buffer` shrinks the socket's receive buffer.
    pub async fn open(addr: SocketAddr, query: Option<&str>, codec: Codec, recv_buffer: Option<u32>) -> Client {
        let socket = TcpSocket::new_v4().unwrap();
        if let Some(size) = recv_buffer {
            socket.set_recv_buffer_size(size).unwrap();
        }
        let tcp = socket.connect(addr).await.unwrap();
        let url = match query {
            Some(query) if !query.contains('=') => format!("ws://{addr}/ws?user={query}"),
            Some(query) => format!("ws://{addr}/ws?{query}"),
            None => format!("ws://{addr}/ws"),
        };
        let mut request = url.into_client_request().unwrap();
        request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static(codec.subprotocol()));
        let (ws, response) = tokio_tungstenite::client_async(request, tcp).await.unwrap();
        let chosen = response.headers().get("sec-websocket-protocol").and_then(|v| v.to_str().ok());
        assert_eq!(chosen, Some(codec.subprotocol()));
        Client { ws, codec, backlog: Default::default() }
    }

    pub async fn send(&mut self, msg: &ClientMsg) {
        let bytes = self.codec.encode_client(msg).unwrap();
        let frame = match self.codec {
            Codec::Json => Message::Text(String::from_utf8(bytes).unwrap().into()),
            Codec::MsgPack => Message::Binary(Bytes::from(bytes)),
        };
        self.ws.send(frame).await.unwrap();
    }

    /// Sends a handshake frame (before authentication).
    pub async fn send_auth(&mut self, msg: &ClientAuthMsg) {
        let bytes = msg.encode(self.codec).unwrap();
        self.send_raw(self.frame(bytes)).await;
    }

    /// Reads a handshake frame (before `connected`).
    pub async fn recv_auth(&mut self) -> ServerAuthMsg {
        let next = tokio::time::timeout(HANG_GUARD, self.ws.next()).await.expect("test hung waiting for a frame");
        let bytes = match next {
            Some(Ok(Message::Text(text))) => Bytes::from(text),
            Some(Ok(Message::Binary(bytes))) => bytes,
            other => panic!("expected a handshake frame, got {other:?}"),
        };
        ServerAuthMsg::decode(self.codec, &bytes).unwrap()
    }

    /// A data frame of this client's codec.
    pub fn frame(&self, bytes: Vec<u8>) -> Message {
        match self.codec {
            Codec::Json => Message::Text(String::from_utf8(bytes).unwrap().into()),
            Codec::MsgPack => Message::Binary(Bytes::from(bytes)),
        }
    }

    pub async fn send_raw(&mut self, frame: Message) {
        self.ws.send(frame).await.unwrap();
    }

    /// The next event, close, or end of stream (pings are answered and skipped).
    pub async fn read(&mut self) -> Read {
        if let Some(msg) = self.backlog.pop_front() {
            return Read::Event(msg);
        }
        loop {
            let next = tokio::time::timeout(HANG_GUARD, self.ws.next()).await.expect("test hung waiting for a frame");
            let bytes = match next {
                None | Some(Err(_)) => return Read::Ended,
                Some(Ok(Message::Close(frame))) => return Read::Closed(frame),
                Some(Ok(Message::Text(text))) => {
                    assert_eq!(self.codec, Codec::Json, "text frame on msgpack");
                    Bytes::from(text)
                }
                Some(Ok(Message::Binary(bytes))) => {
                    assert_eq!(self.codec, Codec::MsgPack, "binary frame on json");
                    bytes
                }
                Some(Ok(_)) => continue,
            };
            return Read::Event(self.codec.decode_server(&bytes).unwrap());
        }
    }

    /// The next event; panics on close.
    pub async fn recv(&mut self) -> ServerMsg {
        match self.read().await {
            Read::Event(msg) => msg,
            other => panic!("expected an event, got {other:?}"),
        }
    }

    /// The first event (earlier skipped ones first) for which `pick` returns something; the
    /// others stay queued, in order, for later reads.
    pub async fn until<T>(&mut self, mut pick: impl FnMut(&ServerMsg) -> Option<T>) -> T {
        if let Some(i) = self.backlog.iter().position(|m| pick(m).is_some()) {
            let msg = self.backlog.remove(i).unwrap();
            return pick(&msg).unwrap();
        }
        let mut skipped = Vec::new();
        let found = loop {
            let msg = match self.read_wire().await {
                Read::Event(msg) => msg,
                other => panic!("expected an event, got {other:?}"),
            };
            match pick(&msg) {
                Some(found) => break found,
                None => skipped.push(msg),
            }
        };
        self.backlog.extend(skipped);
        found
    }

    async fn read_wire(&mut self) -> Read {
        let backlog = std::mem::take(&mut self.backlog);
        let read = self.read().await;
        self.backlog = backlog;
        read
    }

    /// Skips events until a close frame; returns its code (None when the stream just ended).
    /// Keeps reading after the close frame so tungstenite sends the close reply.
    pub async fn close_code(&mut self) -> Option<u16> {
        self.close_frame().await.map(|(code, _)| code)
    }

    /// Like [`Client::close_code`], with the close reason.
    pub async fn close_frame(&mut self) -> Option<(u16, String)> {
        self.backlog.clear();
        // Raw frames: the events skipped here may be handshake frames as well as core events.
        let code = loop {
            let next = tokio::time::timeout(HANG_GUARD, self.ws.next()).await.expect("test hung waiting for a close");
            match next {
                Some(Ok(Message::Close(frame))) => break frame.map(|f| (u16::from(f.code), f.reason.to_string())),
                Some(Ok(_)) => continue,
                None | Some(Err(_)) => return None,
            }
        };
        while let Ok(Some(Ok(_))) = tokio::time::timeout(HANG_GUARD, self.ws.next()).await {}
        code
    }

    /// Joins `key` and waits for `room_joined`.
    pub async fn join(&mut self, key: &str) {
        self.send(&ClientMsg::JoinRoom { room: room(key) }).await;
        self.until(|m| matches!(m, ServerMsg::RoomJoined(s) if s.room.to_string() == key).then_some(())).await;
    }

    /// Sends a message and waits for its ack: `(seq, duplicate)`.
    pub async fn send_acked(&mut self, key: &str, content: &str, client_id: Option<&str>) -> (u64, bool) {
        self.send(&send(key, content, client_id)).await;
        self.until(|m| match m {
            ServerMsg::Ack { seq, duplicate, .. } => Some((*seq, *duplicate)),
            ServerMsg::Error { code, message, .. } => panic!("send refused: {code} {message}"),
            _ => None,
        })
        .await
    }

    /// Waits for the next chat message event.
    pub async fn next_message(&mut self) -> ChatMessage {
        self.until(|m| match m {
            ServerMsg::Message(msg) => Some(chat_core::Message::clone(msg)),
            _ => None,
        })
        .await
    }
}
