//! Configuration: the hub's queues and the per-connection limits of the WebSocket adapter.

use std::time::Duration;

use chat_core::Codec;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// How the hub runs. `HubConfig::default()` holds the documented defaults; fields are public so
/// a server (or a benchmark) can raise or lower them.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HubConfig {
    /// The core's limits and rate limits.
    pub chat: chat_core::Config,
    /// Capacity of the hub's inbox (commands from sessions and handles). When it is full,
    /// connections stop reading their sockets until there is room (default 4,096).
    pub inbox_capacity: usize,
    /// Most commands the hub takes in one batch before it drains and commits (default 1,024).
    pub max_batch: usize,
    /// Outbound events buffered per session. When a reader's queue passes a quarter of this,
    /// the hub takes no new commands (senders are slowed) until it is back under an eighth; a
    /// session whose queue is full is closed as a slow consumer (default 256).
    pub session_queue: usize,
    /// How long the hub holds back input for one reader that fell behind. A reader still
    /// behind after this is not waited for again; if its queue fills it is closed as a slow
    /// consumer (default 500 ms).
    pub reader_grace: Duration,
    /// Most history reads in flight at once; more are answered `history_unavailable`
    /// (default 256).
    pub max_loads_in_flight: usize,
    /// On shutdown, how long to wait for every session to finish its close handshake
    /// (default 5 s).
    pub shutdown_grace: Duration,
    /// Per-connection limits of the WebSocket adapter.
    pub limits: ConnLimits,
    /// The full-text index searches go to (and committed batches are fed to); `None` (the
    /// default) answers every `search` with `search_unavailable`.
    pub search: Option<crate::SearchSeam>,
    /// Most searches running at once, all users together; more are answered
    /// `search_unavailable` (default 64; the core also bounds each user).
    pub max_searches_in_flight: usize,
    /// Resolves the attachments of `send_message` (none: `attachments_unavailable`).
    pub attachments: crate::Resolver,
}

impl Default for HubConfig {
    fn default() -> HubConfig {
        HubConfig {
            chat: chat_core::Config::default(),
            inbox_capacity: 4_096,
            max_batch: 1_024,
            session_queue: 256,
            reader_grace: Duration::from_millis(500),
            max_loads_in_flight: 256,
            shutdown_grace: Duration::from_secs(5),
            limits: ConnLimits::default(),
            search: None,
            max_searches_in_flight: 64,
            attachments: crate::Resolver::default(),
        }
    }
}

/// Limits of one WebSocket connection. `ConnLimits::default()` holds the documented defaults.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConnLimits {
    /// Largest incoming frame payload; larger closes the connection with 1009 (default 64 KiB).
    pub max_frame_bytes: usize,
    /// Largest incoming message (all fragments); larger closes with 1009 (default 64 KiB).
    pub max_message_bytes: usize,
    /// Initial read buffer per connection (default 2 KiB; grows only for a larger frame).
    pub read_buffer_bytes: usize,
    /// Most bytes buffered for writing before a write fails (bounds the write buffer). Frames
    /// are flushed once `max_write_buffer_bytes - max_outbound_frame_bytes` are buffered, so a
    /// frame of up to `max_outbound_frame_bytes` always fits (default 384 KiB).
    pub max_write_buffer_bytes: usize,
    /// Largest frame the server sends (default 256 KiB; the core cuts history pages at
    /// `chat_core::Config::max_page_bytes`, 128 KiB, well under it).
    pub max_outbound_frame_bytes: usize,
    /// Send a ping after this long without hearing from the peer (default 30 s).
    pub ping_interval: Duration,
    /// Close the connection (1001) after this long without any frame from the peer, pongs
    /// included (default 75 s).
    pub idle_timeout: Duration,
    /// How long a flush may wait for a peer that does not read before the connection is
    /// dropped (default 10 s).
    pub write_timeout: Duration,
    /// How long first-frame authentication may take (default 10 s).
    pub auth_timeout: Duration,
    /// Failed first-frame `register` attempts before the connection is closed (default 3).
    pub max_auth_attempts: u32,
    /// Outbound events written before one flush (default 64).
    pub write_batch: usize,
}

impl Default for ConnLimits {
    fn default() -> ConnLimits {
        ConnLimits {
            max_frame_bytes: 64 * 1024,
            max_message_bytes: 64 * 1024,
            read_buffer_bytes: 2 * 1024,
            max_write_buffer_bytes: 384 * 1024,
            max_outbound_frame_bytes: 256 * 1024,
            ping_interval: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(75),
            write_timeout: Duration::from_secs(10),
            auth_timeout: Duration::from_secs(10),
            max_auth_attempts: 3,
            write_batch: 64,
        }
    }
}

/// The tungstenite configuration for these limits: small read buffer, writes buffered until
/// we flush, bounded write buffer, frame and message size limits. (permessage-deflate is not
/// offered: the crate is built without it.) Pass it to `accept_hdr_async_with_config`.
pub fn websocket_config(limits: &ConnLimits) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(limits.read_buffer_bytes)
        // Frames collect in the write buffer until the pump flushes a batch (one syscall for
        // many small frames); the cap below bounds it. tungstenite writes out once the buffer
        // passes `write_buffer_size`, so the cap must leave room for one more largest frame.
        .write_buffer_size(limits.max_write_buffer_bytes.saturating_sub(limits.max_outbound_frame_bytes))
        .max_write_buffer_size(limits.max_write_buffer_bytes)
        .max_frame_size(Some(limits.max_frame_bytes))
        .max_message_size(Some(limits.max_message_bytes))
}

/// Picks the codec for a `Sec-WebSocket-Protocol` request header (a comma-separated list):
/// the first of `chat.v1.json` / `chat.v1.msgpack` the client offers, or `None` when it offers
/// neither (refuse the upgrade, or fall back to JSON if you accept clients without one).
///
/// ```
/// use chat_core::Codec;
/// assert_eq!(chat_ws::negotiate_subprotocol("chat.v1.msgpack, chat.v1.json"), Some(Codec::MsgPack));
/// assert_eq!(chat_ws::negotiate_subprotocol("foo,chat.v1.json"), Some(Codec::Json));
/// assert_eq!(chat_ws::negotiate_subprotocol("foo"), None);
/// ```
pub fn negotiate_subprotocol(offered: &str) -> Option<Codec> {
    offered.split(',').find_map(|p| Codec::from_subprotocol(p.trim()))
}
