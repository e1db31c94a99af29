//! The async driver of [`chat_core`] and its WebSocket adapter.
//!
//! - [`spawn_hub`] starts the **hub**: one task that owns the [`chat_core::Chat`], takes
//!   commands from a bounded inbox, handles everything waiting as one batch, commits all of the
//!   batch's log entries in one [`chat_core::Journal::append`] on a dedicated journal thread,
//!   and only then carries out the outputs (deliveries, replies, history reads, closes). The
//!   [`HubHandle`] is cloneable and is how adapters, REST handlers and embedders talk to it.
//! - [`serve_socket`] drives one WebSocket connection (any `Stream + Sink` of tungstenite
//!   messages: tokio-tungstenite's `WebSocketStream` over any `AsyncRead + AsyncWrite`, or an
//!   adapter over another implementation such as axum's): authentication, decoding with the
//!   negotiated [`chat_core::Codec`], batched writes of shared pre-encoded frames, heartbeat,
//!   idle timeout and size limits.
//!
//! See `docs/design.md` (section "chat-ws") for the loop, the failure path and the limits.
//!
//! # Example: a WebSocket server in a few lines
//!
//! ```no_run
//! use std::sync::Arc;
//! use chat_core::{Codec, MemoryJournal};
//! use chat_ws::{Auth, HubConfig, negotiate_subprotocol, serve_socket, spawn_hub, websocket_config};
//! use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
//! use tokio_tungstenite::tungstenite::http::HeaderValue;
//!
//! # async fn run(authenticator: Arc<dyn chat_ws::Authenticator>) -> std::io::Result<()> {
//! let config = HubConfig::default();
//! let ws_config = websocket_config(&config.limits);
//! let (hub, _task) = spawn_hub(config, MemoryJournal::new()).expect("snapshot");
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! loop {
//!     let (tcp, _) = listener.accept().await?;
//!     let (hub, authenticator) = (hub.clone(), authenticator.clone());
//!     tokio::spawn(async move {
//!         let mut codec = Codec::Json;
//!         let pick = |req: &Request, mut resp: Response| {
//!             let offered = req.headers().get("sec-websocket-protocol").and_then(|v| v.to_str().ok());
//!             if let Some(c) = offered.and_then(negotiate_subprotocol) {
//!                 codec = c;
//!                 resp.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static(c.subprotocol()));
//!             }
//!             Ok(resp)
//!         };
//!         let Ok(ws) = tokio_tungstenite::accept_hdr_async_with_config(tcp, pick, Some(ws_config)).await else {
//!             return;
//!         };
//!         serve_socket(hub, ws, codec, Auth::FirstFrame(authenticator)).await;
//!     });
//! }
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod attachments;
mod auth;
mod budget;
mod closers;
#[cfg(feature = "cluster")]
pub mod cluster;
mod frame;
mod hub;
mod journal;
mod limits;
mod metrics;
mod pending;
mod search;
mod session;
mod slots;
mod socket;

pub use attachments::{AttachmentResolver, Resolver};
pub use auth::{
    AuthDecodeError, AuthEncodeError, AuthRefusal, Authenticated, Authenticator, ClientAuthMsg, Identity, LoginId,
    Register, ServerAuthMsg, WsErrorCode,
};
pub use budget::{FrameBudget, SocketOptions};
pub use frame::{CloseNotice, OutFrame, SessionEvent};
pub use hub::{HubError, HubHandle, spawn_hub};
pub use journal::JournalError;
pub use limits::{ConnLimits, HubConfig, negotiate_subprotocol, websocket_config};
pub use metrics::HubMetrics;
pub use search::{SearchIndex, SearchSeam};
pub use session::SessionLink;
pub use socket::{Auth, serve_link, serve_socket, serve_socket_with};

/// Re-exported so users name the same versions this crate was built with.
pub use tokio_tungstenite;
