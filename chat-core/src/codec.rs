//! Frame codecs: JSON (`chat.v1.json`, text frames) and MessagePack (`chat.v1.msgpack`, binary
//! frames, the same schema with field names).

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;
use crate::protocol::{ClientMsg, ServerMsg};

/// WebSocket subprotocol name of the JSON codec.
pub const JSON_SUBPROTOCOL: &str = "chat.v1.json";
/// WebSocket subprotocol name of the MessagePack codec.
pub const MSGPACK_SUBPROTOCOL: &str = "chat.v1.msgpack";

/// A wire encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// JSON in text frames.
    Json,
    /// MessagePack (maps with field names) in binary frames.
    MsgPack,
}

/// A frame that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct DecodeError {
    /// [`ErrorCode::InvalidFrame`] or [`ErrorCode::UnknownType`].
    pub code: ErrorCode,
    /// What was wrong, for people.
    pub message: String,
}

/// A message that could not be encoded (never happens for the protocol's own types).
#[derive(Debug, thiserror::Error)]
#[error("encode failed: {0}")]
pub struct EncodeError(String);

/// The `type` names a client may send.
const CLIENT_TYPES: &[&str] = &[
    "join_room",
    "leave_room",
    "create_room",
    "invite",
    "remove",
    "send_message",
    "mark_read",
    "typing",
    "history",
    "resume",
    "notifications",
    "mark_notifications_read",
    "list_rooms",
    "list_users",
];

#[derive(Deserialize)]
struct TypeOnly<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<std::borrow::Cow<'a, str>>,
    #[serde(flatten)]
    _rest: IgnoredAny,
}

impl Codec {
    /// The codec for a negotiated subprotocol name.
    pub fn from_subprotocol(name: &str) -> Option<Codec> {
        match name {
            JSON_SUBPROTOCOL => Some(Codec::Json),
            MSGPACK_SUBPROTOCOL => Some(Codec::MsgPack),
            _ => None,
        }
    }

    /// The subprotocol name.
    pub fn subprotocol(self) -> &'static str {
        match self {
            Codec::Json => JSON_SUBPROTOCOL,
            Codec::MsgPack => MSGPACK_SUBPROTOCOL,
        }
    }

    /// Decodes a client frame.
    pub fn decode_client(self, bytes: &[u8]) -> Result<ClientMsg, DecodeError> {
        match self.decode::<ClientMsg>(bytes) {
            Ok(msg) => Ok(msg),
            Err(message) => Err(self.classify(bytes, message)),
        }
    }

    /// Decodes a server frame (for clients written in Rust).
    pub fn decode_server(self, bytes: &[u8]) -> Result<ServerMsg, DecodeError> {
        self.decode::<ServerMsg>(bytes).map_err(|message| DecodeError { code: ErrorCode::InvalidFrame, message })
    }

    /// Encodes a server frame.
    pub fn encode_server(self, msg: &ServerMsg) -> Result<Vec<u8>, EncodeError> {
        self.encode(msg)
    }

    /// Encodes a client frame (for clients written in Rust).
    pub fn encode_client(self, msg: &ClientMsg) -> Result<Vec<u8>, EncodeError> {
        self.encode(msg)
    }

    fn encode<T: Serialize>(self, value: &T) -> Result<Vec<u8>, EncodeError> {
        match self {
            Codec::Json => serde_json::to_vec(value).map_err(|e| EncodeError(e.to_string())),
            Codec::MsgPack => rmp_serde::to_vec_named(value).map_err(|e| EncodeError(e.to_string())),
        }
    }

    fn decode<T: DeserializeOwned>(self, bytes: &[u8]) -> Result<T, String> {
        match self {
            Codec::Json => serde_json::from_slice(bytes).map_err(|e| e.to_string()),
            Codec::MsgPack => rmp_serde::from_slice(bytes).map_err(|e| e.to_string()),
        }
    }

    /// The `type` field of an encoded frame, if it is an object with one: lets a transport tell
    /// its own frames (such as a first-frame `register`) from the core's without decoding either.
    ///
    /// ```
    /// use chat_core::Codec;
    /// assert_eq!(Codec::Json.frame_type(br#"{"type":"register","token":"t"}"#).as_deref(), Some("register"));
    /// assert_eq!(Codec::Json.frame_type(br#"{"room":"group:lobby"}"#), None);
    /// assert_eq!(Codec::Json.frame_type(b"not json"), None);
    /// ```
    pub fn frame_type(self, bytes: &[u8]) -> Option<String> {
        let peek = match self {
            Codec::Json => serde_json::from_slice::<TypeOnly<'_>>(bytes).ok(),
            Codec::MsgPack => rmp_serde::from_slice::<TypeOnly<'_>>(bytes).ok(),
        };
        peek.and_then(|t| t.kind.map(|k| k.into_owned()))
    }

    /// Tells an unknown `type` apart from a malformed frame (only on the error path).
    fn classify(self, bytes: &[u8], message: String) -> DecodeError {
        match self.frame_type(bytes) {
            Some(kind) if !CLIENT_TYPES.contains(&kind.as_str()) => DecodeError {
                code: ErrorCode::UnknownType,
                message: format!("unknown frame type '{}'", kind.chars().take(40).collect::<String>()),
            },
            _ => DecodeError { code: ErrorCode::InvalidFrame, message },
        }
    }
}
