//! The WebSocket adapter: first-frame authentication and the per-connection pump.

use std::sync::Arc;
use std::time::Duration;

use chat_core::{Codec, ErrorCode, ServerMsg};
use futures::{Sink, SinkExt, Stream, StreamExt};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Bytes, Message};

use crate::auth::{AuthDecodeError, Authenticated, Authenticator, ClientAuthMsg, Identity, ServerAuthMsg, WsErrorCode};
use crate::frame::{CloseNotice, OutFrame, SessionEvent, one_off};
use tokio::sync::mpsc::error::TrySendError;

use crate::budget::{FrameBudget, SocketOptions};
use crate::hub::{Command, HubHandle};
use crate::limits::ConnLimits;
use crate::session::SessionLink;

/// How a connection is authenticated.
#[derive(Clone)]
#[non_exhaustive]
pub enum Auth {
    /// Already authenticated during the HTTP upgrade (cookie or bearer token). Give the
    /// [`Identity`] its login so logout can close the socket ([`HubHandle::close_login`]).
    User(Identity),
    /// The first frame must be `register`, checked by this authenticator. On success the
    /// adapter sends `registered` and then connects the session (`connected` follows).
    FirstFrame(Arc<dyn Authenticator>),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::User(user) => f.debug_tuple("User").field(user).finish(),
            Auth::FirstFrame(_) => f.write_str("FirstFrame(..)"),
        }
    }
}

/// Drives one WebSocket connection until it ends: authenticates (see [`Auth`]), connects a
/// session to the hub, then pumps frames both ways.
///
/// `ws` is any `Stream + Sink` of tungstenite [`Message`]s: a `tokio_tungstenite::WebSocketStream`
/// (configured with [`websocket_config`](crate::websocket_config)), or an adapter over another
/// WebSocket implementation (see `examples/examples/axum_embed.rs`).
///
/// - Client frames are decoded with `codec` (`chat.v1.json` in text frames, `chat.v1.msgpack`
///   in binary frames). A frame of the wrong kind closes with 1003, invalid UTF-8 with 1007, an
///   oversize frame or message with 1009, a protocol violation with 1002. A frame that is not
///   a valid request (not an object, unknown `type`, bad fields) gets an `error` event with the
///   codec's code, and the connection stays open.
/// - Events from the hub are written in batches (up to `ConnLimits::write_batch` frames per
///   flush). A flush that waits longer than `write_timeout` drops the connection.
/// - A ping is sent after `ping_interval` of silence; after `idle_timeout` of silence the
///   connection is closed with 1001.
/// - When the hub ends the session (shutdown 1001, slow consumer 1008, flooding 1008, logout
///   1000, failed commit 1011) the close frame carries that code and reason.
///
/// The hub sees `Input::Disconnect` exactly once when this returns. Never returns an error:
/// a peer going away is normal.
pub async fn serve_socket<T, E>(hub: HubHandle, ws: T, codec: Codec, auth: Auth)
where
    T: Stream<Item = Result<Message, E>> + Sink<Message, Error = E> + Unpin + Send,
    E: std::error::Error + Send + Sync + 'static,
{
    serve_socket_with(hub, ws, codec, auth, SocketOptions::default()).await;
}

/// [`serve_socket`] with per-connection [`SocketOptions`], for example a [`FrameBudget`]
/// shared by every connection of one client address: while it is in debt the connection reads
/// nothing (its peer's frames wait in TCP buffers) and keeps writing its outbound events.
pub async fn serve_socket_with<T, E>(hub: HubHandle, mut ws: T, codec: Codec, auth: Auth, options: SocketOptions)
where
    T: Stream<Item = Result<Message, E>> + Sink<Message, Error = E> + Unpin + Send,
    E: std::error::Error + Send + Sync + 'static,
{
    let limits = hub.limits().clone();
    let identity = match auth {
        Auth::User(identity) => identity,
        Auth::FirstFrame(authenticator) => match authenticate(&mut ws, codec, &*authenticator, &limits, &hub).await {
            Some(identity) => identity,
            None => return,
        },
    };
    let link = match hub.connect_as(identity).await {
        Ok(link) => link,
        Err(_) => {
            close(&mut ws, CloseNotice::GOING_AWAY, limits.write_timeout).await;
            return;
        }
    };
    let budget = options.frame_budget;
    Pump { ws, codec, link, hub, limits, controls: (Instant::now(), 0), budget }.run().await;
}

/// Drives one WebSocket connection for a session the caller already connected with
/// [`HubHandle::connect`] (so it knows the [`SessionLink::id`], for example to close exactly
/// the sockets of one login with [`HubHandle::kick`]). Same behaviour as [`serve_socket`] after
/// authentication.
pub async fn serve_link<T, E>(hub: HubHandle, ws: T, codec: Codec, link: SessionLink)
where
    T: Stream<Item = Result<Message, E>> + Sink<Message, Error = E> + Unpin + Send,
    E: std::error::Error + Send + Sync + 'static,
{
    let limits = hub.limits().clone();
    Pump { ws, codec, link, hub, limits, controls: (Instant::now(), 0), budget: None }.run().await;
}

/// How long to try to send a close frame to a peer whose writes were already stuck.
const STUCK_CLOSE_TIMEOUT: Duration = Duration::from_millis(500);

/// How reading one frame ended the connection, if it did.
enum Inbound {
    Continue,
    Close(CloseNotice),
    /// The peer closed or the transport failed: nothing more to send.
    Gone,
}

/// First-frame authentication. Returns who the session is, or `None` when the connection was
/// closed. Every frame sent here is a [`ServerAuthMsg`].
async fn authenticate<T, E>(
    ws: &mut T,
    codec: Codec,
    authenticator: &dyn Authenticator,
    limits: &ConnLimits,
    hub: &HubHandle,
) -> Option<Identity>
where
    T: Stream<Item = Result<Message, E>> + Sink<Message, Error = E> + Unpin,
    E: std::error::Error + Send + Sync + 'static,
{
    const AUTH_TIMEOUT: CloseNotice = CloseNotice { code: 1008, reason: "authentication timed out" };
    const AUTH_FAILED: CloseNotice = CloseNotice { code: 1008, reason: "authentication failed" };
    let deadline = Instant::now() + limits.auth_timeout;
    let mut attempts = 0;
    loop {
        let next = tokio::time::timeout_at(deadline, ws.next()).await;
        let msg = match next {
            Err(_) => {
                close(ws, AUTH_TIMEOUT, limits.write_timeout).await;
                return None;
            }
            Ok(None) => return None,
            Ok(Some(Err(e))) => {
                if let Some(notice) = error_close(&e) {
                    close(ws, notice, limits.write_timeout).await;
                }
                return None;
            }
            Ok(Some(Ok(msg))) => msg,
        };
        let bytes = match frame_payload(codec, msg) {
            Payload::Data(bytes) => bytes,
            Payload::Control => {
                let _ = ws.flush().await;
                continue;
            }
            Payload::Closed => {
                let _ = ws.flush().await;
                return None;
            }
            Payload::WrongKind(notice) => {
                close(ws, notice, limits.write_timeout).await;
                return None;
            }
        };
        hub.count_frames_in(1);
        let answer = match ClientAuthMsg::decode(codec, &bytes) {
            Ok(ClientAuthMsg::Register(register)) => match authenticator.authenticate(register).await {
                Ok(Authenticated { identity, token }) => {
                    let registered = ServerAuthMsg::Registered { username: identity.user.clone(), token };
                    if !send_now(ws, codec, &registered, hub).await {
                        return None;
                    }
                    return Some(identity);
                }
                Err(refusal) => ServerAuthMsg::Error { code: refusal.code, message: refusal.message },
            },
            Err(AuthDecodeError::Invalid(message)) => ServerAuthMsg::error(ErrorCode::InvalidFrame, message),
            Err(AuthDecodeError::NotRegister) => match codec.decode_client(&bytes) {
                Ok(_) => ServerAuthMsg::error(WsErrorCode::Unauthorized, "authenticate first with a register frame"),
                Err(e) => ServerAuthMsg::error(e.code, e.message),
            },
        };
        if !send_now(ws, codec, &answer, hub).await {
            return None;
        }
        attempts += 1;
        if attempts >= limits.max_auth_attempts {
            close(ws, AUTH_FAILED, limits.write_timeout).await;
            return None;
        }
    }
}

/// Sends one handshake frame and flushes. `false` if the connection failed.
async fn send_now<T, E>(ws: &mut T, codec: Codec, msg: &ServerAuthMsg, hub: &HubHandle) -> bool
where
    T: Stream<Item = Result<Message, E>> + Sink<Message, Error = E> + Unpin,
    E: std::error::Error + Send + Sync + 'static,
{
    let Ok(bytes) = msg.encode(codec) else { return true };
    let frame = match codec {
        Codec::Json => match String::from_utf8(bytes) {
            Ok(text) => Message::Text(text.into()),
            Err(_) => return true,
        },
        Codec::MsgPack => Message::Binary(Bytes::from(bytes)),
    };
    let limits = hub.limits();
    match tokio::time::timeout(limits.write_timeout, ws.send(frame)).await {
        Ok(Ok(())) => {
            hub.count_frames_out(1);
            true
        }
        _ => false,
    }
}

/// A frame's data, checked against the codec's frame kind.
enum Payload {
    Data(Bytes),
    /// Ping/pong/raw frame: nothing for the core (tungstenite queues the pong).
    Control,
    /// The peer sent a close frame (tungstenite queues the reply).
    Closed,
    WrongKind(CloseNotice),
}

fn frame_payload(codec: Codec, msg: Message) -> Payload {
    const TEXT_ON_BINARY: CloseNotice = CloseNotice { code: 1003, reason: "text frame on chat.v1.msgpack" };
    const BINARY_ON_TEXT: CloseNotice = CloseNotice { code: 1003, reason: "binary frame on chat.v1.json" };
    match (msg, codec) {
        (Message::Text(text), Codec::Json) => Payload::Data(Bytes::from(text)),
        (Message::Binary(bytes), Codec::MsgPack) => Payload::Data(bytes),
        (Message::Text(_), _) => Payload::WrongKind(TEXT_ON_BINARY),
        (Message::Binary(_), _) => Payload::WrongKind(BINARY_ON_TEXT),
        (Message::Close(_), _) => Payload::Closed,
        (Message::Ping(_) | Message::Pong(_) | Message::Frame(_), _) => Payload::Control,
    }
}

/// The close code for a read error, or `None` when the transport is gone. Looks for this
/// crate's tungstenite error in the error and its sources (an adapter such as axum's wraps it);
/// any other error just ends the connection.
fn error_close(error: &(dyn std::error::Error + 'static)) -> Option<CloseNotice> {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if let Some(ws) = e.downcast_ref::<WsError>() {
            return ws_error_close(ws);
        }
        cause = e.source();
    }
    None
}

fn ws_error_close(error: &WsError) -> Option<CloseNotice> {
    match error {
        WsError::Capacity(CapacityError::MessageTooLong { .. }) => {
            Some(CloseNotice { code: 1009, reason: "frame or message too large" })
        }
        WsError::Capacity(_) => Some(CloseNotice { code: 1009, reason: "too large" }),
        WsError::Utf8(_) => Some(CloseNotice { code: 1007, reason: "invalid UTF-8 in a text frame" }),
        WsError::Protocol(_) => Some(CloseNotice { code: 1002, reason: "protocol error" }),
        WsError::AttackAttempt => Some(CloseNotice { code: 1008, reason: "rejected" }),
        _ => None,
    }
}

/// Sends a close frame (bounded by `write_timeout`), then waits briefly for the peer's close so
/// the close frame is not lost to a TCP reset.
async fn close<T, E>(ws: &mut T, notice: CloseNotice, timeout: Duration)
where
    T: Stream<Item = Result<Message, E>> + Sink<Message, Error = E> + Unpin,
{
    let frame = CloseFrame { code: CloseCode::from(notice.code), reason: notice.reason.into() };
    // Sending a close message starts the close handshake (tungstenite replies to the peer's).
    let sent = tokio::time::timeout(timeout, ws.send(Message::Close(Some(frame)))).await;
    if !matches!(sent, Ok(Ok(()))) {
        return;
    }
    // Drain until the peer answers the close (or the stream ends), for a bounded time.
    let _ = tokio::time::timeout(timeout, async { while let Some(Ok(_)) = ws.next().await {} }).await;
}

/// How a guarded write ended.
enum Written {
    Ok,
    /// Timed out or failed: drop the connection.
    Failed,
    /// The hub closed the session while the write was stuck.
    Closed(CloseNotice),
}

/// One connection after authentication.
struct Pump<T> {
    ws: T,
    codec: Codec,
    link: SessionLink,
    hub: HubHandle,
    limits: ConnLimits,
    /// Ping/pong frames heard in the current one-second window (each costs a read and a pong).
    controls: (Instant, u32),
    /// Shared inbound-frame budget (per client address), if any.
    budget: Option<Arc<FrameBudget>>,
}

/// Most ping/pong frames a peer may send per second; more closes the connection with 1008.
const MAX_CONTROL_FRAMES_PER_SEC: u32 = 10;

impl<T, E> Pump<T>
where
    T: Stream<Item = Result<Message, E>> + Sink<Message, Error = E> + Unpin,
    E: std::error::Error + Send + Sync + 'static,
{
    async fn run(mut self) {
        let ping_interval = self.limits.ping_interval;
        let idle_timeout = self.limits.idle_timeout;
        // After a ping the peer always gets this long to answer before an idle close, even if
        // the timer fired late.
        let answer_grace = idle_timeout.saturating_sub(ping_interval);
        let mut last_heard = Instant::now();
        let mut pinged_at: Option<Instant> = None;
        // Re-armed only when it fires (not on every frame): it checks `last_heard` lazily.
        let timer = tokio::time::sleep(ping_interval);
        tokio::pin!(timer);
        let end = loop {
            tokio::select! {
                biased;
                event = self.link.recv() => match event {
                    SessionEvent::Frame(frame) => match self.write_batch(frame).await {
                        Written::Ok => {}
                        Written::Failed => break None,
                        Written::Closed(notice) => break Some((notice, STUCK_CLOSE_TIMEOUT)),
                    },
                    SessionEvent::Close(notice) => break Some((notice, self.limits.write_timeout)),
                },
                msg = self.ws.next() => {
                    last_heard = Instant::now();
                    if pinged_at.take().is_some() {
                        // Heard back after a ping: the next ping is due one interval from now.
                        timer.as_mut().reset(last_heard + ping_interval);
                    }
                    match self.inbound(msg).await {
                        Inbound::Continue => {}
                        Inbound::Close(notice) => break Some((notice, self.limits.write_timeout)),
                        Inbound::Gone => break None,
                    }
                }
                () = &mut timer => {
                    let now = Instant::now();
                    match pinged_at {
                        Some(at) => {
                            let idle_at = (last_heard + idle_timeout).max(at + answer_grace);
                            if now >= idle_at {
                                break Some((CloseNotice::IDLE, self.limits.write_timeout));
                            }
                            timer.as_mut().reset(idle_at);
                        }
                        None if now >= last_heard + ping_interval => {
                            pinged_at = Some(now);
                            match self.flush_guarded(Some(Message::Ping(Bytes::new()))).await {
                                Written::Ok => {}
                                Written::Failed => break None,
                                Written::Closed(notice) => break Some((notice, STUCK_CLOSE_TIMEOUT)),
                            }
                            timer.as_mut().reset((last_heard + idle_timeout).max(now + answer_grace));
                        }
                        None => timer.as_mut().reset(last_heard + ping_interval),
                    }
                }
            }
        };
        if let Some((notice, timeout)) = end {
            close(&mut self.ws, notice, timeout).await;
        }
        // Dropping the link tells the hub: exactly one Disconnect.
    }

    /// Handles one read result.
    async fn inbound(&mut self, msg: Option<Result<Message, E>>) -> Inbound {
        let msg = match msg {
            None => return Inbound::Gone,
            Some(Err(e)) => return error_close(&e).map_or(Inbound::Gone, Inbound::Close),
            Some(Ok(msg)) => msg,
        };
        let bytes = match frame_payload(self.codec, msg) {
            Payload::Data(bytes) => bytes,
            Payload::Control => {
                let now = Instant::now();
                if now.duration_since(self.controls.0) >= Duration::from_secs(1) {
                    self.controls = (now, 0);
                }
                self.controls.1 += 1;
                if self.controls.1 > MAX_CONTROL_FRAMES_PER_SEC {
                    return Inbound::Close(CloseNotice { code: 1008, reason: "too many pings" });
                }
                // Send the queued pong now.
                return match self.flush_guarded(None).await {
                    Written::Ok => Inbound::Continue,
                    Written::Failed => Inbound::Gone,
                    Written::Closed(notice) => Inbound::Close(notice),
                };
            }
            Payload::Closed => {
                // tungstenite queued the close reply; send it and stop.
                let _ = tokio::time::timeout(self.limits.write_timeout, self.ws.flush()).await;
                return Inbound::Gone;
            }
            Payload::WrongKind(notice) => return Inbound::Close(notice),
        };
        self.hub.count_frames_in(1);
        if let Some(wait) = self.budget.as_ref().and_then(|b| b.take(Instant::now())) {
            self.hub.count_frames_throttled();
            // Rare: boxed so its state does not enlarge every connection's task.
            if let Some(end) = Box::pin(self.pause(wait)).await {
                return end;
            }
        }
        match self.codec.decode_client(&bytes) {
            Ok(msg) => {
                let cmd = Command::Receive { session: self.link.id(), msg };
                match self.link.inbox.try_send(cmd) {
                    Ok(()) => {}
                    Err(TrySendError::Closed(_)) => return Inbound::Close(CloseNotice::GOING_AWAY),
                    // Rare: boxed so its state does not enlarge every connection's task.
                    Err(TrySendError::Full(cmd)) => {
                        if let Some(end) = Box::pin(self.forward(cmd)).await {
                            return end;
                        }
                    }
                }
            }
            Err(e) => {
                let refusal = match ClientAuthMsg::decode(self.codec, &bytes) {
                    // The handshake frame is the transport's: the core never sees it.
                    Ok(_) => ServerMsg::error(ErrorCode::InvalidRequest, "already authenticated"),
                    Err(_) => ServerMsg::error(e.code, e.message),
                };
                if let Some(frame) = one_off(self.codec, refusal) {
                    match self.flush_guarded(Some(frame)).await {
                        Written::Ok => self.hub.count_frames_out(1),
                        Written::Failed => return Inbound::Gone,
                        Written::Closed(notice) => return Inbound::Close(notice),
                    }
                }
            }
        }
        Inbound::Continue
    }

    /// Reads nothing for `wait` (the shared frame budget is in debt) while writing the
    /// session's outbound events. `Some` when the connection must end.
    async fn pause(&mut self, wait: Duration) -> Option<Inbound> {
        let until = tokio::time::sleep(wait);
        tokio::pin!(until);
        loop {
            tokio::select! {
                biased;
                event = self.link.recv() => match event {
                    SessionEvent::Frame(frame) => match self.write_batch(frame).await {
                        Written::Ok => {}
                        Written::Failed => return Some(Inbound::Gone),
                        Written::Closed(notice) => return Some(Inbound::Close(notice)),
                    },
                    SessionEvent::Close(notice) => return Some(Inbound::Close(notice)),
                },
                () = &mut until => return None,
            }
        }
    }

    /// Hands a client frame to the hub. While the hub's inbox is full, keeps writing the
    /// session's outbound events, so a busy hub does not turn its readers into slow consumers.
    /// `Some` when the connection must end.
    async fn forward(&mut self, cmd: Command) -> Option<Inbound> {
        let inbox = self.link.inbox.clone();
        let send = inbox.send(cmd);
        tokio::pin!(send);
        loop {
            tokio::select! {
                biased;
                sent = &mut send => {
                    return sent.is_err().then_some(Inbound::Close(CloseNotice::GOING_AWAY));
                }
                event = self.link.recv() => match event {
                    SessionEvent::Frame(frame) => match self.write_batch(frame).await {
                        Written::Ok => {}
                        Written::Failed => return Some(Inbound::Gone),
                        Written::Closed(notice) => return Some(Inbound::Close(notice)),
                    },
                    SessionEvent::Close(notice) => return Some(Inbound::Close(notice)),
                },
            }
        }
    }

    /// Writes `first` and whatever else is queued (up to the batch size), then flushes once.
    async fn write_batch(&mut self, first: Arc<OutFrame>) -> Written {
        let mut batch = Vec::with_capacity(4);
        batch.extend(first.to_message(self.codec));
        while batch.len() < self.limits.write_batch {
            match self.link.try_recv() {
                Some(frame) => batch.extend(frame.to_message(self.codec)),
                None => break,
            }
        }
        let count = batch.len() as u64;
        let written = self.write_guarded(batch).await;
        if let Written::Ok = written {
            self.hub.count_frames_out(count);
            self.hub.wrote(&self.link);
        }
        written
    }

    /// Flushes whatever tungstenite queued (a pong, a close reply).
    async fn flush_guarded(&mut self, msg: Option<Message>) -> Written {
        self.write_guarded(msg.into_iter().collect()).await
    }

    /// Writes `msgs` and flushes once, giving up if the peer does not read within
    /// `write_timeout` or the hub closes the session meanwhile.
    async fn write_guarded(&mut self, msgs: Vec<Message>) -> Written {
        let ws = &mut self.ws;
        let write = async move {
            for msg in msgs {
                ws.feed(msg).await?;
            }
            ws.flush().await
        };
        tokio::select! {
            result = tokio::time::timeout(self.limits.write_timeout, write) => match result {
                Ok(Ok(())) => Written::Ok,
                // Nobody waits for this answer: log it, so a dropped frame is never silent.
                Ok(Err(error)) => {
                    let session = self.link.id().0;
                    tracing::warn!(session, error = &error as &dyn std::error::Error, "write failed; dropping the connection");
                    Written::Failed
                }
                Err(_) => {
                    let session = self.link.id().0;
                    tracing::warn!(session, timeout = ?self.limits.write_timeout, "write timed out; dropping the connection");
                    Written::Failed
                }
            },
            // A slow consumer is stuck here: stop waiting for it.
            notice = self.link.closed() => Written::Closed(notice),
        }
    }
}
