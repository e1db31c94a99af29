//! HTTP responses: JSON bodies, JSON errors with stable codes, and the security headers every
//! response carries.

use bytes::Bytes;
use chat_core::ErrorCode;
use http_body_util::Full;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Response, StatusCode};
use serde::Serialize;

/// The response type of every handler.
pub(crate) type Reply = Response<Full<Bytes>>;

/// The Content-Security-Policy of every response: no inline script, no foreign origins.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Adds the security headers (CSP, nosniff, no referrer, no framing) to a response.
pub(crate) fn secure(headers: &mut HeaderMap) {
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

/// A response with `body` and `content_type`.
pub(crate) fn bytes(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A JSON response. API responses are never cached.
pub(crate) fn json(status: StatusCode, value: &impl Serialize) -> Reply {
    match serde_json::to_vec(value) {
        Ok(body) => {
            let mut response = bytes(status, "application/json", body);
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(_) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "could not encode").into_reply(),
    }
}

/// A refused request: HTTP status plus a stable snake_case `code` and a message for people,
/// sent as `{"error": {"code": …, "message": …}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// Stable code (the core's [`ErrorCode`] strings, plus the server's own).
    pub code: &'static str,
    /// For people.
    pub message: String,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorFields<'a>,
}

#[derive(Serialize)]
struct ErrorFields<'a> {
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    /// An error with these parts.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into() }
    }

    /// 401 `unauthorized`.
    pub fn unauthorized() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "log in first")
    }

    /// 400 `invalid_request`.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    /// 404 `not_found`.
    pub fn not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }

    /// 405 `method_not_allowed`.
    pub fn method_not_allowed() -> ApiError {
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed here")
    }

    /// 500 `internal`.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// A refusal from the chat core, with the HTTP status its code maps to.
    pub fn from_core(code: ErrorCode, message: String) -> ApiError {
        ApiError { status: status_of(code), code: code.as_str(), message }
    }

    /// The JSON response.
    pub fn into_reply(self) -> Reply {
        let body = ErrorBody { error: ErrorFields { code: self.code, message: &self.message } };
        let mut response = json(self.status, &body);
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The HTTP status for a core error code.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::NotAMember | ErrorCode::Forbidden | ErrorCode::OwnerCannotLeave | ErrorCode::CannotLeaveDm => {
            StatusCode::FORBIDDEN
        }
        ErrorCode::RoomNotFound | ErrorCode::UnknownUser => StatusCode::NOT_FOUND,
        ErrorCode::RoomExists => StatusCode::CONFLICT,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::RoomFull => StatusCode::CONFLICT,
        ErrorCode::HistoryUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::Unsupported => StatusCode::NOT_IMPLEMENTED,
        _ => StatusCode::BAD_REQUEST,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_codes_map_to_statuses() {
        assert_eq!(status_of(ErrorCode::NotAMember), StatusCode::FORBIDDEN);
        assert_eq!(status_of(ErrorCode::Forbidden), StatusCode::FORBIDDEN);
        assert_eq!(status_of(ErrorCode::RoomNotFound), StatusCode::NOT_FOUND);
        assert_eq!(status_of(ErrorCode::InvalidRoom), StatusCode::BAD_REQUEST);
        assert_eq!(status_of(ErrorCode::RateLimited), StatusCode::TOO_MANY_REQUESTS);
    }

    #[test]
    fn error_body_has_code_and_message() {
        let reply = ApiError::from_core(ErrorCode::NotAMember, "nope".into()).into_reply();
        assert_eq!(reply.status(), StatusCode::FORBIDDEN);
        assert_eq!(reply.headers()[header::CONTENT_TYPE], "application/json");
    }
}
