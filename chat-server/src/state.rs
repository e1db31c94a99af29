//! [`App`]: the state every handler shares (`State<Arc<App>>`). It depends on nothing of the
//! HTTP layer, so `http`, `api` and `ws` all import it and none of them imports another.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chat_core::{SessionId, UserName};

use crate::accounts::{Accounts, TokenHash};
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
    /// Live sockets per login token, so logout closes exactly that login's sockets.
    pub(crate) sockets: Sockets,
}

/// Live WebSocket sessions per login token (bounded by the live sockets: every entry is removed
/// when its socket ends).
#[derive(Default)]
pub(crate) struct Sockets(Mutex<HashMap<TokenHash, Vec<SessionId>>>);

impl Sockets {
    fn map(&self) -> MutexGuard<'_, HashMap<TokenHash, Vec<SessionId>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn register(&self, token: TokenHash, session: SessionId) {
        self.map().entry(token).or_default().push(session);
    }

    pub(crate) fn unregister(&self, token: &TokenHash, session: SessionId) {
        let mut map = self.map();
        if let Some(sessions) = map.get_mut(token) {
            sessions.retain(|s| *s != session);
            if sessions.is_empty() {
                map.remove(token);
            }
        }
    }

    /// Removes and returns the sessions of a token.
    pub(crate) fn take(&self, token: &TokenHash) -> Vec<SessionId> {
        self.map().remove(token).unwrap_or_default()
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
