//! The reference chat server: HTTP/1.1 (axum on hyper) with accounts, a REST API, the WebSocket
//! upgrade into [`chat_ws`], optional HTTPS (rustls), Prometheus metrics, and the embedded web UI.
//!
//! The binary (`cargo run --release -p chat-server`) is a thin wrapper around this library, so
//! tests and embedders run the exact same router in-process:
//!
//! ```no_run
//! use chat_server::{Server, ServerConfig};
//!
//! # async fn run() -> Result<(), chat_server::StartError> {
//! // 127.0.0.1, a free port, an in-memory database.
//! let server = Server::start(ServerConfig::ephemeral()).await?;
//! let base = server.url(); // "http://127.0.0.1:<port>"
//! // ... talk to `base` over HTTP and `base/ws` over WebSocket ...
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # HTTP surface
//!
//! | route | what |
//! |---|---|
//! | `GET /`, `GET /static/<file>` | the web UI (ETag, `If-None-Match` → 304, `Cache-Control`) |
//! | `GET /ws` | WebSocket (cookie, bearer, or first-frame `register`; Origin allowlist) |
//! | `POST /api/register`, `/api/login` | `{username, password, invite?}` → `{username, token}` + `chat_session` cookie |
//! | `POST /api/logout` | deletes the session token, closes every socket of that login |
//! | `GET /api/me` | `{username, admin}` |
//! | `GET /api/registration` | `{mode}` (`open`, `invite`, `closed`) |
//! | `/api/account/{password,sessions,sessions/revoke,logout_all,export,delete,redeem_reset}` | the caller's own account |
//! | `/api/admin/{users,users/disable,users/enable,users/reset_password,invites,invites/revoke,audit,registration}` | administrators only (403 `forbidden` otherwise) |
//! | `GET /api/messages?room=&before=&after=&limit=` | a history page (`history`) |
//! | `POST /api/messages` | `{room, content, client_id?, reply_to?}` → `ack` |
//! | `POST /api/messages/{edit,delete,react}` | `edit_message`, `delete_message`, `react` → the event |
//! | `GET /api/room_users?room=` | `room_users_update` |
//! | `GET /api/notifications?limit=` | `notifications` |
//! | `POST /api/notifications/read` | `{ids?}` → `notification_update` |
//! | `GET /api/rooms?after=&limit=` | `rooms` (a page of the caller's room summaries) |
//! | `POST /api/rooms` | `{room_name, private}` → `room_joined` |
//! | `POST /api/rooms/{join,leave,read,invite,remove,accept,decline}` | `{room, …}` |
//! | `GET /api/directory`, `GET /api/users` (`?prefix=&after=&limit=`) | `room_list`, `user_list` |
//! | `POST /api/attachments` | a file (multipart `file` field, or a raw body with `?name=`) → `{id, name, size, content_type, width?, height?}` |
//! | `GET /api/attachments/{id}`, `…/{id}/thumbnail` | the file, for its uploader and members of a room with a message holding it (404 otherwise) |
//! | `GET /healthz`, `GET /metrics` | liveness, Prometheus text |
//!
//! Rooms may be named by `room` (`group:lobby`, `dm:alice:bob`) or the seed's `room_type` +
//! `room_name` / `target`. Answers are the WebSocket's `ServerMsg` objects; errors are
//! `{"error": {"code", "message"}}` with a stable code (401 without a session, 403 for a room
//! the caller may not see, 404, 413 for bodies over the limit, 429 when throttled).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod account_admin;
mod account_self;
mod account_store;
mod accounts;
mod api;
mod api_account;
mod api_admin;
mod api_messages;
mod api_search;
pub mod assets;
mod attachments;
mod backup;
pub mod cli;
#[cfg(feature = "cluster")]
mod cluster;
#[cfg(feature = "cluster")]
mod cluster_accounts;
pub mod commands;
mod config;
mod conn;
pub mod control;
mod error;
mod export;
mod extract;
mod files;
mod hosts;
mod http;
mod metrics;
pub mod net;
mod password;
mod search;
mod server;
mod state;
mod throttle;
pub mod tls;
mod ws;

pub use attachments::AttachmentConfig;
pub use config::{
    DEFAULT_DB_FILE, DEFAULT_PORT, Database, Limits, MetricsAccess, PasswordCost, Registration, SearchDir,
    ServerConfig, Tls,
};
pub use error::{ApiCode, ApiError, status_of};
pub use http::{CONTENT_SECURITY_POLICY, SESSION_COOKIE};
pub use password::{MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS};
pub use server::{RunningServer, Server, StartError};
