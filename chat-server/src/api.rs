//! The REST API under `/api/`: accounts, and the chat routes for the authenticated caller
//! only. Every chat route is one `hub.request(caller, ClientMsg)`, so the core authorises it
//! exactly as it authorises WebSocket frames, and answers with the same [`ServerMsg`] object
//! the WebSocket sends: this file holds no membership, DM or room-resolution rule.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use chat_core::protocol::DirectoryQuery;
use chat_core::{ClientMsg, RoomRef, RoomType, ServerMsg, UserName};
use chat_ws::HubError;
use hyper::StatusCode;
use hyper::header;
use serde::{Deserialize, Serialize};

use crate::accounts::{AuthError, Caller, Issued};
use crate::error::{ApiCode, ApiError};
use crate::extract::{ApiJson, ApiQuery, clear_cookie, session_cookie};
use crate::state::App;

type AppState = State<Arc<App>>;

// ---- accounts -------------------------------------------------------------------------------

#[derive(Deserialize)]
pub(crate) struct Credentials {
    username: String,
    password: String,
}

/// The body of `POST /api/register`.
#[derive(Deserialize)]
pub(crate) struct RegisterBody {
    username: String,
    password: String,
    /// Needed when the registration mode is `invite`.
    #[serde(default)]
    invite: Option<String>,
}

/// The answer to register and login.
#[derive(Serialize)]
struct SessionBody<'a> {
    username: &'a UserName,
    token: &'a str,
    /// Present (true) when the new account is an administrator: the first of the database.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    admin: bool,
}

/// `POST /api/register {username, password, invite?}` → 201 `{username, token}` and the
/// cookie; under the registration mode (`registration_closed`, `invalid_invite`).
pub(crate) async fn register(
    State(app): AppState,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: hyper::HeaderMap,
    ApiJson(creds): ApiJson<RegisterBody>,
) -> Result<Response, ApiError> {
    let seen = crate::api_account::seen(peer, &headers);
    let issued = app
        .accounts
        .register(&seen, &creds.username, creds.password, creds.invite.as_deref())
        .await
        .map_err(AuthError::into_api)?;
    // Known to the core at once, so others can DM or invite the new user.
    app.hub.add_user(issued.user.clone()).await.map_err(hub_error)?;
    app.metrics.registrations.fetch_add(1, Relaxed);
    tracing::info!(user = %issued.user, %peer, "account created");
    Ok(session_reply(&app, StatusCode::CREATED, &issued))
}

/// `POST /api/login {username, password}` → `{username, token}` and the cookie.
pub(crate) async fn login(
    State(app): AppState,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: hyper::HeaderMap,
    ApiJson(creds): ApiJson<Credentials>,
) -> Result<Response, ApiError> {
    let seen = crate::api_account::seen(peer, &headers);
    match app.accounts.login(&seen, &creds.username, creds.password).await {
        Ok(issued) => {
            app.metrics.logins.fetch_add(1, Relaxed);
            app.end_sessions(&issued.ended);
            Ok(session_reply(&app, StatusCode::OK, &issued))
        }
        Err(e) => {
            app.metrics.login_failures.fetch_add(1, Relaxed);
            tracing::info!(%peer, error = %e, "login refused");
            Err(e.into_api())
        }
    }
}

pub(crate) fn session_reply(app: &App, status: StatusCode, issued: &Issued) -> Response {
    let body = Json(SessionBody { username: &issued.user, token: &issued.token, admin: issued.admin });
    (status, [(header::SET_COOKIE, session_cookie(app, &issued.token))], body).into_response()
}

/// `POST /api/logout`: deletes the token and closes the sockets opened with it.
pub(crate) async fn logout(State(app): AppState, caller: Caller) -> Result<Response, ApiError> {
    app.accounts.logout(&caller.token).await.map_err(AuthError::into_api)?;
    // Close exactly the sockets of this login (bearer, cookie or first frame); other devices
    // stay connected.
    let closed = app.hub.close_login(&chat_ws::LoginId::new(caller.token));
    tracing::info!(user = %caller.user, sockets = closed, "logged out");
    let body = Json(serde_json::json!({ "ok": true }));
    Ok(([(header::SET_COOKIE, clear_cookie(&app))], body).into_response())
}

/// `GET /api/me` → `{username, admin}`.
pub(crate) async fn me(State(app): AppState, caller: Caller) -> Json<serde_json::Value> {
    let admin = app.accounts.require_admin(&caller.user).is_ok();
    Json(serde_json::json!({ "username": caller.user, "admin": admin }))
}

/// `GET /api/registration` → `{mode}`: whether sign-up is open, needs an invite, or is closed
/// (public, so a sign-up form can ask for a code).
pub(crate) async fn registration(State(app): AppState) -> Result<Json<serde_json::Value>, ApiError> {
    let mode = app.accounts.registration().map_err(AuthError::into_api)?;
    Ok(Json(serde_json::json!({ "mode": mode.as_str() })))
}

// ---- chat -----------------------------------------------------------------------------------

/// Asks the core on behalf of `user`; a refusal becomes an HTTP error with its code.
pub(crate) async fn ask(app: &App, user: &UserName, msg: ClientMsg) -> Result<Json<ServerMsg>, ApiError> {
    match app.hub.request(user.clone(), msg).await.map_err(hub_error)? {
        ServerMsg::Error { code, message, .. } => Err(ApiError::from_core(code, message)),
        answer => Ok(Json(answer)),
    }
}

pub(crate) fn hub_error(e: HubError) -> ApiError {
    match e {
        HubError::CommitFailed(_) => ApiError::new(ApiCode::CommitFailed, "storage failed; nothing was changed"),
        _ => ApiError::new(ApiCode::ShuttingDown, "the server is shutting down"),
    }
}

/// A room named in a query string: `room=<key>`, or the seed's `room_type` with `room_name` /
/// `target`.
#[derive(Deserialize)]
pub(crate) struct RoomQuery {
    room: Option<String>,
    room_type: Option<RoomType>,
    room_name: Option<String>,
    target: Option<String>,
}

impl RoomQuery {
    fn room_ref(self) -> Result<RoomRef, ApiError> {
        if self.room.is_none() && self.room_name.is_none() && self.target.is_none() {
            return Err(ApiError::from_core(chat_core::ErrorCode::InvalidRoom, "name a room with 'room'".into()));
        }
        Ok(RoomRef { room: self.room, room_type: self.room_type, room_name: self.room_name, target: self.target })
    }
}

/// `GET /api/messages` parameters.
#[derive(Deserialize)]
pub(crate) struct HistoryQuery {
    #[serde(flatten)]
    room: RoomQuery,
    before: Option<u64>,
    after: Option<u64>,
    limit: Option<u32>,
    around: Option<u64>,
}

/// `GET /api/messages?room=…&before=…&after=…&around=…&limit=…` (or the seed's `room_type`,
/// `room_name`, `target`).
pub(crate) async fn history(
    State(app): AppState,
    caller: Caller,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Json<ServerMsg>, ApiError> {
    let msg = ClientMsg::History {
        room: q.room.room_ref()?,
        before: q.before,
        after: q.after,
        limit: q.limit,
        around: q.around,
    };
    ask(&app, &caller.user, msg).await
}

#[derive(Deserialize)]
pub(crate) struct SendBody {
    #[serde(flatten)]
    room: RoomRef,
    content: String,
    #[serde(default)]
    client_id: Option<String>,
    /// The message this one replies to (`send_message.reply_to`).
    #[serde(default)]
    reply_to: Option<u64>,
    /// Uploaded files (`send_message.attachments`).
    #[serde(default)]
    attachments: Vec<chat_core::attachment::AttachmentId>,
}

/// `POST /api/messages {room, content, client_id?, reply_to?}`: answers with the `ack`.
pub(crate) async fn send(
    State(app): AppState,
    caller: Caller,
    ApiJson(body): ApiJson<SendBody>,
) -> Result<Json<ServerMsg>, ApiError> {
    if !app.rest_sends.hit(std::time::Instant::now(), &caller.user) {
        return Err(ApiError::too_many());
    }
    let msg = ClientMsg::SendMessage {
        room: body.room,
        content: body.content,
        client_id: body.client_id,
        reply_to: body.reply_to,
        attachments: body.attachments,
    };
    ask(&app, &caller.user, msg).await
}

/// `GET /api/room_users?room=…`: members of a room the caller belongs to, with presence
/// (`room_users_update`; the core decides who may see the room).
pub(crate) async fn room_users(
    State(app): AppState,
    caller: Caller,
    ApiQuery(q): ApiQuery<RoomQuery>,
) -> Result<Json<ServerMsg>, ApiError> {
    ask(&app, &caller.user, ClientMsg::RoomUsers { room: q.room_ref()? }).await
}

/// `?limit=` of the notification list.
#[derive(Deserialize)]
pub(crate) struct LimitQuery {
    limit: Option<u32>,
}

/// `GET /api/notifications?limit=…`.
pub(crate) async fn notifications(
    State(app): AppState,
    caller: Caller,
    ApiQuery(q): ApiQuery<LimitQuery>,
) -> Result<Json<ServerMsg>, ApiError> {
    ask(&app, &caller.user, ClientMsg::Notifications { limit: q.limit }).await
}

#[derive(Deserialize, Default)]
pub(crate) struct ReadBody {
    #[serde(default)]
    ids: Option<Vec<u64>>,
}

/// `POST /api/notifications/read {ids?}` (all when `ids` is absent; a POST without a body is
/// fine).
pub(crate) async fn mark_notifications_read(
    State(app): AppState,
    caller: Caller,
    body: Option<ApiJson<ReadBody>>,
) -> Result<Json<ServerMsg>, ApiError> {
    let ids = body.and_then(|ApiJson(body)| body.ids);
    ask(&app, &caller.user, ClientMsg::MarkNotificationsRead { ids }).await
}

/// `GET /api/rooms` parameters: a page of the caller's rooms.
#[derive(Deserialize)]
pub(crate) struct MyRoomsQuery {
    after: Option<String>,
    limit: Option<u32>,
}

/// `GET /api/rooms?after=&limit=`: the caller's rooms with unread and highlight counts, and
/// their unread notification count (`rooms`, with `more` when another page follows).
pub(crate) async fn rooms(
    State(app): AppState,
    caller: Caller,
    ApiQuery(q): ApiQuery<MyRoomsQuery>,
) -> Result<Json<ServerMsg>, ApiError> {
    ask(&app, &caller.user, ClientMsg::MyRooms { after: q.after, limit: q.limit }).await
}

#[derive(Deserialize)]
pub(crate) struct CreateBody {
    room_name: String,
    #[serde(default)]
    private: bool,
}

/// `POST /api/rooms {room_name, private}`: answers 201 with `room_joined`.
pub(crate) async fn create_room(
    State(app): AppState,
    caller: Caller,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<(StatusCode, Json<ServerMsg>), ApiError> {
    let msg = ClientMsg::CreateRoom { room_name: body.room_name, private: body.private };
    Ok((StatusCode::CREATED, ask(&app, &caller.user, msg).await?))
}

#[derive(Deserialize)]
pub(crate) struct RoomBody {
    #[serde(flatten)]
    room: RoomRef,
    #[serde(default)]
    seq: Option<u64>,
}

/// `POST /api/rooms/join {room | room_type+room_name/target}`.
pub(crate) async fn join(
    State(app): AppState,
    caller: Caller,
    ApiJson(body): ApiJson<RoomBody>,
) -> Result<Json<ServerMsg>, ApiError> {
    ask(&app, &caller.user, ClientMsg::JoinRoom { room: body.room }).await
}

/// `POST /api/rooms/leave {room}`.
pub(crate) async fn leave(
    State(app): AppState,
    caller: Caller,
    ApiJson(body): ApiJson<RoomBody>,
) -> Result<Json<ServerMsg>, ApiError> {
    ask(&app, &caller.user, ClientMsg::LeaveRoom { room: body.room }).await
}

/// `POST /api/rooms/read {room, seq?}`.
pub(crate) async fn mark_read(
    State(app): AppState,
    caller: Caller,
    ApiJson(body): ApiJson<RoomBody>,
) -> Result<Json<ServerMsg>, ApiError> {
    ask(&app, &caller.user, ClientMsg::MarkRead { room: body.room, seq: body.seq }).await
}

#[derive(Deserialize)]
pub(crate) struct MemberBody {
    #[serde(flatten)]
    room: RoomRef,
    username: String,
}

/// `POST /api/rooms/accept {room}`: accept a pending invitation.
pub(crate) async fn accept_invite(
    State(app): AppState,
    caller: Caller,
    ApiJson(body): ApiJson<RoomBody>,
) -> Result<Json<ServerMsg>, ApiError> {
    ask(&app, &caller.user, ClientMsg::AcceptInvite { room: body.room }).await
}

/// `POST /api/rooms/decline {room}`: decline a pending invitation.
pub(crate) async fn decline_invite(
    State(app): AppState,
    caller: Caller,
    ApiJson(body): ApiJson<RoomBody>,
) -> Result<Json<ServerMsg>, ApiError> {
    ask(&app, &caller.user, ClientMsg::DeclineInvite { room: body.room }).await
}

/// `POST /api/rooms/invite {room, username}`.
pub(crate) async fn invite(
    State(app): AppState,
    caller: Caller,
    ApiJson(body): ApiJson<MemberBody>,
) -> Result<Json<ServerMsg>, ApiError> {
    ask(&app, &caller.user, ClientMsg::Invite { room: body.room, username: body.username }).await
}

/// `POST /api/rooms/remove {room, username}`.
pub(crate) async fn remove(
    State(app): AppState,
    caller: Caller,
    ApiJson(body): ApiJson<MemberBody>,
) -> Result<Json<ServerMsg>, ApiError> {
    ask(&app, &caller.user, ClientMsg::Remove { room: body.room, username: body.username }).await
}

/// `GET /api/directory?prefix=&after=&limit=`: a page of the public rooms (`room_list`).
pub(crate) async fn directory(
    State(app): AppState,
    caller: Caller,
    ApiQuery(q): ApiQuery<DirectoryQuery>,
) -> Result<Json<ServerMsg>, ApiError> {
    ask(&app, &caller.user, ClientMsg::ListRooms(q)).await
}

/// `GET /api/users?prefix=&after=&limit=`: a page of the users (`user_list`).
pub(crate) async fn users(
    State(app): AppState,
    caller: Caller,
    ApiQuery(q): ApiQuery<DirectoryQuery>,
) -> Result<Json<ServerMsg>, ApiError> {
    ask(&app, &caller.user, ClientMsg::ListUsers(q)).await
}
