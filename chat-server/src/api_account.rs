//! REST for a user's own account (`/api/account/…`): password, sessions, export, deletion,
//! and redeeming a reset code. Every route but `redeem_reset` acts on the authenticated caller
//! only; nothing here takes a user name to act on.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use hyper::header::{self, HeaderMap};
use serde::Deserialize;
use serde_json::json;

use crate::accounts::{AuthError, Caller, Seen};
use crate::error::ApiError;
use crate::extract::{ApiJson, clear_cookie};
use crate::state::App;

type AppState = State<Arc<App>>;

/// Where a request came from, for the session list.
pub(crate) fn seen(peer: SocketAddr, headers: &HeaderMap) -> Seen {
    Seen::new(peer.ip(), headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()))
}

#[derive(Deserialize)]
pub(crate) struct PasswordBody {
    old_password: String,
    new_password: String,
}

/// `POST /api/account/password {old_password, new_password}`: ends every other session.
pub(crate) async fn change_password(
    State(app): AppState,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    caller: Caller,
    ApiJson(body): ApiJson<PasswordBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let seen = seen(peer, &headers);
    let ended = app
        .accounts
        .change_password(&caller, &seen, body.old_password, body.new_password)
        .await
        .map_err(AuthError::into_api)?;
    let n = app.end_sessions(&ended);
    tracing::info!(user = %caller.user, sessions_ended = ended.len(), sockets = n, "password changed");
    Ok(Json(json!({ "ok": true, "sessions_ended": ended.len() })))
}

/// `GET /api/account/sessions` → `{sessions: [{id, created, last_used, address, user_agent,
/// current}]}`.
pub(crate) async fn sessions(State(app): AppState, caller: Caller) -> Result<Json<serde_json::Value>, ApiError> {
    let sessions = app.accounts.sessions(&caller).map_err(AuthError::into_api)?;
    Ok(Json(json!({ "sessions": sessions })))
}

#[derive(Deserialize)]
pub(crate) struct RevokeBody {
    id: String,
}

/// `POST /api/account/sessions/revoke {id}`: ends one of the caller's sessions.
pub(crate) async fn revoke_session(
    State(app): AppState,
    caller: Caller,
    ApiJson(body): ApiJson<RevokeBody>,
) -> Result<Response, ApiError> {
    let hash = app.accounts.revoke_session(&caller, &body.id).await.map_err(AuthError::into_api)?;
    app.end_sessions(&[hash]);
    let body = Json(json!({ "ok": true }));
    if hash == caller.token {
        return Ok(([(header::SET_COOKIE, clear_cookie(&app))], body).into_response());
    }
    Ok(body.into_response())
}

/// `POST /api/account/logout_all`: ends every session of the caller, this one included.
pub(crate) async fn logout_all(State(app): AppState, caller: Caller) -> Result<Response, ApiError> {
    let ended = app.accounts.logout_all(&caller).await.map_err(AuthError::into_api)?;
    let sockets = app.end_sessions(&ended);
    tracing::info!(user = %caller.user, sessions = ended.len(), sockets, "logged out everywhere");
    let body = Json(json!({ "ok": true, "sessions_ended": ended.len() }));
    Ok(([(header::SET_COOKIE, clear_cookie(&app))], body).into_response())
}

#[derive(Deserialize)]
pub(crate) struct DeleteBody {
    password: String,
}

/// `POST /api/account/delete {password}`: deletes the caller's account (see docs/protocol.md
/// for what happens to their messages).
pub(crate) async fn delete(
    State(app): AppState,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    caller: Caller,
    ApiJson(body): ApiJson<DeleteBody>,
) -> Result<Response, ApiError> {
    let seen = seen(peer, &headers);
    let ended = app.accounts.delete_own(&caller, &seen, body.password).await.map_err(AuthError::into_api)?;
    app.end_sessions(&ended);
    let left = crate::export::leave_group_rooms(&app, &caller.user).await;
    tracing::info!(user = %caller.user, rooms_left = left, "account deleted");
    let body = Json(json!({ "ok": true, "rooms_left": left }));
    Ok(([(header::SET_COOKIE, clear_cookie(&app))], body).into_response())
}

#[derive(Deserialize)]
pub(crate) struct RedeemBody {
    username: String,
    code: String,
    new_password: String,
}

/// `POST /api/account/redeem_reset {username, code, new_password}` → `{username, token}` and
/// the cookie: every earlier session of the user ends.
pub(crate) async fn redeem_reset(
    State(app): AppState,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RedeemBody>,
) -> Result<Response, ApiError> {
    let seen = seen(peer, &headers);
    let (ended, issued) = app
        .accounts
        .redeem_reset(&seen, &body.username, &body.code, body.new_password)
        .await
        .map_err(AuthError::into_api)?;
    app.end_sessions(&ended);
    tracing::info!(user = %issued.user, "password reset redeemed");
    Ok(crate::api::session_reply(&app, hyper::StatusCode::OK, &issued))
}
