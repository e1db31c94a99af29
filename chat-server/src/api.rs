//! The REST API under `/api/`: accounts, and the seed's read endpoints for the authenticated
//! caller only. Everything about rooms goes through `hub.request(caller, ClientMsg)`, so the
//! core authorises it exactly as it authorises WebSocket frames; answers are the same
//! [`ServerMsg`] objects the WebSocket sends.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use chat_core::protocol::{RoomSummary, UserPresence};
use chat_core::{ClientMsg, RoomKey, RoomRef, RoomType, ServerMsg, UserName};
use chat_ws::HubError;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};
use serde::{Deserialize, Serialize};

use crate::accounts::{AuthError, Issued};
use crate::http::{self, App};
use crate::reply::{self, ApiError, Reply};

/// Dispatches `/api/*`.
pub(crate) async fn route(app: &Arc<App>, peer: SocketAddr, req: Request<Incoming>) -> Result<Reply, ApiError> {
    let path = req.uri().path().to_owned();
    let get = req.method() == Method::GET || req.method() == Method::HEAD;
    let post = req.method() == Method::POST;
    match path.as_str() {
        "/api/register" if post => register(app, peer, req).await,
        "/api/login" if post => login(app, peer, req).await,
        "/api/logout" if post => logout(app, req).await,
        "/api/me" if get => me(app, req),
        "/api/messages" if get => history(app, req).await,
        "/api/messages" if post => send(app, req).await,
        "/api/room_users" if get => room_users(app, req).await,
        "/api/notifications" if get => notifications(app, req).await,
        "/api/notifications/read" if post => mark_notifications_read(app, req).await,
        "/api/rooms" if get => rooms(app, req).await,
        "/api/rooms" if post => create_room(app, req).await,
        "/api/rooms/join" if post => room_op(app, req, RoomOp::Join).await,
        "/api/rooms/leave" if post => room_op(app, req, RoomOp::Leave).await,
        "/api/rooms/read" if post => room_op(app, req, RoomOp::Read).await,
        "/api/rooms/invite" if post => member_op(app, req, true).await,
        "/api/rooms/remove" if post => member_op(app, req, false).await,
        "/api/directory" if get => simple(app, req, ClientMsg::ListRooms).await,
        "/api/users" if get => simple(app, req, ClientMsg::ListUsers).await,
        "/api/register"
        | "/api/login"
        | "/api/logout"
        | "/api/me"
        | "/api/messages"
        | "/api/room_users"
        | "/api/notifications"
        | "/api/notifications/read"
        | "/api/rooms"
        | "/api/rooms/join"
        | "/api/rooms/leave"
        | "/api/rooms/read"
        | "/api/rooms/invite"
        | "/api/rooms/remove"
        | "/api/directory"
        | "/api/users" => Err(ApiError::method_not_allowed()),
        _ => Err(ApiError::not_found()),
    }
}

// ---- accounts -------------------------------------------------------------------------------

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

/// The answer to register and login.
#[derive(Serialize)]
struct SessionBody<'a> {
    username: &'a UserName,
    token: &'a str,
}

async fn register(app: &Arc<App>, peer: SocketAddr, req: Request<Incoming>) -> Result<Reply, ApiError> {
    let creds: Credentials = http::json_body(req, app.max_body_bytes).await?;
    let issued =
        app.accounts.register(peer.ip(), &creds.username, creds.password).await.map_err(AuthError::into_api)?;
    // Known to the core at once, so others can DM or invite the new user.
    app.hub.add_user(issued.user.clone()).await.map_err(hub_error)?;
    app.metrics.registrations.fetch_add(1, Relaxed);
    tracing::info!(user = %issued.user, %peer, "account created");
    Ok(session_reply(app, StatusCode::CREATED, &issued))
}

async fn login(app: &Arc<App>, peer: SocketAddr, req: Request<Incoming>) -> Result<Reply, ApiError> {
    let creds: Credentials = http::json_body(req, app.max_body_bytes).await?;
    match app.accounts.login(peer.ip(), &creds.username, creds.password).await {
        Ok(issued) => {
            app.metrics.logins.fetch_add(1, Relaxed);
            Ok(session_reply(app, StatusCode::OK, &issued))
        }
        Err(e) => {
            app.metrics.login_failures.fetch_add(1, Relaxed);
            tracing::info!(%peer, error = %e, "login refused");
            Err(e.into_api())
        }
    }
}

fn session_reply(app: &App, status: StatusCode, issued: &Issued) -> Reply {
    let mut response = reply::json(status, &SessionBody { username: &issued.user, token: &issued.token });
    response.headers_mut().insert(header::SET_COOKIE, http::session_cookie(app, &issued.token));
    response
}

async fn logout(app: &Arc<App>, req: Request<Incoming>) -> Result<Reply, ApiError> {
    let caller = http::caller(app, &req)?;
    app.accounts.logout(&caller.token).await.map_err(AuthError::into_api)?;
    // Close exactly the sockets opened with this login's token; other devices stay connected.
    let sessions = app.sockets.take(&caller.token);
    for session in &sessions {
        app.hub.kick(*session);
    }
    tracing::info!(user = %caller.user, sockets = sessions.len(), "logged out");
    let mut response = reply::json(StatusCode::OK, &serde_json::json!({ "ok": true }));
    response.headers_mut().insert(header::SET_COOKIE, http::clear_cookie(app));
    Ok(response)
}

fn me(app: &Arc<App>, req: Request<Incoming>) -> Result<Reply, ApiError> {
    let caller = http::caller(app, &req)?;
    Ok(reply::json(StatusCode::OK, &serde_json::json!({ "username": caller.user })))
}

// ---- chat -----------------------------------------------------------------------------------

/// Asks the core on behalf of `user`; a refusal becomes an HTTP error with its code.
async fn ask(app: &App, user: &UserName, msg: ClientMsg) -> Result<ServerMsg, ApiError> {
    match app.hub.request(user.clone(), msg).await.map_err(hub_error)? {
        ServerMsg::Error { code, message, .. } => Err(ApiError::from_core(code, message)),
        answer => Ok(answer),
    }
}

fn hub_error(e: HubError) -> ApiError {
    match e {
        HubError::CommitFailed(_) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "commit_failed", "storage failed; nothing was changed")
        }
        _ => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting_down", "the server is shutting down"),
    }
}

async fn simple(app: &Arc<App>, req: Request<Incoming>, msg: ClientMsg) -> Result<Reply, ApiError> {
    let caller = http::caller(app, &req)?;
    let answer = ask(app, &caller.user, msg).await?;
    Ok(reply::json(StatusCode::OK, &answer))
}

/// `GET /api/messages?room=…&before=…&after=…&limit=…` (or the seed's `room_type`,
/// `room_name`, `target`).
async fn history(app: &Arc<App>, req: Request<Incoming>) -> Result<Reply, ApiError> {
    let caller = http::caller(app, &req)?;
    let q = Query::parse(req.uri().query());
    let msg = ClientMsg::History {
        room: q.room_ref()?,
        before: q.number("before")?,
        after: q.number("after")?,
        limit: q.number("limit")?,
    };
    Ok(reply::json(StatusCode::OK, &ask(app, &caller.user, msg).await?))
}

#[derive(Deserialize)]
struct SendBody {
    #[serde(flatten)]
    room: RoomRef,
    content: String,
    #[serde(default)]
    client_id: Option<String>,
}

/// `POST /api/messages {room, content, client_id?}`: answers with the `ack`.
async fn send(app: &Arc<App>, req: Request<Incoming>) -> Result<Reply, ApiError> {
    let caller = http::caller(app, &req)?;
    if !app.rest_sends.hit(std::time::Instant::now(), &caller.user) {
        return Err(http::too_many());
    }
    let body: SendBody = http::json_body(req, app.max_body_bytes).await?;
    let msg = ClientMsg::SendMessage { room: body.room, content: body.content, client_id: body.client_id };
    Ok(reply::json(StatusCode::OK, &ask(app, &caller.user, msg).await?))
}

/// `GET /api/room_users?room=…`: members of a room the caller belongs to, with presence.
async fn room_users(app: &Arc<App>, req: Request<Incoming>) -> Result<Reply, ApiError> {
    let caller = http::caller(app, &req)?;
    let room = Query::parse(req.uri().query()).room_ref()?;
    let user = caller.user;
    let answer = app
        .hub
        .query(move |chat| -> Result<ServerMsg, ApiError> {
            let key = resolve(&room, &user)?;
            let state = chat.room(&key).ok_or_else(|| not_found(&key))?;
            if !state.members.contains(&user) {
                return Err(ApiError::from_core(
                    chat_core::ErrorCode::NotAMember,
                    "you are not a member of this room".into(),
                ));
            }
            let users =
                state.members.iter().map(|m| UserPresence { username: m.clone(), online: chat.is_online(m) }).collect();
            Ok(ServerMsg::RoomUsersUpdate { room: key, users })
        })
        .await
        .map_err(hub_error)??;
    Ok(reply::json(StatusCode::OK, &answer))
}

fn resolve(room: &RoomRef, user: &UserName) -> Result<RoomKey, ApiError> {
    let key = room.resolve(user).map_err(|e| ApiError::from_core(chat_core::ErrorCode::InvalidRoom, e.to_string()))?;
    if key.is_dm() && key.dm_peer(user).is_none() {
        return Err(ApiError::from_core(chat_core::ErrorCode::Forbidden, "that is someone else's conversation".into()));
    }
    Ok(key)
}

fn not_found(key: &RoomKey) -> ApiError {
    ApiError::from_core(chat_core::ErrorCode::RoomNotFound, format!("no such room: {key}"))
}

/// `GET /api/notifications?limit=…`.
async fn notifications(app: &Arc<App>, req: Request<Incoming>) -> Result<Reply, ApiError> {
    let caller = http::caller(app, &req)?;
    let limit = Query::parse(req.uri().query()).number("limit")?;
    Ok(reply::json(StatusCode::OK, &ask(app, &caller.user, ClientMsg::Notifications { limit }).await?))
}

#[derive(Deserialize, Default)]
struct ReadBody {
    #[serde(default)]
    ids: Option<Vec<u64>>,
}

/// `POST /api/notifications/read {ids?}` (all when `ids` is absent; an empty body is fine).
async fn mark_notifications_read(app: &Arc<App>, req: Request<Incoming>) -> Result<Reply, ApiError> {
    let caller = http::caller(app, &req)?;
    let empty = req.headers().get(header::CONTENT_LENGTH).is_some_and(|v| v == HeaderValue::from_static("0"));
    let body: ReadBody = if empty { ReadBody::default() } else { http::json_body(req, app.max_body_bytes).await? };
    let answer = ask(app, &caller.user, ClientMsg::MarkNotificationsRead { ids: body.ids }).await?;
    Ok(reply::json(StatusCode::OK, &answer))
}

/// The caller's rooms with unread and highlight counts, and their unread notification count.
#[derive(Serialize)]
struct RoomsBody {
    rooms: Vec<RoomSummary>,
    unread_notifications: u32,
}

/// `GET /api/rooms`.
async fn rooms(app: &Arc<App>, req: Request<Incoming>) -> Result<Reply, ApiError> {
    let caller = http::caller(app, &req)?;
    let user = caller.user;
    let body = app
        .hub
        .query(move |chat| {
            let state = chat.snapshot().users.get(&user);
            let rooms = chat.summaries(&user);
            RoomsBody { rooms, unread_notifications: state.map_or(0, |u| u.unread_notifications) }
        })
        .await
        .map_err(hub_error)?;
    Ok(reply::json(StatusCode::OK, &body))
}

#[derive(Deserialize)]
struct CreateBody {
    room_name: String,
    #[serde(default)]
    private: bool,
}

/// `POST /api/rooms {room_name, private}`: answers with `room_joined`.
async fn create_room(app: &Arc<App>, req: Request<Incoming>) -> Result<Reply, ApiError> {
    let caller = http::caller(app, &req)?;
    let body: CreateBody = http::json_body(req, app.max_body_bytes).await?;
    let msg = ClientMsg::CreateRoom { room_name: body.room_name, private: body.private };
    Ok(reply::json(StatusCode::CREATED, &ask(app, &caller.user, msg).await?))
}

enum RoomOp {
    Join,
    Leave,
    Read,
}

#[derive(Deserialize)]
struct RoomBody {
    #[serde(flatten)]
    room: RoomRef,
    #[serde(default)]
    seq: Option<u64>,
}

/// `POST /api/rooms/{join,leave,read} {room | room_type+room_name/target, seq?}`.
async fn room_op(app: &Arc<App>, req: Request<Incoming>, op: RoomOp) -> Result<Reply, ApiError> {
    let caller = http::caller(app, &req)?;
    let body: RoomBody = http::json_body(req, app.max_body_bytes).await?;
    let msg = match op {
        RoomOp::Join => ClientMsg::JoinRoom { room: body.room },
        RoomOp::Leave => ClientMsg::LeaveRoom { room: body.room },
        RoomOp::Read => ClientMsg::MarkRead { room: body.room, seq: body.seq },
    };
    Ok(reply::json(StatusCode::OK, &ask(app, &caller.user, msg).await?))
}

#[derive(Deserialize)]
struct MemberBody {
    #[serde(flatten)]
    room: RoomRef,
    username: String,
}

/// `POST /api/rooms/invite|remove {room, username}`.
async fn member_op(app: &Arc<App>, req: Request<Incoming>, invite: bool) -> Result<Reply, ApiError> {
    let caller = http::caller(app, &req)?;
    let body: MemberBody = http::json_body(req, app.max_body_bytes).await?;
    let msg = if invite {
        ClientMsg::Invite { room: body.room, username: body.username }
    } else {
        ClientMsg::Remove { room: body.room, username: body.username }
    };
    Ok(reply::json(StatusCode::OK, &ask(app, &caller.user, msg).await?))
}

// ---- query strings --------------------------------------------------------------------------

/// A parsed query string (percent-decoded; `+` is a space).
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(query: Option<&str>) -> Query {
        let pairs = query
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(k), decode(v))
            })
            .collect();
        Query(pairs)
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    fn number<T: std::str::FromStr>(&self, key: &str) -> Result<Option<T>, ApiError> {
        self.get(key)
            .map(|v| v.parse().map_err(|_| ApiError::bad_request(format!("'{key}' must be a non-negative number"))))
            .transpose()
    }

    /// `room=<key>`, or the seed's `room_type` with `room_name` / `target`.
    fn room_ref(&self) -> Result<RoomRef, ApiError> {
        let room_type = match self.get("room_type") {
            None => None,
            Some("group") => Some(RoomType::Group),
            Some("dm") => Some(RoomType::Dm),
            Some(_) => {
                return Err(ApiError::from_core(
                    chat_core::ErrorCode::InvalidRoom,
                    "room_type is 'group' or 'dm'".into(),
                ));
            }
        };
        let room = RoomRef {
            room: self.get("room").map(str::to_owned),
            room_type,
            room_name: self.get("room_name").map(str::to_owned),
            target: self.get("target").map(str::to_owned),
        };
        if room.room.is_none() && room.room_name.is_none() && room.target.is_none() {
            return Err(ApiError::from_core(chat_core::ErrorCode::InvalidRoom, "name a room with 'room'".into()));
        }
        Ok(room)
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex_val(bytes[i + 1]), hex_val(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_query_strings() {
        assert_eq!(decode("group%3Alobby"), "group:lobby");
        assert_eq!(decode("a+b"), "a b");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%4"), "%4");
        assert_eq!(decode("%zz"), "%zz");
        let q = Query::parse(Some("room=dm%3Aalice%3Abob&limit=5&before="));
        assert_eq!(q.get("room"), Some("dm:alice:bob"));
        assert_eq!(q.number::<u32>("limit").unwrap(), Some(5));
        assert_eq!(q.number::<u64>("before").unwrap(), None);
        assert!(Query::parse(Some("limit=-1")).number::<u32>("limit").is_err());
    }
}
