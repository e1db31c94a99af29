//! Outbound events: one shared, lazily encoded frame per `Deliver`, and close notices.

use std::sync::{Arc, OnceLock};

use chat_core::{Codec, ServerMsg};
use tokio_tungstenite::tungstenite::{Bytes, Message, Utf8Bytes};

/// One outbound event, shared by every recipient of a `Deliver`.
///
/// The hub wraps each `Deliver` once; the first connection that needs it in a codec encodes it,
/// every other recipient with that codec reuses the bytes. So an event is encoded at most once
/// per codec, however many sessions receive it.
#[derive(Debug)]
pub struct OutFrame {
    msg: Arc<ServerMsg>,
    json: OnceLock<Option<Utf8Bytes>>,
    msgpack: OnceLock<Option<Bytes>>,
}

impl OutFrame {
    /// Wraps an event.
    pub fn new(msg: Arc<ServerMsg>) -> OutFrame {
        OutFrame { msg, json: OnceLock::new(), msgpack: OnceLock::new() }
    }

    /// The event.
    pub fn msg(&self) -> &ServerMsg {
        &self.msg
    }

    /// The encoded bytes for `codec` (encoded on first use, then shared). `None` if the event
    /// cannot be encoded, which the protocol's own types never cause.
    pub fn bytes(&self, codec: Codec) -> Option<Bytes> {
        match codec {
            Codec::Json => self.json_text().map(|t| Bytes::clone(t.as_ref())),
            Codec::MsgPack => self.msgpack_bytes(),
        }
    }

    /// The WebSocket message for `codec`: a text frame for JSON, a binary frame for
    /// MessagePack. `None` if the event cannot be encoded.
    pub fn to_message(&self, codec: Codec) -> Option<Message> {
        match codec {
            Codec::Json => self.json_text().map(Message::Text),
            Codec::MsgPack => self.msgpack_bytes().map(Message::Binary),
        }
    }

    fn json_text(&self) -> Option<Utf8Bytes> {
        self.json
            .get_or_init(|| {
                let bytes = Codec::Json.encode_server(&self.msg).ok()?;
                Utf8Bytes::try_from(bytes).ok()
            })
            .clone()
    }

    fn msgpack_bytes(&self) -> Option<Bytes> {
        self.msgpack.get_or_init(|| Codec::MsgPack.encode_server(&self.msg).ok().map(Bytes::from)).clone()
    }
}

/// Encodes a one-off event for one connection (an `error` answer to an undecodable frame).
pub(crate) fn one_off(codec: Codec, msg: ServerMsg) -> Option<Message> {
    OutFrame::new(Arc::new(msg)).to_message(codec)
}

/// Why the hub ends a session: an RFC 6455 close code and a short reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseNotice {
    /// The close code (for example 1001 going away, 1008 policy, 1011 server error).
    pub code: u16,
    /// A short reason for people (fits a close frame).
    pub reason: &'static str,
}

impl CloseNotice {
    /// The server is shutting down (1001).
    pub const GOING_AWAY: CloseNotice = CloseNotice { code: 1001, reason: "going away" };
    /// The session could not keep up with its events (1008).
    pub const SLOW_CONSUMER: CloseNotice = CloseNotice { code: 1008, reason: "slow consumer" };
    /// The session kept sending faster than its rate limit (1008).
    pub const FLOODING: CloseNotice = CloseNotice { code: 1008, reason: "flooding" };
    /// The user has as many live sessions as allowed (1008).
    pub const TOO_MANY_SESSIONS: CloseNotice = CloseNotice { code: 1008, reason: "too many sessions" };
    /// The server closed the session for a policy reason this version has no text for (1008).
    pub const POLICY: CloseNotice = CloseNotice { code: 1008, reason: "closed by the server" };
    /// The session was ended by the server (logout) (1000).
    pub const KICKED: CloseNotice = CloseNotice { code: 1000, reason: "session ended" };
    /// A journal commit failed; reconnect and `resume` (1011).
    pub const COMMIT_FAILED: CloseNotice = CloseNotice { code: 1011, reason: "server error; reconnect and resume" };
    /// No frame from the peer for too long (1001).
    pub const IDLE: CloseNotice = CloseNotice { code: 1001, reason: "idle timeout" };
}

/// What a session receives from the hub.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SessionEvent {
    /// An event to send to the client.
    Frame(Arc<OutFrame>),
    /// The hub ended the session: close the transport with this code. Nothing follows.
    Close(CloseNotice),
}
