//! REST for administrators (`/api/admin/…`). Every handler takes the [`Admin`] extractor, which
//! authenticates the caller and refuses (403 `forbidden`) anyone who is not an active
//! administrator at the time of the call; every change is written to the audit log.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use hyper::StatusCode;
use hyper::header::HeaderMap;
use serde::Deserialize;
use serde_json::json;

use chat_core::{ClientMsg, RoomRef, ServerMsg};

use crate::accounts::AuthError;
use crate::api::hub_error;
use crate::config::Registration;
use crate::error::ApiError;
use crate::extract::{Admin, ApiJson, ApiQuery};
use crate::state::App;

type AppState = State<Arc<App>>;
type JsonResult = Result<Json<serde_json::Value>, ApiError>;

#[derive(Deserialize)]
pub(crate) struct UsersQuery {
    after: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/admin/users?after=&limit=` → `{users: [{username, created, last_seen, admin,
/// disabled, deleted?}], more}`.
pub(crate) async fn users(State(app): AppState, _: Admin, ApiQuery(q): ApiQuery<UsersQuery>) -> JsonResult {
    let (users, more) = app.accounts.users(q.after.as_deref(), q.limit).map_err(AuthError::into_api)?;
    Ok(Json(json!({ "users": users, "more": more })))
}

#[derive(Deserialize)]
pub(crate) struct NewUserBody {
    username: String,
    password: String,
}

/// `POST /api/admin/users {username, password}` → 201 `{username}`: creates an account in any
/// registration mode (the way in when it is `closed`).
pub(crate) async fn create_user(
    State(app): AppState,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Admin(admin): Admin,
    ApiJson(body): ApiJson<NewUserBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let seen = crate::api_account::seen(peer, &headers);
    let issued = app
        .accounts
        .create_user(&admin.user, &seen, &body.username, body.password)
        .await
        .map_err(AuthError::into_api)?;
    app.hub.add_user(issued.user.clone()).await.map_err(crate::api::hub_error)?;
    Ok((StatusCode::CREATED, Json(json!({ "username": issued.user }))))
}

#[derive(Deserialize)]
pub(crate) struct UserBody {
    username: String,
}

async fn set_disabled(app: &App, admin: &Admin, username: &str, disabled: bool) -> JsonResult {
    let ended = app.accounts.set_disabled(&admin.0.user, username, disabled).await.map_err(AuthError::into_api)?;
    let sockets = app.end_sessions(&ended);
    Ok(Json(json!({ "ok": true, "sessions_ended": ended.len(), "sockets_closed": sockets })))
}

/// `POST /api/admin/users/disable {username}`: its sockets close at once, its tokens stop
/// working, it cannot log in.
pub(crate) async fn disable(State(app): AppState, admin: Admin, ApiJson(body): ApiJson<UserBody>) -> JsonResult {
    set_disabled(&app, &admin, &body.username, true).await
}

/// `POST /api/admin/users/enable {username}`.
pub(crate) async fn enable(State(app): AppState, admin: Admin, ApiJson(body): ApiJson<UserBody>) -> JsonResult {
    set_disabled(&app, &admin, &body.username, false).await
}

/// `POST /api/admin/users/reset_password {username}` → `{code, expires}`: a one-time code the
/// user redeems with `POST /api/account/redeem_reset` within a day.
pub(crate) async fn reset_password(
    State(app): AppState,
    Admin(admin): Admin,
    ApiJson(body): ApiJson<UserBody>,
) -> JsonResult {
    let (code, expires) =
        app.accounts.reset_password(&admin.user, &body.username).await.map_err(AuthError::into_api)?;
    Ok(Json(json!({ "code": code, "expires": expires })))
}

#[derive(Deserialize, Default)]
pub(crate) struct InviteBody {
    uses: Option<u32>,
    expires_in_hours: Option<u32>,
}

/// `POST /api/admin/invites {uses?, expires_in_hours?}` → 201 `{code, id, uses, expires}`.
pub(crate) async fn create_invite(
    State(app): AppState,
    Admin(admin): Admin,
    body: Option<ApiJson<InviteBody>>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let body = body.map(|ApiJson(b)| b).unwrap_or_default();
    let invite =
        app.accounts.create_invite(&admin.user, body.uses, body.expires_in_hours).await.map_err(AuthError::into_api)?;
    Ok((StatusCode::CREATED, Json(json!(invite))))
}

/// `GET /api/admin/invites` → `{invites: [{id, created_by, created, uses_left, used, expires}]}`.
pub(crate) async fn invites(State(app): AppState, _: Admin) -> JsonResult {
    let invites = app.accounts.invites().map_err(AuthError::into_api)?;
    Ok(Json(json!({ "invites": invites })))
}

#[derive(Deserialize)]
pub(crate) struct IdBody {
    id: String,
}

/// `POST /api/admin/invites/revoke {id}`.
pub(crate) async fn revoke_invite(
    State(app): AppState,
    Admin(admin): Admin,
    ApiJson(body): ApiJson<IdBody>,
) -> JsonResult {
    app.accounts.revoke_invite(&admin.user, &body.id).await.map_err(AuthError::into_api)?;
    Ok(Json(json!({ "ok": true })))
}

#[derive(Deserialize)]
pub(crate) struct AuditQuery {
    before: Option<u64>,
    limit: Option<usize>,
}

/// `GET /api/admin/audit?before=&limit=` → `{entries: [{id, at, actor, action, target,
/// detail}]}`, newest first.
pub(crate) async fn audit(State(app): AppState, _: Admin, ApiQuery(q): ApiQuery<AuditQuery>) -> JsonResult {
    let entries = app.accounts.audit(q.before, q.limit).map_err(AuthError::into_api)?;
    Ok(Json(json!({ "entries": entries })))
}

/// `GET /api/admin/registration` → `{mode}`.
pub(crate) async fn registration(State(app): AppState, _: Admin) -> JsonResult {
    let mode = app.accounts.registration().map_err(AuthError::into_api)?;
    Ok(Json(json!({ "mode": mode.as_str() })))
}

#[derive(Deserialize)]
pub(crate) struct ModeBody {
    mode: String,
}

/// `POST /api/admin/registration {mode: open|invite|closed}` → `{mode}`.
pub(crate) async fn set_registration(
    State(app): AppState,
    Admin(admin): Admin,
    ApiJson(body): ApiJson<ModeBody>,
) -> JsonResult {
    let mode =
        Registration::parse(&body.mode).ok_or_else(|| ApiError::bad_request("mode is open, invite or closed"))?;
    app.accounts.set_registration(Some(&admin.user), mode).await.map_err(AuthError::into_api)?;
    Ok(Json(json!({ "mode": mode.as_str() })))
}

/// `delete_message`'s fields.
#[derive(Deserialize)]
pub(crate) struct DeleteMessageBody {
    #[serde(flatten)]
    room: RoomRef,
    seq: u64,
}

/// `POST /api/admin/messages/delete {room, seq}` → `message_deleted`: an administrator deletes
/// any message of any room, DMs included, without being a member (the core's
/// `Input::AdminRequest`). The deletion reaches the room's members as any other; it is audited
/// as `message_delete` with the room and seq.
pub(crate) async fn delete_message(
    State(app): AppState,
    Admin(admin): Admin,
    ApiJson(body): ApiJson<DeleteMessageBody>,
) -> Result<Json<ServerMsg>, ApiError> {
    let seq = body.seq;
    let answer = app
        .hub
        .admin_request(admin.user.clone(), ClientMsg::DeleteMessage { room: body.room, seq })
        .await
        .map_err(hub_error)?;
    match answer {
        ServerMsg::Error { code, message, .. } => Err(ApiError::from_core(code, message)),
        answer => {
            if let ServerMsg::MessageDeleted { room, .. } = &answer {
                let target = Some(format!("{room}#{seq}"));
                app.accounts.audit_action(Some(&admin.user), "message_delete", target, None).await;
            }
            Ok(Json(answer))
        }
    }
}
