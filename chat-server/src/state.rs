//! [`App`]: the state every handler shares (`State<Arc<App>>`). It depends on nothing of the
//! HTTP layer, so `http`, `api` and `ws` all import it and none of them imports another.

use std::sync::Arc;
use std::time::Duration;

use chat_core::UserName;

use crate::accounts::Accounts;
use crate::hosts::Hosts;
use crate::metrics::ServerMetrics;
use crate::throttle::Throttle;

/// Everything a request handler needs.
pub(crate) struct App {
    pub(crate) accounts: Accounts,
    pub(crate) hub: chat_ws::HubHandle,
    pub(crate) metrics: ServerMetrics,
    /// One permit per open WebSocket (bounded by `Limits::max_connections`).
    pub(crate) ws_slots: Arc<tokio::sync::Semaphore>,
    /// Extra allowed origins, lower-case, without a trailing slash.
    pub(crate) origins: Vec<String>,
    /// The `Host` values this server answers to.
    pub(crate) hosts: Hosts,
    /// Serving HTTPS (cookies get `Secure`; the own origin is `https://`; HSTS).
    pub(crate) tls: bool,
    pub(crate) session_ttl_secs: u64,
    pub(crate) metrics_access: crate::MetricsAccess,
    /// Authenticated REST requests per user (the core rate-limits sessions, not requests).
    pub(crate) rest_ops: Throttle<UserName>,
    /// `POST /api/messages` per user.
    pub(crate) rest_sends: Throttle<UserName>,
    /// Attachments, unless this server stores none (in-memory database without a directory).
    pub(crate) attachments: Option<Arc<crate::attachments::Attachments>>,
    /// This node's cluster, when it runs as one.
    #[cfg(feature = "cluster")]
    pub(crate) cluster: Option<chat_ws::cluster::ClusterNode>,
}

impl App {
    /// Closes every socket of these logins (sessions whose tokens were just deleted); returns
    /// how many sockets were told to close.
    pub(crate) fn end_sessions(&self, tokens: &[crate::accounts::TokenHash]) -> usize {
        tokens.iter().map(|t| self.hub.close_login(&chat_ws::LoginId::new(t))).sum()
    }
}

/// Users tracked by the REST throttles at most.
const REST_THROTTLE_CAPACITY: usize = 10_000;

/// Fixed-window equivalents of the core's per-session token buckets (`burst` per
/// `burst / rate` seconds), for REST callers. A rate of 0 never refills.
pub(crate) fn rest_throttles(chat: &chat_core::Config) -> (Throttle<UserName>, Throttle<UserName>) {
    let window = |burst: u32, rate: u32| match rate {
        0 => Duration::from_secs(86_400),
        rate => Duration::from_secs(u64::from((burst / rate).max(1))),
    };
    (
        Throttle::new(chat.op_burst, window(chat.op_burst, chat.op_rate_per_sec), REST_THROTTLE_CAPACITY),
        Throttle::new(chat.send_burst, window(chat.send_burst, chat.send_rate_per_sec), REST_THROTTLE_CAPACITY),
    )
}
