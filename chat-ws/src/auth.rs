//! In-band authentication: the first-frame handshake (`register` → `registered`), the
//! transport's own error codes, and who a session belongs to ([`Identity`], [`LoginId`]).
//!
//! These frames are the transport's, not the core's: [`chat_core::ClientMsg`] has no
//! `register`. On the wire they look exactly like the core's frames (an object with a `type`
//! field, in either codec), and the refusals are ordinary `error {code, message}` frames.

use std::sync::Arc;

use chat_core::{Codec, ErrorCode, UserName};
use futures::future::BoxFuture;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An error code a transport sends: the core's [`ErrorCode`]s plus the codes only an adapter
/// produces. Serialised as the same snake_case string in the `code` field of an `error` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WsErrorCode {
    /// `unauthorized`: not authenticated (a frame other than `register` came first).
    Unauthorized,
    /// `bad_credentials`: wrong name or password, or an invalid token.
    BadCredentials,
    /// `frame_too_large`: the frame is larger than allowed (for transports that refuse an
    /// oversize frame instead of closing; the WebSocket pump closes with 1009).
    FrameTooLarge,
    /// One of the core's codes (`invalid_frame`, `rate_limited`, `internal`, …).
    Core(ErrorCode),
}

impl WsErrorCode {
    /// The code as its wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            WsErrorCode::Unauthorized => "unauthorized",
            WsErrorCode::BadCredentials => "bad_credentials",
            WsErrorCode::FrameTooLarge => "frame_too_large",
            WsErrorCode::Core(code) => code.as_str(),
        }
    }
}

impl From<ErrorCode> for WsErrorCode {
    fn from(code: ErrorCode) -> WsErrorCode {
        WsErrorCode::Core(code)
    }
}

impl std::fmt::Display for WsErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for WsErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for WsErrorCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<WsErrorCode, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Ok(match &*name {
            "unauthorized" => WsErrorCode::Unauthorized,
            "bad_credentials" => WsErrorCode::BadCredentials,
            "frame_too_large" => WsErrorCode::FrameTooLarge,
            other => {
                let core = ErrorCode::deserialize(serde::de::value::StrDeserializer::<D::Error>::new(other))?;
                WsErrorCode::Core(core)
            }
        })
    }
}

/// The credentials of a `register` frame: `username` + `password` (sign up when the name is
/// free, else log in), or a session `token`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Register {
    /// Sign up or log in with this name...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// ...and password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Or resume a session token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl Register {
    /// Sign up or log in with a name and password.
    pub fn password(username: impl Into<String>, password: impl Into<String>) -> Register {
        Register { username: Some(username.into()), password: Some(password.into()), token: None }
    }

    /// Resume a session token.
    pub fn token(token: impl Into<String>) -> Register {
        Register { username: None, password: None, token: Some(token.into()) }
    }

    /// A name only (for demos whose authenticator trusts it).
    pub fn username(username: impl Into<String>) -> Register {
        Register { username: Some(username.into()), password: None, token: None }
    }
}

/// A first frame from a client (client → server) before it is authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ClientAuthMsg {
    /// `{"type":"register", username?, password?, token?}`.
    Register(Register),
}

/// What the server sends (server → client) before the session is connected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ServerAuthMsg {
    /// The `register` succeeded; `connected` follows.
    Registered {
        /// The authenticated user.
        username: UserName,
        /// A session token for later connections, when one was issued.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
    },
    /// A refusal, the same `error` frame the core sends.
    Error {
        /// Stable snake_case code.
        code: WsErrorCode,
        /// Human-readable explanation.
        message: String,
    },
}

/// A first frame that could not be decoded as `register`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthDecodeError {
    /// The frame is some other (or no) `type`: not an authentication attempt.
    #[error("not a register frame")]
    NotRegister,
    /// A `register` frame with bad fields.
    #[error("invalid register frame: {0}")]
    Invalid(String),
}

/// A frame that could not be encoded (never happens for these types).
#[derive(Debug, thiserror::Error)]
#[error("encode failed: {0}")]
pub struct AuthEncodeError(String);

fn encode<T: Serialize>(codec: Codec, value: &T) -> Result<Vec<u8>, AuthEncodeError> {
    match codec {
        Codec::Json => serde_json::to_vec(value).map_err(|e| AuthEncodeError(e.to_string())),
        Codec::MsgPack => rmp_serde::to_vec_named(value).map_err(|e| AuthEncodeError(e.to_string())),
    }
}

fn decode<'a, T: Deserialize<'a>>(codec: Codec, bytes: &'a [u8]) -> Result<T, String> {
    match codec {
        Codec::Json => serde_json::from_slice(bytes).map_err(|e| e.to_string()),
        Codec::MsgPack => rmp_serde::from_slice(bytes).map_err(|e| e.to_string()),
    }
}

impl ClientAuthMsg {
    /// Decodes a client frame: `Err(NotRegister)` when its `type` is anything but `register`.
    pub fn decode(codec: Codec, bytes: &[u8]) -> Result<ClientAuthMsg, AuthDecodeError> {
        decode::<ClientAuthMsg>(codec, bytes).map_err(|message| match codec.frame_type(bytes) {
            Some(kind) if kind == "register" => AuthDecodeError::Invalid(message),
            _ => AuthDecodeError::NotRegister,
        })
    }

    /// Encodes the frame (for clients written in Rust).
    pub fn encode(&self, codec: Codec) -> Result<Vec<u8>, AuthEncodeError> {
        encode(codec, self)
    }
}

impl ServerAuthMsg {
    /// A refusal frame.
    pub fn error(code: impl Into<WsErrorCode>, message: impl Into<String>) -> ServerAuthMsg {
        ServerAuthMsg::Error { code: code.into(), message: message.into() }
    }

    /// Encodes the frame.
    pub fn encode(&self, codec: Codec) -> Result<Vec<u8>, AuthEncodeError> {
        encode(codec, self)
    }

    /// Decodes a server frame (for clients written in Rust, until `registered`).
    pub fn decode(codec: Codec, bytes: &[u8]) -> Result<ServerAuthMsg, String> {
        decode(codec, bytes)
    }
}

/// Which login a session belongs to (for example the hash of its session token), so that
/// logging out can close exactly the sockets of that login ([`HubHandle::close_login`]).
///
/// [`HubHandle::close_login`]: crate::HubHandle::close_login
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LoginId(Arc<[u8]>);

impl LoginId {
    /// A login id from any stable bytes (a token hash, a database row id, …).
    pub fn new(bytes: impl AsRef<[u8]>) -> LoginId {
        LoginId(Arc::from(bytes.as_ref()))
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Who a session is: the user, and the login it came from (when the server tracks logins).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Identity {
    /// The authenticated user.
    pub user: UserName,
    /// The login (session token) it authenticated with, if any.
    pub login: Option<LoginId>,
}

impl Identity {
    /// A user with no login to track.
    pub fn user(user: UserName) -> Identity {
        Identity { user, login: None }
    }

    /// A user signed in with `login`: [`HubHandle::close_login`](crate::HubHandle::close_login)
    /// closes this session.
    pub fn login(user: UserName, login: LoginId) -> Identity {
        Identity { user, login: Some(login) }
    }
}

impl From<UserName> for Identity {
    fn from(user: UserName) -> Identity {
        Identity::user(user)
    }
}

/// A successful first-frame authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Authenticated {
    /// Who the session is.
    pub identity: Identity,
    /// A session token issued for later connections (sent back in `registered`).
    pub token: Option<String>,
}

impl Authenticated {
    /// `identity` authenticated, with no token issued.
    pub fn new(identity: impl Into<Identity>) -> Authenticated {
        Authenticated { identity: identity.into(), token: None }
    }

    /// Also sends `token` back in `registered`.
    pub fn with_token(mut self, token: impl Into<String>) -> Authenticated {
        self.token = Some(token.into());
        self
    }
}

/// A refused first-frame authentication: the `error` frame to send. The client may try again
/// (up to `ConnLimits::max_auth_attempts`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
#[non_exhaustive]
pub struct AuthRefusal {
    /// The code (`bad_credentials`, `invalid_username`, `rate_limited`, …).
    pub code: WsErrorCode,
    /// For people.
    pub message: String,
}

impl AuthRefusal {
    /// A refusal with this code and message.
    pub fn new(code: impl Into<WsErrorCode>, message: impl Into<String>) -> AuthRefusal {
        AuthRefusal { code: code.into(), message: message.into() }
    }
}

/// Checks first-frame credentials (`{"type":"register", ...}`). Implemented by the server on
/// top of its account store.
pub trait Authenticator: Send + Sync {
    /// Signs up or logs in with `username` + `password`, or resumes `token`. On success returns
    /// who the session is (with its [`LoginId`] when the server tracks logins) and, when one
    /// was issued, a token for later connections. On failure returns the refusal to send.
    fn authenticate(&self, register: Register) -> BoxFuture<'static, Result<Authenticated, AuthRefusal>>;
}
