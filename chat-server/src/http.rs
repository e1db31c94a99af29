//! The router: every route with its methods (axum answers 405 with `Allow` for the others),
//! and the layers every response passes through: the `Host` check, the status counter, the
//! security headers, the whole-request timeout and the body limit.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hyper::StatusCode;
use hyper::header::{self, HeaderValue};
use std::net::SocketAddr;
use tower::ServiceBuilder;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::error::{ApiCode, ApiError};
use crate::hosts::HostKind;
use crate::state::App;
use crate::{api, api_account, api_admin, api_search, export, files, ws};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "chat_session";

/// The Content-Security-Policy of every response: no inline script, no foreign origins.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// `Strict-Transport-Security` under TLS: one year, this host only.
const HSTS: &str = "max-age=31536000";

/// The whole HTTP surface, ready to serve. `request_timeout` bounds each request from its
/// headers to the end of its handler (body included); `max_body_bytes` bounds bodies.
pub(crate) fn router(app: Arc<App>, request_timeout: Duration, max_body_bytes: usize) -> Router {
    let api = Router::new()
        .route("/api/register", post(api::register))
        .route("/api/login", post(api::login))
        .route("/api/logout", post(api::logout))
        .route("/api/me", get(api::me))
        .route("/api/messages", get(api::history).post(api::send))
        .route("/api/search", get(api_search::search))
        .route("/api/room_users", get(api::room_users))
        .route("/api/notifications", get(api::notifications))
        .route("/api/notifications/read", post(api::mark_notifications_read))
        .route("/api/rooms", get(api::rooms).post(api::create_room))
        .route("/api/rooms/join", post(api::join))
        .route("/api/rooms/leave", post(api::leave))
        .route("/api/rooms/read", post(api::mark_read))
        .route("/api/rooms/accept", post(api::accept_invite))
        .route("/api/rooms/decline", post(api::decline_invite))
        .route("/api/rooms/invite", post(api::invite))
        .route("/api/rooms/remove", post(api::remove))
        .route("/api/directory", get(api::directory))
        .route("/api/users", get(api::users))
        .route("/api/registration", get(api::registration))
        .route("/api/account/password", post(api_account::change_password))
        .route("/api/account/sessions", get(api_account::sessions))
        .route("/api/account/sessions/revoke", post(api_account::revoke_session))
        .route("/api/account/logout_all", post(api_account::logout_all))
        .route("/api/account/export", get(export::export))
        .route("/api/account/delete", post(api_account::delete))
        .route("/api/account/redeem_reset", post(api_account::redeem_reset))
        .route("/api/admin/users", get(api_admin::users).post(api_admin::create_user))
        .route("/api/admin/users/disable", post(api_admin::disable))
        .route("/api/admin/users/enable", post(api_admin::enable))
        .route("/api/admin/users/reset_password", post(api_admin::reset_password))
        .route("/api/admin/invites", get(api_admin::invites).post(api_admin::create_invite))
        .route("/api/admin/invites/revoke", post(api_admin::revoke_invite))
        .route("/api/admin/audit", get(api_admin::audit))
        .route("/api/admin/messages/delete", post(api_admin::delete_message))
        .route("/api/admin/registration", get(api_admin::registration).post(api_admin::set_registration))
        .merge(crate::api_messages::routes())
        .route("/api/attachments", post(crate::attachments::upload))
        .route("/api/attachments/{id}", get(crate::attachments::download))
        .route("/api/attachments/{id}/thumbnail", get(crate::attachments::thumbnail))
        // API answers are never cached.
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
    let timeout = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
            ApiError::new(ApiCode::RequestTimeout, "the request took too long")
        }))
        .timeout(request_timeout);
    let security = ServiceBuilder::new()
        // A handler may set a stricter policy (attachments: `default-src 'none'; sandbox`).
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::overriding(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")));
    Router::new()
        .route("/", get(files::index))
        .route("/index.html", get(files::index))
        .route("/static/{file}", get(files::file))
        .route("/healthz", get(health))
        .route("/metrics", get(metrics))
        .route("/ws", get(ws::upgrade))
        .merge(api)
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(timeout)
        .layer(middleware::from_fn_with_state(app.clone(), check_host))
        .layer(security)
        .layer(middleware::map_response_with_state(app.clone(), count_status))
        .with_state(app)
}

/// Refuses (421) a `Host` that is not this server's (DNS rebinding); adds HSTS under TLS.
async fn check_host(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok());
    let Some(kind) = host.and_then(|h| app.hosts.check(h)) else {
        let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
        tracing::debug!(?peer, ?host, "request for a host this server does not serve");
        return ApiError::new(
            ApiCode::HostNotAllowed,
            "this server does not serve that host name (start it with --host NAME to allow one)",
        )
        .into_response();
    };
    let mut response = next.run(req).await;
    // Not for localhost: it would pin every local development server to HTTPS for a year.
    // Browsers ignore HSTS on IP addresses and over untrusted certificates (RFC 6797 §8.1).
    if app.tls && kind != HostKind::Localhost {
        response.headers_mut().insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    response
}

async fn count_status(State(app): State<Arc<App>>, response: Response) -> Response {
    app.metrics.response(response.status());
    response
}

/// `GET /healthz`: `ok` on a single node; in a cluster the node's role as JSON (see
/// `crate::cluster`).
async fn health(State(app): State<Arc<App>>) -> Response {
    #[cfg(feature = "cluster")]
    if let Some(node) = &app.cluster {
        return crate::cluster::health(&node.status());
    }
    let _ = app;
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "ok\n").into_response()
}

/// `GET /metrics`: Prometheus text, for this machine's clients unless `--metrics-public`.
async fn metrics(State(app): State<Arc<App>>, ConnectInfo(peer): ConnectInfo<SocketAddr>) -> Response {
    if !app.metrics_access.allows(peer.ip()) {
        return ApiError::new(
            ApiCode::Forbidden,
            "metrics are served to this machine only (start the server with --metrics-public to change that)",
        )
        .into_response();
    }
    #[allow(unused_mut)]
    let mut text = app.metrics.render(&app.hub.metrics());
    #[cfg(feature = "cluster")]
    if let Some(node) = &app.cluster {
        crate::cluster::render_metrics(&node.status(), &mut text);
    }
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}
