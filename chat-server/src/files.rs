//! The embedded web UI: `GET /` and `GET /static/<file>`, with ETags and caching.

use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use hyper::StatusCode;
use hyper::header::{self, HeaderMap, HeaderValue};

use crate::assets::{Asset, asset};
use crate::error::ApiError;

/// `GET /`, `GET /index.html`.
pub(crate) async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

/// `GET /static/{file}` (the name arrives percent-decoded).
pub(crate) async fn file(Path(file): Path<String>, headers: HeaderMap) -> Response {
    serve(&file, &headers)
}

/// Serves `path` (`"index.html"`, `"app.js"`, …) from the embedded assets.
fn serve(path: &str, request_headers: &HeaderMap) -> Response {
    // Only plain file names: no traversal, no nested paths, no hidden files.
    let plain = !path.is_empty()
        && !path.starts_with('.')
        && path.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    match plain.then(|| asset(path)).flatten() {
        Some(found) => respond(path, found, request_headers),
        None => ApiError::not_found().into_response(),
    }
}

fn respond(path: &str, found: Asset, request_headers: &HeaderMap) -> Response {
    // index.html must be revalidated so a new build shows up; the rest may be cached briefly and
    // revalidated by ETag.
    let cache = if path == "index.html" { "no-cache" } else { "public, max-age=3600, must-revalidate" };
    let not_modified = request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == found.etag || tag.trim() == "*"));
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, found.content_type)], found.body).into_response()
    };
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(found.etag) {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_traversal() {
        let h = HeaderMap::new();
        assert_eq!(serve("../Cargo.toml", &h).status(), StatusCode::NOT_FOUND);
        assert_eq!(serve(".hidden", &h).status(), StatusCode::NOT_FOUND);
        assert_eq!(serve("a/b.js", &h).status(), StatusCode::NOT_FOUND);
    }
}
