//! Extractors: the authenticated [`Caller`] (bearer or cookie, Origin-checked, REST-throttled),
//! and `Json` / `Query` whose rejections are [`ApiError`]s with the documented codes.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequest, Request};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, StatusCode};
use serde::de::DeserializeOwned;

use crate::SESSION_COOKIE;
use crate::accounts::{AuthError, Caller, Seen};
use crate::error::{ApiCode, ApiError};
use crate::state::App;

/// A JSON body: 415 `unsupported_media_type` without `Content-Type: application/json` (a
/// cross-site form cannot send that without a CORS preflight), 413 `body_too_large` past the
/// body limit, 400 `invalid_request` when malformed.
#[derive(Debug)]
pub(crate) struct ApiJson<T>(pub(crate) T);

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(ApiCode::BodyTooLarge, rejection.body_text()),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ApiError::new(ApiCode::UnsupportedMediaType, "send Content-Type: application/json")
        }
        _ => ApiError::bad_request(format!("invalid JSON body: {}", rejection.body_text())),
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match <axum::Json<T> as FromRequest<S>>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// An optional JSON body: `None` when the request has no `Content-Type` (an empty POST).
impl<T: DeserializeOwned, S: Send + Sync> OptionalFromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, ApiError> {
        match <axum::Json<T> as OptionalFromRequest<S>>::from_request(req, state).await {
            Ok(value) => Ok(value.map(|axum::Json(value)| ApiJson(value))),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// A query string: 400 `invalid_request` when a field is malformed.
#[derive(Debug)]
pub(crate) struct ApiQuery<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Query(value) = axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map_err(|rejection: QueryRejection| ApiError::bad_request(rejection.body_text()))?;
        Ok(ApiQuery(value))
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

/// The authenticated caller: 401 without a valid session, 429 over the per-user REST limit.
/// A cookie-authenticated request that changes state must come from an allowed origin (CSRF
/// defence on top of SameSite=Strict).
impl FromRequestParts<Arc<App>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Caller, ApiError> {
        let (token, credential) = token_of(&parts.headers).ok_or_else(ApiError::unauthorized)?;
        let changes_state = parts.method != Method::GET && parts.method != Method::HEAD;
        if credential == Credential::Cookie
            && changes_state
            && let Some(origin) = parts.headers.get(header::ORIGIN)
            && !origin_allowed(app, &parts.headers, origin)
        {
            return Err(ApiError::new(ApiCode::OriginNotAllowed, "cross-origin request refused"));
        }
        let peer = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
        let agent = parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok());
        let seen = Seen::new(peer.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into()), agent);
        let caller = app.accounts.authenticate(&token, &seen).map_err(|e| match e {
            AuthError::Unauthorized => ApiError::unauthorized(),
            other => other.into_api(),
        })?;
        if !app.rest_ops.hit(Instant::now(), &caller.user) {
            return Err(ApiError::too_many());
        }
        Ok(caller)
    }
}

/// An authenticated caller who is an active administrator now (checked per request, so a
/// revoked administrator is refused at once): 403 `forbidden` otherwise.
#[derive(Debug, Clone)]
pub(crate) struct Admin(pub(crate) Caller);

impl FromRequestParts<Arc<App>> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Admin, ApiError> {
        let caller = Caller::from_request_parts(parts, app).await?;
        app.accounts.require_admin(&caller.user).map_err(AuthError::into_api)?;
        Ok(Admin(caller))
    }
}

/// Whether `origin` is the server's own origin (as addressed by `Host`, which the host check
/// has already limited to this server's names) or on the allowlist.
pub(crate) fn origin_allowed(app: &App, headers: &HeaderMap, origin: &HeaderValue) -> bool {
    let Ok(origin) = origin.to_str() else { return false };
    let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    let scheme = if app.tls { "https" } else { "http" };
    let own = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|host| app.hosts.check(host).is_some())
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
