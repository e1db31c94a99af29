//! `GET /api/attachments/{id}` and `/api/attachments/{id}/thumbnail`: for the uploader, or a
//! user who is now a member of a room holding a non-deleted message that references the file;
//! 404 `attachment_not_found` for everyone else, signed in or not (existence is not leaked).
//!
//! Only the four raster types are served inline, as their sniffed type; everything else is
//! `application/octet-stream` with `Content-Disposition: attachment`. Every answer has
//! `nosniff` and `Content-Security-Policy: default-src 'none'; sandbox`. The id is the SHA-256 of
//! the bytes, so it is the ETag (`If-None-Match` → 304) and the file may be cached for a year
//! (privately). Single byte ranges are served (206, or 416 outside the file).

use std::io::SeekFrom;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chat_core::UserName;
use chat_core::attachment::AttachmentId;
use chat_store::AttachmentRecord;
use hyper::StatusCode;
use hyper::header::{self, HeaderMap, HeaderValue};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::Attachments;
use super::sniff::{self, Raster};
use super::upload::{blocking, unavailable};
use crate::accounts::Caller;
use crate::error::{ApiCode, ApiError};
use crate::state::App;

/// The CSP of every attachment: nothing loads, nothing runs, even if a browser rendered it.
pub(crate) const ATTACHMENT_CSP: &str = "default-src 'none'; sandbox";
const CACHE: &str = "private, max-age=31536000, immutable";
/// Rooms checked for membership at most (a file referenced in more rooms is readable through
/// the first ones).
const MAX_REF_ROOMS: usize = 256;
const CHUNK: usize = 64 * 1024;

fn not_found() -> ApiError {
    ApiError::new(ApiCode::AttachmentNotFound, "no such attachment")
}

/// `GET /api/attachments/{id}`.
pub(crate) async fn download(
    State(app): State<Arc<App>>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    serve(&app, caller, &id, false, &headers).await
}

/// `GET /api/attachments/{id}/thumbnail`.
pub(crate) async fn thumbnail(
    State(app): State<Arc<App>>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    serve(&app, caller, &id, true, &headers).await
}

async fn serve(
    app: &App,
    caller: Result<Caller, ApiError>,
    id: &str,
    thumb: bool,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let service = app.attachments.as_ref().ok_or_else(unavailable)?;
    let user = match caller {
        Ok(caller) => caller.user,
        // Over the per-user REST budget: that is no secret. Anything else looks like absence.
        Err(e) if e.code == ApiCode::RateLimited => return Err(e),
        Err(_) => return Err(not_found()),
    };
    let id: AttachmentId = id.parse().map_err(|_| not_found())?;
    let store = service.store.clone();
    let record = blocking(move || store.attachment(&id)).await?.ok_or_else(not_found)?;
    if !service.may_read(app, &user, &id, &record).await? {
        return Err(not_found());
    }
    let (path, content_type, etag) = if thumb {
        (service.thumb(&id), record.thumbnail.clone().ok_or_else(not_found)?, format!("\"{id}-thumbnail\""))
    } else {
        (service.file(&id), record.content_type.clone(), format!("\"{id}\""))
    };
    let inline = Raster::of_content_type(&content_type).is_some();
    let mut response_headers = HeaderMap::new();
    let value = |s: &str| HeaderValue::from_str(s).map_err(super::upload::internal);
    response_headers.insert(header::ETAG, value(&etag)?);
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(CACHE));
    response_headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(ATTACHMENT_CSP));
    response_headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if headers.get_all(header::IF_NONE_MATCH).iter().filter_map(|v| v.to_str().ok()).any(|v| etag_matches(v, &etag)) {
        return Ok((StatusCode::NOT_MODIFIED, response_headers).into_response());
    }
    let name = service.name_of(&id, &record).await;
    let served_type = if inline { content_type.as_str() } else { "application/octet-stream" };
    let disposition = if inline { "inline" } else { "attachment" };
    response_headers.insert(header::CONTENT_TYPE, value(served_type)?);
    response_headers
        .insert(header::CONTENT_DISPOSITION, value(&format!("{disposition}; {}", sniff::disposition_params(&name)))?);
    response_headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));

    let mut file = match tokio::fs::File::open(&path).await {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(not_found()),
        Err(e) => return Err(super::upload::internal(e)),
    };
    let len = file.metadata().await.map_err(super::upload::internal)?.len();
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok()).and_then(|v| byte_range(v, len));
    let (status, start, end) = match range {
        None => (StatusCode::OK, 0, len),
        Some(Ok((first, last))) => {
            response_headers.insert(header::CONTENT_RANGE, value(&format!("bytes {first}-{last}/{len}"))?);
            (StatusCode::PARTIAL_CONTENT, first, last + 1)
        }
        Some(Err(())) => {
            response_headers.insert(header::CONTENT_RANGE, value(&format!("bytes */{len}"))?);
            return Ok((StatusCode::RANGE_NOT_SATISFIABLE, response_headers).into_response());
        }
    };
    response_headers.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    file.seek(SeekFrom::Start(start)).await.map_err(super::upload::internal)?;
    let body = futures::stream::unfold((file, end - start), |(mut file, left)| async move {
        if left == 0 {
            return None;
        }
        let mut buf = vec![0u8; CHUNK.min(usize::try_from(left).unwrap_or(CHUNK))];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(Bytes::from(buf)), (file, left - n as u64)))
            }
            Err(e) => Some((Err(e), (file, 0))),
        }
    });
    Ok((status, response_headers, Body::from_stream(body)).into_response())
}

/// Whether an `If-None-Match` value names `etag` (weak comparison, or `*`).
fn etag_matches(header: &str, etag: &str) -> bool {
    header.split(',').map(|t| t.trim().trim_start_matches("W/")).any(|t| t == "*" || t == etag)
}

/// The one range of a `Range: bytes=…` header within a file of `len` bytes: `None` to serve
/// the whole file (no range, several ranges, or a header this does not parse, as RFC 9110
/// allows), `Some(Err)` for a range that starts past the end.
fn byte_range(header: &str, len: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = header.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.trim().split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        let suffix: u64 = last.parse().ok()?;
        if suffix == 0 || len == 0 {
            return Some(Err(()));
        }
        return Some(Ok((len - suffix.min(len), len - 1)));
    }
    let first: u64 = first.parse().ok()?;
    let last =
        if last.is_empty() { len.saturating_sub(1) } else { last.parse::<u64>().ok()?.min(len.saturating_sub(1)) };
    if first >= len {
        return Some(Err(()));
    }
    if last < first {
        return None;
    }
    Some(Ok((first, last)))
}

impl Attachments {
    /// The uploader, or a current member of a room holding a non-deleted message that
    /// references the file (membership asked of the core).
    async fn may_read(
        &self,
        app: &App,
        user: &UserName,
        id: &AttachmentId,
        record: &AttachmentRecord,
    ) -> Result<bool, ApiError> {
        if record.uploaders.contains(user) {
            return Ok(true);
        }
        let (store, id) = (self.store.clone(), *id);
        let refs = blocking(move || store.attachment_refs(&id, MAX_REF_ROOMS)).await?;
        if refs.is_empty() {
            return Ok(false);
        }
        let mut rooms: Vec<_> = refs.into_iter().map(|(room, _)| room).collect();
        rooms.dedup();
        let user = user.clone();
        Ok(app.hub.query(move |chat| rooms.iter().any(|room| chat.is_member(&user, room))).await.unwrap_or(false))
    }

    /// The name its first uploader gave the file.
    async fn name_of(&self, id: &AttachmentId, record: &AttachmentRecord) -> String {
        let Some(first) = record.uploaders.first().cloned() else { return "file".into() };
        let (store, id) = (self.store.clone(), *id);
        let upload = blocking(move || store.attachment_upload(&first, &id)).await;
        upload.ok().flatten().map_or_else(|| "file".into(), |u| u.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(byte_range("bytes=0-9", 100), Some(Ok((0, 9))));
        assert_eq!(byte_range("bytes=90-", 100), Some(Ok((90, 99))));
        assert_eq!(byte_range("bytes=-10", 100), Some(Ok((90, 99))));
        assert_eq!(byte_range("bytes=50-500", 100), Some(Ok((50, 99))));
        assert_eq!(byte_range("bytes=100-", 100), Some(Err(())));
        assert_eq!(byte_range("bytes=0-1,5-6", 100), None);
        assert_eq!(byte_range("items=0-1", 100), None);
        assert_eq!(byte_range("bytes=5-1", 100), None);
    }

    #[test]
    fn etags() {
        assert!(etag_matches("\"abc\"", "\"abc\""));
        assert!(etag_matches("W/\"abc\", \"x\"", "\"abc\""));
        assert!(etag_matches("*", "\"abc\""));
        assert!(!etag_matches("\"abd\"", "\"abc\""));
    }
}
