//! `GET /api/account/export`: a user's own data as one JSON document, and the room departures
//! of a deleted account. Both go through `hub.request` as the user, so the core decides what
//! the user may read exactly as it does for their own client.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chat_core::protocol::RoomSummary;
use chat_core::{ClientMsg, Message, RoomRef, ServerMsg, UserName};
use hyper::header;
use serde::Serialize;

use crate::accounts::{AuthError, Caller, now_ms};
use crate::error::ApiError;
use crate::state::App;

/// Messages read for an export at most (the document says when it stopped early).
pub(crate) const MAX_EXPORT_SCANNED: usize = 200_000;
/// Rooms listed at most (the core caps a user's rooms far below this).
const MAX_EXPORT_ROOMS: usize = 10_000;

/// The export document.
#[derive(Serialize)]
struct Export {
    username: UserName,
    created: chat_core::Timestamp,
    exported_at: chat_core::Timestamp,
    /// The rooms the user belongs to.
    rooms: Vec<RoomSummary>,
    /// The newest notifications (at most 100, as the protocol pages them).
    notifications: Vec<chat_core::Notification>,
    /// Messages the user sent, in the rooms they belong to, by room then seq.
    messages: Vec<Message>,
    /// `true` when the scan stopped at its bound before the end.
    truncated: bool,
}

async fn ask(app: &App, user: &UserName, msg: ClientMsg) -> Result<ServerMsg, ApiError> {
    match app.hub.request(user.clone(), msg).await.map_err(crate::api::hub_error)? {
        ServerMsg::Error { code, message, .. } => Err(ApiError::from_core(code, message)),
        answer => Ok(answer),
    }
}

/// Every room of `user`, paged.
async fn rooms_of(app: &App, user: &UserName) -> Result<Vec<RoomSummary>, ApiError> {
    let mut rooms = Vec::new();
    let mut after = None;
    loop {
        let msg = ClientMsg::MyRooms { after: after.take(), limit: Some(100) };
        let ServerMsg::Rooms { rooms: page, more, .. } = ask(app, user, msg).await? else { break };
        after = page.last().map(|r| r.room.to_string());
        rooms.extend(page);
        if !more || after.is_none() || rooms.len() >= MAX_EXPORT_ROOMS {
            break;
        }
    }
    Ok(rooms)
}

/// `GET /api/account/export`: `{username, created, exported_at, rooms, notifications,
/// messages, truncated}`, as an attachment.
pub(crate) async fn export(State(app): State<Arc<App>>, caller: Caller) -> Result<Response, ApiError> {
    let user = caller.user.clone();
    let account = app.accounts.store.account(&user).map_err(|e| AuthError::from(e).into_api())?;
    let created = account.map_or(chat_core::Timestamp(0), |a| a.created);
    let rooms = rooms_of(&app, &user).await?;
    let notifications = match ask(&app, &user, ClientMsg::Notifications { limit: Some(100) }).await? {
        ServerMsg::Notifications { items, .. } => items,
        _ => Vec::new(),
    };
    let mut messages = Vec::new();
    let mut scanned = 0usize;
    let mut truncated = false;
    'rooms: for room in &rooms {
        let mut after = 0;
        loop {
            if scanned >= MAX_EXPORT_SCANNED {
                truncated = true;
                break 'rooms;
            }
            let msg = ClientMsg::History {
                room: RoomRef::key(&room.room),
                before: None,
                after: Some(after),
                limit: Some(chat_core::protocol::MAX_HISTORY_LIMIT),
                around: None,
            };
            let ServerMsg::History { messages: page, more, .. } = ask(&app, &user, msg).await? else { break };
            scanned += page.len();
            let Some(last) = page.last().map(|m| m.seq) else { break };
            after = last;
            messages.extend(page.into_iter().filter(|m| m.sender == user));
            if !more && last >= room.last_seq {
                break;
            }
        }
    }
    let doc = Export { username: user, created, exported_at: now_ms(), rooms, notifications, messages, truncated };
    let disposition = format!("attachment; filename=\"chat-export-{}.json\"", caller.user);
    Ok(([(header::CONTENT_DISPOSITION, disposition)], Json(doc)).into_response())
}

/// Makes a deleted account leave every group room it can (not DMs, which are the other
/// person's conversation too, and not rooms it owns, which the core does not let an owner
/// leave). Returns how many it left. Best effort: a refusal is logged and skipped.
pub(crate) async fn leave_group_rooms(app: &App, user: &UserName) -> usize {
    let rooms = match rooms_of(app, user).await {
        Ok(rooms) => rooms,
        Err(e) => {
            tracing::warn!(%user, error = %e.message, "could not list a deleted account's rooms");
            return 0;
        }
    };
    let mut left = 0;
    for room in rooms.iter().filter(|r| r.can_leave) {
        match ask(app, user, ClientMsg::LeaveRoom { room: RoomRef::key(&room.room) }).await {
            Ok(_) => left += 1,
            Err(e) => tracing::debug!(%user, room = %room.room, error = %e.message, "deleted account stays in room"),
        }
    }
    left
}
