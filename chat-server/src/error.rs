//! [`ApiError`]: every refusal the HTTP layer sends, as `{"error": {"code", "message"}}` with a
//! stable code from one documented set ([`ApiCode`]) and the HTTP status that code maps to.

use axum::Json;
use axum::response::{IntoResponse, Response};
use chat_core::ErrorCode;
use hyper::StatusCode;
use hyper::header::{self, HeaderValue};
use serde::Serialize;

/// The stable error codes of the HTTP layer: the chat core's [`ErrorCode`]s (for refusals of
/// room operations) plus the server's own. `docs/protocol.md` lists them with their statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiCode {
    /// A refusal of the chat core (status by [`status_of`]).
    Core(ErrorCode),
    /// 401: no valid session (no token, an unknown one, or an expired one).
    Unauthorized,
    /// 401: wrong user name or password.
    BadCredentials,
    /// 409: the user name is registered already.
    UsernameTaken,
    /// 400: the user name breaks the naming rules.
    InvalidUsername,
    /// 400: the password breaks the length rules.
    InvalidPassword,
    /// 429: too many requests or login attempts; `Retry-After` says when to try again.
    RateLimited,
    /// 503: the password hashing queue is full.
    Busy,
    /// 400: a malformed request (query string, JSON body, header).
    InvalidRequest,
    /// 404: no such route or file.
    NotFound,
    /// 405: the route exists, the method does not (`Allow` lists the ones that do).
    MethodNotAllowed,
    /// 413: the body is larger than `--max-body-bytes`.
    BodyTooLarge,
    /// 415: a body that is not `Content-Type: application/json`.
    UnsupportedMediaType,
    /// 403: a cross-origin WebSocket or cookie-authenticated state change.
    OriginNotAllowed,
    /// 403: a cookie-authenticated WebSocket without `Origin`.
    OriginRequired,
    /// 403: not allowed here (for example `/metrics` from another machine).
    Forbidden,
    /// 426: `/ws` without a WebSocket handshake.
    UpgradeRequired,
    /// 421: the `Host` is not a name or address of this server (DNS rebinding defence).
    HostNotAllowed,
    /// 408: the request (headers and body) took longer than `--request-timeout-secs`.
    RequestTimeout,
    /// 503: the server holds its maximum number of WebSockets.
    TooManyConnections,
    /// 503: the store failed to commit; nothing was changed.
    CommitFailed,
    /// 503: the server is shutting down.
    ShuttingDown,
    /// 500: the server failed; nothing was changed.
    Internal,
    /// 403: the current password given to change it (or delete the account) is wrong.
    WrongPassword,
    /// 403: registration is closed; only administrators create accounts.
    RegistrationClosed,
    /// 403: registration needs an invite code, and this one is missing, unknown, used up or
    /// expired.
    InvalidInvite,
    /// 403: the account is disabled (at login with the right password).
    AccountDisabled,
    /// 403: the password reset code is wrong, used or expired.
    InvalidResetCode,
    /// 413: the file is larger than the per-file limit.
    FileTooLarge,
    /// 413: the file would take the uploader past their storage quota.
    QuotaExceeded,
    /// 413: the image has more pixels than allowed (or claims to: a decompression bomb).
    ImageTooLarge,
    /// 404: no such attachment, or not one the caller may read.
    AttachmentNotFound,
    /// 503: this server stores no attachments (an in-memory database without a directory).
    AttachmentsUnavailable,
}

impl ApiCode {
    /// The code as sent (`snake_case`).
    pub fn as_str(self) -> &'static str {
        match self {
            ApiCode::Core(code) => code.as_str(),
            ApiCode::Unauthorized => "unauthorized",
            ApiCode::BadCredentials => "bad_credentials",
            ApiCode::UsernameTaken => "username_taken",
            ApiCode::InvalidUsername => "invalid_username",
            ApiCode::InvalidPassword => "invalid_password",
            ApiCode::RateLimited => "rate_limited",
            ApiCode::Busy => "busy",
            ApiCode::InvalidRequest => "invalid_request",
            ApiCode::NotFound => "not_found",
            ApiCode::MethodNotAllowed => "method_not_allowed",
            ApiCode::BodyTooLarge => "body_too_large",
            ApiCode::UnsupportedMediaType => "unsupported_media_type",
            ApiCode::OriginNotAllowed => "origin_not_allowed",
            ApiCode::OriginRequired => "origin_required",
            ApiCode::Forbidden => "forbidden",
            ApiCode::UpgradeRequired => "upgrade_required",
            ApiCode::HostNotAllowed => "host_not_allowed",
            ApiCode::RequestTimeout => "request_timeout",
            ApiCode::TooManyConnections => "too_many_connections",
            ApiCode::CommitFailed => "commit_failed",
            ApiCode::ShuttingDown => "shutting_down",
            ApiCode::Internal => "internal",
            ApiCode::WrongPassword => "wrong_password",
            ApiCode::RegistrationClosed => "registration_closed",
            ApiCode::InvalidInvite => "invalid_invite",
            ApiCode::AccountDisabled => "account_disabled",
            ApiCode::InvalidResetCode => "invalid_reset_code",
            ApiCode::FileTooLarge => "file_too_large",
            ApiCode::QuotaExceeded => "quota_exceeded",
            ApiCode::ImageTooLarge => "image_too_large",
            ApiCode::AttachmentNotFound => "attachment_not_found",
            ApiCode::AttachmentsUnavailable => "attachments_unavailable",
        }
    }

    /// The HTTP status of this code.
    pub fn status(self) -> StatusCode {
        match self {
            ApiCode::Core(code) => status_of(code),
            ApiCode::Unauthorized | ApiCode::BadCredentials => StatusCode::UNAUTHORIZED,
            ApiCode::UsernameTaken => StatusCode::CONFLICT,
            ApiCode::InvalidUsername | ApiCode::InvalidPassword | ApiCode::InvalidRequest => StatusCode::BAD_REQUEST,
            ApiCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ApiCode::Busy | ApiCode::TooManyConnections | ApiCode::CommitFailed | ApiCode::ShuttingDown => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiCode::NotFound => StatusCode::NOT_FOUND,
            ApiCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiCode::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiCode::OriginNotAllowed
            | ApiCode::OriginRequired
            | ApiCode::Forbidden
            | ApiCode::WrongPassword
            | ApiCode::RegistrationClosed
            | ApiCode::InvalidInvite
            | ApiCode::AccountDisabled
            | ApiCode::InvalidResetCode => StatusCode::FORBIDDEN,
            ApiCode::UpgradeRequired => StatusCode::UPGRADE_REQUIRED,
            ApiCode::HostNotAllowed => StatusCode::MISDIRECTED_REQUEST,
            ApiCode::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ApiCode::FileTooLarge | ApiCode::QuotaExceeded | ApiCode::ImageTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiCode::AttachmentNotFound => StatusCode::NOT_FOUND,
            ApiCode::AttachmentsUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// A refused request: a stable [`ApiCode`] and a message for people, sent as
/// `{"error": {"code": …, "message": …}}` with the code's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The stable code (gives the status).
    pub code: ApiCode,
    /// For people.
    pub message: String,
    /// Seconds until a retry may succeed (`Retry-After`), for `rate_limited`.
    pub retry_after_secs: Option<u64>,
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
    /// An error with this code and message.
    pub fn new(code: ApiCode, message: impl Into<String>) -> ApiError {
        ApiError { code, message: message.into(), retry_after_secs: None }
    }

    /// 401 `unauthorized`.
    pub fn unauthorized() -> ApiError {
        ApiError::new(ApiCode::Unauthorized, "log in first")
    }

    /// 400 `invalid_request`.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(ApiCode::InvalidRequest, message)
    }

    /// 404 `not_found`.
    pub fn not_found() -> ApiError {
        ApiError::new(ApiCode::NotFound, "no such resource")
    }

    /// 405 `method_not_allowed`.
    pub fn method_not_allowed() -> ApiError {
        ApiError::new(ApiCode::MethodNotAllowed, "method not allowed here")
    }

    /// 429 `rate_limited`.
    pub fn too_many() -> ApiError {
        ApiError::new(ApiCode::RateLimited, "too many requests; slow down")
    }

    /// A refusal from the chat core, with the HTTP status its code maps to.
    pub fn from_core(code: ErrorCode, message: String) -> ApiError {
        ApiError::new(ApiCode::Core(code), message)
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.code.status()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: ErrorFields { code: self.code.as_str(), message: &self.message } };
        let mut response = (self.status(), Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.status() == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
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
        ErrorCode::RoomNotFound | ErrorCode::UnknownUser | ErrorCode::MessageNotFound => StatusCode::NOT_FOUND,
        ErrorCode::NotAuthor | ErrorCode::EditWindowPassed => StatusCode::FORBIDDEN,
        ErrorCode::MessageDeleted | ErrorCode::TooManyReactions => StatusCode::CONFLICT,
        ErrorCode::RoomExists | ErrorCode::AlreadyMember | ErrorCode::AlreadyInvited => StatusCode::CONFLICT,
        ErrorCode::NoInvitation => StatusCode::NOT_FOUND,
        ErrorCode::TooManyRooms | ErrorCode::TooManyInvitations => StatusCode::CONFLICT,
        ErrorCode::TooManySessions => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::RoomFull => StatusCode::CONFLICT,
        ErrorCode::HistoryUnavailable | ErrorCode::SearchUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::TooManySearches => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::Unsupported => StatusCode::NOT_IMPLEMENTED,
        ErrorCode::AttachmentNotFound => StatusCode::NOT_FOUND,
        ErrorCode::AttachmentsUnavailable => StatusCode::SERVICE_UNAVAILABLE,
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
        let response = ApiError::from_core(ErrorCode::NotAMember, "nope".into()).into_response();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    }
}
