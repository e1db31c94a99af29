//! The router and what every handler shares: the [`App`] state, request body limits, session
//! extraction (bearer or cookie), and the Origin allowlist.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chat_core::{SessionId, UserName};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, StatusCode};
use serde::de::DeserializeOwned;

use crate::accounts::{Accounts, AuthError, Caller, TokenHash};
use crate::metrics::ServerMetrics;
use crate::reply::{self, ApiError, Reply};
use crate::throttle::Throttle;
use crate::{api, files, ws};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "chat_session";

/// Everything a request handler needs.
pub(crate) struct App {
    pub(crate) accounts: Accounts,
    pub(crate) hub: chat_ws::HubHandle,
    pub(crate) metrics: ServerMetrics,
    /// One permit per open WebSocket (bounded by `Limits::max_connections`).
    pub(crate) ws_slots: Arc<tokio::sync::Semaphore>,
    /// Extra allowed origins, lower-case, without a trailing slash.
    pub(crate) origins: Vec<String>,
    /// Serving HTTPS (cookies get `Secure`; the own origin is `https://`).
    pub(crate) tls: bool,
    pub(crate) max_body_bytes: usize,
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
pub(crate) struct Sockets(std::sync::Mutex<std::collections::HashMap<TokenHash, Vec<SessionId>>>);

impl Sockets {
    fn map(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<TokenHash, Vec<SessionId>>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
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

/// Answers one request; never fails (errors become JSON error responses). Adds the security
/// headers and counts the status.
pub(crate) async fn handle(app: Arc<App>, peer: SocketAddr, req: Request<Incoming>) -> Result<Reply, Infallible> {
    let mut response = match route(&app, peer, req).await {
        Ok(response) => response,
        Err(error) => error.into_reply(),
    };
    reply::secure(response.headers_mut());
    app.metrics.response(response.status());
    Ok(response)
}

async fn route(app: &Arc<App>, peer: SocketAddr, req: Request<Incoming>) -> Result<Reply, ApiError> {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let get = method == Method::GET || method == Method::HEAD;
    match path.as_str() {
        "/" | "/index.html" if get => Ok(files::serve("index.html", req.headers())),
        "/healthz" if get => Ok(reply::bytes(StatusCode::OK, "text/plain; charset=utf-8", "ok\n")),
        "/metrics" if get && !app.metrics_access.allows(peer.ip()) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "metrics are served to this machine only (start the server with --metrics-public to change that)",
        )),
        "/metrics" if get => {
            let text = app.metrics.render(&app.hub.metrics());
            Ok(reply::bytes(StatusCode::OK, "text/plain; version=0.0.4; charset=utf-8", text))
        }
        "/ws" if method == Method::GET => ws::upgrade(app, peer, req).await,
        "/" | "/healthz" | "/metrics" | "/ws" | "/index.html" => Err(ApiError::method_not_allowed()),
        _ => {
            if let Some(file) = path.strip_prefix("/static/") {
                if get { Ok(files::serve(file, req.headers())) } else { Err(ApiError::method_not_allowed()) }
            } else if path.starts_with("/api/") {
                api::route(app, peer, req).await
            } else {
                Err(ApiError::not_found())
            }
        }
    }
}

/// Reads a JSON body of at most `max` bytes: 413 when larger, 415 when not JSON, 400 when
/// malformed.
pub(crate) async fn json_body<T: DeserializeOwned>(req: Request<Incoming>, max: usize) -> Result<T, ApiError> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")));
    let body = body_bytes(req, max).await?;
    if !is_json {
        // A cross-site form can post text/plain without a CORS preflight; JSON it cannot.
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send Content-Type: application/json",
        ));
    }
    serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

/// Reads a body of at most `max` bytes (413 otherwise).
pub(crate) async fn body_bytes(req: Request<Incoming>, max: usize) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("request bodies are limited to {max} bytes"),
        )
    };
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    match Limited::new(req.into_body(), max).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(e) => Err(ApiError::bad_request(format!("could not read the body: {e}"))),
    }
}

/// How a request carried its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Credential {
    Bearer,
    Cookie,
}

/// The token a request carries: `Authorization: Bearer` first, else the session cookie.
pub(crate) fn token_of(headers: &HeaderMap) -> Option<(String, Credential)> {
    if let Some(auth) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let (scheme, token) = auth.trim().split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| (token.trim().to_owned(), Credential::Bearer));
    }
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == SESSION_COOKIE).then(|| (value.trim().to_owned(), Credential::Cookie))
    })
}

/// The authenticated caller: 401 without a valid session. A cookie-authenticated request that
/// changes state must come from an allowed origin (CSRF defence on top of SameSite=Strict).
pub(crate) fn caller(app: &App, req: &Request<Incoming>) -> Result<Caller, ApiError> {
    let (token, credential) = token_of(req.headers()).ok_or_else(ApiError::unauthorized)?;
    let changes_state = req.method() != Method::GET && req.method() != Method::HEAD;
    if credential == Credential::Cookie
        && changes_state
        && let Some(origin) = req.headers().get(header::ORIGIN)
        && !origin_allowed(app, req.headers(), origin)
    {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "origin_not_allowed", "cross-origin request refused"));
    }
    let caller = app.accounts.authenticate(&token).map_err(|e| match e {
        AuthError::Unauthorized => ApiError::unauthorized(),
        other => other.into_api(),
    })?;
    if !app.rest_ops.hit(Instant::now(), &caller.user) {
        return Err(too_many());
    }
    Ok(caller)
}

/// 429 `rate_limited`.
pub(crate) fn too_many() -> ApiError {
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "too many requests; slow down")
}

/// Whether `origin` is the server's own origin (as addressed by `Host`) or on the allowlist.
pub(crate) fn origin_allowed(app: &App, headers: &HeaderMap, origin: &HeaderValue) -> bool {
    let Ok(origin) = origin.to_str() else { return false };
    let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    let scheme = if app.tls { "https" } else { "http" };
    let own = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|host| format!("{scheme}://{}", host.trim().to_ascii_lowercase()));
    own.is_some_and(|own| own == origin) || app.origins.contains(&origin)
}

/// `Set-Cookie` for a new session.
pub(crate) fn session_cookie(app: &App, token: &str) -> HeaderValue {
    let secure = if app.tls { "; Secure" } else { "" };
    let value = format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        app.session_ttl_secs
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `Set-Cookie` that deletes the session cookie.
pub(crate) fn clear_cookie(app: &App) -> HeaderValue {
    if app.tls {
        HeaderValue::from_static("chat_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0; Secure")
    } else {
        HeaderValue::from_static("chat_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_wins_over_cookie() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=b; chat_session=cookie123"));
        assert_eq!(token_of(&h), Some(("cookie123".into(), Credential::Cookie)));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer tok456"));
        assert_eq!(token_of(&h), Some(("tok456".into(), Credential::Bearer)));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(token_of(&h), None);
    }
}
