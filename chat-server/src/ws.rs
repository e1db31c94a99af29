//! `GET /ws`: the WebSocket upgrade into `chat-ws`.
//!
//! Checks, in order: it is a WebSocket handshake; the `Origin` is allowed (the server's own
//! origin, or one given with `--origin`; a request without `Origin` is a non-browser client and
//! must not rely on the cookie); the session (cookie or bearer token; without either, the first
//! frame must be `register`); a free connection slot. Then it answers 101, negotiates the
//! subprotocol (`chat.v1.json` by default, `chat.v1.msgpack`), and hands the upgraded stream to
//! [`chat_ws::serve_socket`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use chat_core::{Codec, ErrorCode, UserName};
use chat_ws::{
    Auth, AuthRefusal, Authenticated, Authenticator, Identity, LoginId, Register, SocketOptions, WsErrorCode,
    negotiate_subprotocol, serve_socket_with, websocket_config,
};
use futures::FutureExt;
use futures::future::BoxFuture;
use hyper::StatusCode;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

use crate::accounts::{AuthError, Seen, TokenHash};
use crate::conn::AddrSlot;
use crate::error::{ApiCode, ApiError};
use crate::extract::{Credential, origin_allowed, token_of};
use crate::state::App;

/// `GET /ws`: answers the upgrade and spawns the socket's task.
pub(crate) async fn upgrade(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Result<Response, ApiError> {
    let app = &app;
    let result = check(app, peer, &req);
    let (auth, offered, accept) = match result {
        Ok(ok) => ok,
        Err(e) => {
            app.metrics.websocket_refused.fetch_add(1, Relaxed);
            tracing::debug!(%peer, code = e.code.as_str(), "websocket upgrade refused");
            return Err(e);
        }
    };
    let Ok(slot) = app.ws_slots.clone().try_acquire_owned() else {
        app.metrics.websocket_refused.fetch_add(1, Relaxed);
        return Err(ApiError::new(ApiCode::TooManyConnections, "the server is full"));
    };
    app.metrics.websocket_upgrades.fetch_add(1, Relaxed);
    let hub = app.hub.clone();
    let codec = offered.unwrap_or(Codec::Json);
    // The socket keeps its connection's place in the per-address count.
    let addr_slot = req.extensions().get::<Arc<AddrSlot>>().cloned();
    tokio::spawn(async move {
        let slots = (slot, addr_slot);
        match hyper::upgrade::on(req).await {
            Ok(upgraded) => {
                let config = websocket_config(hub.limits());
                let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
                let mut options = SocketOptions::default();
                if let Some(budget) = slots.1.as_ref().and_then(|slot| slot.frame_budget()) {
                    options = options.frame_budget(budget);
                }
                serve_socket_with(hub, ws, codec, auth, options).await;
            }
            Err(e) => tracing::debug!(%peer, error = %e, "websocket upgrade failed"),
        }
    });
    let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    // Echo the subprotocol only when the client offered one.
    if let Some(codec) = offered {
        headers.insert(header::SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(codec.subprotocol()));
    }
    Ok(response)
}

/// The session, the offered-and-chosen subprotocol, and the accept key; or why not.
fn check(app: &Arc<App>, peer: SocketAddr, req: &Request) -> Result<(Auth, Option<Codec>, HeaderValue), ApiError> {
    let headers = req.headers();
    let key = handshake_key(headers)?;
    let credential = token_of(headers);
    match headers.get(header::ORIGIN) {
        Some(origin) if !origin_allowed(app, headers, origin) => {
            return Err(ApiError::new(ApiCode::OriginNotAllowed, "this origin may not open a WebSocket here"));
        }
        Some(_) => {}
        // No Origin: not a browser. It must not ride on a cookie (a browser always sends Origin).
        None if matches!(credential, Some((_, Credential::Cookie))) => {
            return Err(ApiError::new(ApiCode::OriginRequired, "cookie sessions need an Origin header"));
        }
        None => {}
    }
    let seen = crate::api_account::seen(peer, headers);
    let auth = match credential {
        Some((token, _)) => match app.accounts.authenticate(&token, &seen) {
            Ok(caller) => Auth::User(identity(caller.user, &caller.token)),
            Err(AuthError::Unauthorized) => return Err(ApiError::unauthorized()),
            Err(other) => return Err(other.into_api()),
        },
        None => Auth::FirstFrame(Arc::new(FirstFrame { app: app.clone(), seen })),
    };
    let offered = headers.get(header::SEC_WEBSOCKET_PROTOCOL).and_then(|v| v.to_str().ok());
    let codec = offered.and_then(negotiate_subprotocol);
    if offered.is_some() && codec.is_none() {
        return Err(ApiError::bad_request("supported subprotocols: chat.v1.json, chat.v1.msgpack"));
    }
    Ok((auth, codec, key))
}

/// A session tagged with its login (the token's hash), so `POST /api/logout` closes every
/// socket of that login with [`HubHandle::close_login`](chat_ws::HubHandle::close_login),
/// however the socket authenticated.
pub(crate) fn identity(user: UserName, token: &TokenHash) -> Identity {
    Identity::login(user, LoginId::new(token))
}

/// The `Sec-WebSocket-Accept` for a valid handshake, or 400/426.
fn handshake_key(headers: &HeaderMap) -> Result<HeaderValue, ApiError> {
    let has_token = |name: header::HeaderName, token: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    if !has_token(header::UPGRADE, "websocket") || !has_token(header::CONNECTION, "upgrade") {
        return Err(ApiError::new(ApiCode::UpgradeRequired, "this endpoint speaks WebSocket"));
    }
    if headers.get(header::SEC_WEBSOCKET_VERSION).is_none_or(|v| v != "13") {
        return Err(ApiError::bad_request("Sec-WebSocket-Version must be 13"));
    }
    let key =
        headers.get(header::SEC_WEBSOCKET_KEY).ok_or_else(|| ApiError::bad_request("missing Sec-WebSocket-Key"))?;
    HeaderValue::from_str(&derive_accept_key(key.as_bytes()))
        .map_err(|_| ApiError::bad_request("bad Sec-WebSocket-Key"))
}

/// First-frame `register`: sign up when the name is free, else log in; or resume a token.
struct FirstFrame {
    app: Arc<App>,
    seen: Seen,
}

impl Authenticator for FirstFrame {
    fn authenticate(&self, register: Register) -> BoxFuture<'static, Result<Authenticated, AuthRefusal>> {
        let app = self.app.clone();
        let seen = self.seen.clone();
        async move {
            match (register.username, register.password, register.token) {
                (_, _, Some(token)) => match app.accounts.authenticate(&token, &seen) {
                    Ok(caller) => Ok(Authenticated::new(identity(caller.user, &caller.token))),
                    Err(e) => Err(refusal(e)),
                },
                (Some(username), Some(password), None) => {
                    match app.accounts.sign_in(&seen, &username, password).await {
                        Ok(issued) => {
                            app.end_sessions(&issued.ended);
                            if issued.created {
                                app.metrics.registrations.fetch_add(1, Relaxed);
                            } else {
                                app.metrics.logins.fetch_add(1, Relaxed);
                            }
                            Ok(Authenticated::new(identity(issued.user, &issued.hash)).with_token(issued.token))
                        }
                        Err(e) => {
                            app.metrics.login_failures.fetch_add(1, Relaxed);
                            Err(refusal(e))
                        }
                    }
                }
                _ => Err(AuthRefusal::new(ErrorCode::InvalidRequest, "register needs username and password, or token")),
            }
        }
        .boxed()
    }
}

fn refusal(e: AuthError) -> AuthRefusal {
    let code = match &e {
        AuthError::InvalidUsername(_) => ErrorCode::InvalidUsername.into(),
        AuthError::InvalidPassword(_) => ErrorCode::InvalidRequest.into(),
        AuthError::BadCredentials | AuthError::Unauthorized | AuthError::NameTaken | AuthError::WrongPassword => {
            WsErrorCode::BadCredentials
        }
        AuthError::Throttled | AuthError::Delayed(_) | AuthError::Busy => ErrorCode::RateLimited.into(),
        // The transport has no codes of these; the message says which (sign up over REST).
        AuthError::RegistrationClosed
        | AuthError::InvalidInvite
        | AuthError::AccountDisabled
        | AuthError::Forbidden
        | AuthError::InvalidResetCode => ErrorCode::Forbidden.into(),
        AuthError::UnknownAccount | AuthError::UnknownSession | AuthError::UnknownInvite | AuthError::Invalid(_) => {
            ErrorCode::InvalidRequest.into()
        }
        AuthError::Store(_) | AuthError::Hash(_) | AuthError::Random(_) | AuthError::Task(_) => {
            tracing::error!(error = %crate::accounts::ErrorChain(&e), "first-frame sign-in failed");
            ErrorCode::Internal.into()
        }
    };
    AuthRefusal::new(code, e.to_string())
}
