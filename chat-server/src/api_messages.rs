//! The message lifecycle over REST: `POST /api/messages/edit`, `/api/messages/delete` and
//! `/api/messages/react`, with the bodies of the `edit_message`, `delete_message` and `react`
//! frames. Each is one `hub.request(caller, ClientMsg)`: the core decides who may edit, delete
//! or react (`not_author`, `forbidden`, `message_deleted`, …) exactly as for a WebSocket, and
//! the answer is the event it replies with (`message_edited`, `message_deleted`, `reaction`, or
//! `message_updates` when the request changed nothing), or the refusal as an HTTP error.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use chat_core::{ClientMsg, RoomRef, ServerMsg};
use serde::Deserialize;

use crate::accounts::Caller;
use crate::api::ask;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::App;

type AppState = State<Arc<App>>;

/// The lifecycle routes, merged into the API router (`http::router`).
pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/messages/edit", post(edit))
        .route("/api/messages/delete", post(delete))
        .route("/api/messages/react", post(react))
}

/// `edit_message`'s fields.
#[derive(Deserialize)]
pub(crate) struct EditBody {
    #[serde(flatten)]
    room: RoomRef,
    seq: u64,
    content: String,
    #[serde(default)]
    client_id: Option<String>,
}

/// `delete_message`'s fields.
#[derive(Deserialize)]
pub(crate) struct DeleteBody {
    #[serde(flatten)]
    room: RoomRef,
    seq: u64,
}

/// `react`'s fields.
#[derive(Deserialize)]
pub(crate) struct ReactBody {
    #[serde(flatten)]
    room: RoomRef,
    seq: u64,
    emoji: String,
    add: bool,
}

/// An edit carries new text to every member, like a send: it counts against the caller's REST
/// send budget as well as the request budget (as `edit_message` draws from a session's send
/// bucket; deletions and reactions draw from the other one, the request budget here).
fn spend_send(app: &App, caller: &Caller) -> Result<(), ApiError> {
    if app.rest_sends.hit(std::time::Instant::now(), &caller.user) { Ok(()) } else { Err(ApiError::too_many()) }
}

/// `POST /api/messages/edit {room, seq, content, client_id?}` → `message_edited`.
async fn edit(
    State(app): AppState,
    caller: Caller,
    ApiJson(body): ApiJson<EditBody>,
) -> Result<Json<ServerMsg>, ApiError> {
    spend_send(&app, &caller)?;
    let msg =
        ClientMsg::EditMessage { room: body.room, seq: body.seq, content: body.content, client_id: body.client_id };
    ask(&app, &caller.user, msg).await
}

/// `POST /api/messages/delete {room, seq}` → `message_deleted`.
async fn delete(
    State(app): AppState,
    caller: Caller,
    ApiJson(body): ApiJson<DeleteBody>,
) -> Result<Json<ServerMsg>, ApiError> {
    ask(&app, &caller.user, ClientMsg::DeleteMessage { room: body.room, seq: body.seq }).await
}

/// `POST /api/messages/react {room, seq, emoji, add}` → `reaction`.
async fn react(
    State(app): AppState,
    caller: Caller,
    ApiJson(body): ApiJson<ReactBody>,
) -> Result<Json<ServerMsg>, ApiError> {
    let msg = ClientMsg::React { room: body.room, seq: body.seq, emoji: body.emoji, add: body.add };
    ask(&app, &caller.user, msg).await
}
