//! `POST /api/attachments`: a `multipart/form-data` body with a `file` field, or any other body
//! as the raw file with `?name=`. Streamed to a temporary file while hashed and counted (refused
//! at the limit, never buffered whole), synced, processed (images), renamed into place, the
//! directory synced, and only then recorded; the answer is the attachment's metadata.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chat_core::UserName;
use chat_core::attachment::{Attachment, AttachmentId};
use chat_store::{AddAttachmentError, AttachmentRecord};
use futures::{Stream, StreamExt};
use hyper::StatusCode;
use hyper::header::{self, HeaderMap};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::media::MediaError;
use super::sniff::{self, SNIFF_LEN};
use super::{Attachments, media, sync_dir};
use crate::accounts::Caller;
use crate::error::{ApiCode, ApiError};
use crate::extract::ApiQuery;
use crate::state::App;

/// Bytes a multipart body may carry besides the file (boundaries, part headers, small fields).
const MULTIPART_SLACK: u64 = 64 * 1024;

/// `?name=` of a raw upload.
#[derive(Deserialize)]
pub(crate) struct UploadQuery {
    name: Option<String>,
}

/// `POST /api/attachments` → 201 `{id, name, size, content_type, width?, height?}`.
pub(crate) async fn upload(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiQuery(query): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let service = app.attachments.as_ref().ok_or_else(unavailable)?;
    let attachment = service.upload(&caller.user, query.name, &headers, body).await?;
    tracing::info!(user = %caller.user, id = %attachment.id, size = attachment.size, "attachment uploaded");
    Ok((StatusCode::CREATED, Json(attachment)).into_response())
}

pub(crate) fn unavailable() -> ApiError {
    ApiError::new(ApiCode::AttachmentsUnavailable, "this server stores no attachments")
}

pub(crate) fn internal(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "attachment storage failed");
    ApiError::new(ApiCode::Internal, "storing the attachment failed; nothing was kept")
}

/// Runs blocking store or file work off the async threads.
pub(crate) async fn blocking<T: Send + 'static, E: std::fmt::Display + Send + 'static>(
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(internal)?.map_err(internal)
}

/// A file in `tmp/`, removed when dropped unless it was renamed into place.
struct Temp {
    path: PathBuf,
    kept: bool,
}

impl Temp {
    fn new(dir: &Path) -> Result<Temp, ApiError> {
        let mut random = [0u8; 12];
        getrandom::getrandom(&mut random).map_err(internal)?;
        Ok(Temp { path: dir.join(format!("upload-{}", hex::encode(random))), kept: false })
    }

    async fn create(dir: &Path) -> Result<(Temp, tokio::fs::File), ApiError> {
        let temp = Temp::new(dir)?;
        let mut options = tokio::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        options.mode(0o600);
        let file = options.open(&temp.path).await.map_err(internal)?;
        Ok((temp, file))
    }

    /// Writes `bytes` to a new synced temporary file.
    async fn write(dir: &Path, bytes: Vec<u8>) -> Result<Temp, ApiError> {
        let (temp, mut file) = Temp::create(dir).await?;
        file.write_all(&bytes).await.map_err(internal)?;
        file.sync_all().await.map_err(internal)?;
        Ok(temp)
    }

    fn rename(mut self, to: &Path) -> std::io::Result<()> {
        std::fs::rename(&self.path, to)?;
        self.kept = true;
        Ok(())
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Why a body stream stopped.
enum Streamed {
    /// More than the limit.
    TooLarge,
    /// The client's body failed (or the multipart framing broke).
    Body(String),
    /// The disk failed.
    Io(std::io::Error),
}

/// What was written.
struct Written {
    size: u64,
    digest: [u8; 32],
    head: Vec<u8>,
}

async fn write_stream<E: std::fmt::Display>(
    mut stream: impl Stream<Item = Result<Bytes, E>> + Unpin,
    file: &mut tokio::fs::File,
    limit: u64,
    too_large: impl Fn(&E) -> bool,
) -> Result<Written, Streamed> {
    let (mut size, mut hasher, mut head) = (0u64, Sha256::new(), Vec::with_capacity(SNIFF_LEN));
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| if too_large(&e) { Streamed::TooLarge } else { Streamed::Body(e.to_string()) })?;
        size = size.saturating_add(chunk.len() as u64);
        if size > limit {
            return Err(Streamed::TooLarge);
        }
        if head.len() < SNIFF_LEN {
            head.extend_from_slice(&chunk[..chunk.len().min(SNIFF_LEN - head.len())]);
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await.map_err(Streamed::Io)?;
    }
    file.sync_all().await.map_err(Streamed::Io)?;
    Ok(Written { size, digest: hasher.finalize().into(), head })
}

impl Attachments {
    async fn upload(
        &self,
        user: &UserName,
        query_name: Option<String>,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<Attachment, ApiError> {
        if !self.throttle.hit(Instant::now(), user) {
            return Err(ApiError::new(ApiCode::RateLimited, "too many uploads; wait a minute"));
        }
        let _slot = self
            .uploads
            .try_acquire()
            .map_err(|_| ApiError::new(ApiCode::Busy, "too many uploads in progress; try again shortly"))?;
        let store = self.store.clone();
        let who = user.clone();
        let used = blocking(move || store.attachment_usage(&who)).await?;
        let quota = self.config.quota_bytes;
        let room = quota.saturating_sub(used);
        let limit = self.config.max_file_bytes.min(room);
        let refusal = move || {
            if limit < self.config.max_file_bytes {
                ApiError::new(ApiCode::QuotaExceeded, format!("your files take {used} of your {quota} bytes"))
            } else {
                ApiError::new(ApiCode::FileTooLarge, format!("a file may have at most {limit} bytes"))
            }
        };
        if limit == 0 {
            return Err(refusal());
        }
        let declared =
            headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        let boundary = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .filter(|ct| ct.trim_start().to_ascii_lowercase().starts_with("multipart/form-data"))
            .map(|ct| multer::parse_boundary(ct).map_err(|e| ApiError::bad_request(format!("multipart body: {e}"))))
            .transpose()?;
        let slack = if boundary.is_some() { MULTIPART_SLACK } else { 0 };
        if declared.is_some_and(|len| len > limit + slack) {
            return Err(refusal());
        }

        let (temp, mut file) = Temp::create(&self.tmp).await?;
        let (name, written) = match boundary {
            Some(boundary) => {
                let constraints = multer::Constraints::new()
                    .size_limit(multer::SizeLimit::new().whole_stream(limit + MULTIPART_SLACK).per_field(limit + 1));
                let mut multipart = multer::Multipart::with_constraints(body.into_data_stream(), boundary, constraints);
                let too_large = |e: &multer::Error| {
                    matches!(e, multer::Error::FieldSizeExceeded { .. } | multer::Error::StreamSizeExceeded { .. })
                };
                loop {
                    let field = match multipart.next_field().await {
                        Ok(Some(field)) => field,
                        Ok(None) => return Err(ApiError::bad_request("the multipart body has no `file` field")),
                        Err(e) if too_large(&e) => return Err(refusal()),
                        Err(e) => return Err(ApiError::bad_request(format!("multipart body: {e}"))),
                    };
                    if field.name() != Some("file") {
                        continue; // other fields are skipped (bounded by the whole-stream limit)
                    }
                    let name = field.file_name().map(str::to_owned).or(query_name);
                    break (name, write_stream(field, &mut file, limit, too_large).await);
                }
            }
            None => {
                let too_large = |_: &axum::Error| false;
                (query_name, write_stream(body.into_data_stream(), &mut file, limit, too_large).await)
            }
        };
        drop(file);
        let written = match written {
            Ok(written) => written,
            Err(Streamed::TooLarge) => return Err(refusal()),
            Err(Streamed::Body(e)) => return Err(ApiError::bad_request(format!("the upload failed: {e}"))),
            Err(Streamed::Io(e)) => return Err(internal(e)),
        };
        let name = sniff::file_name(name.as_deref().unwrap_or(""));
        let (raster, content_type) = sniff::sniff(&written.head);
        let now = crate::accounts::now_ms();
        let mut id = AttachmentId::from_bytes(written.digest);
        let mut record = AttachmentRecord::new(written.size, content_type, now);
        let (mut temp, mut thumb) = (temp, None);
        if let Some(raster) = raster {
            let permit = self.media.clone().acquire_owned().await.map_err(internal)?;
            let (path, limits) = (temp.path.clone(), self.media_limits());
            let processed = blocking(move || {
                let _permit = permit;
                std::fs::read(&path).map(|bytes| media::process(&bytes, raster, limits))
            })
            .await?;
            let processed = match processed {
                Ok(processed) => processed,
                Err(e @ MediaError::TooManyPixels { .. }) => {
                    return Err(ApiError::new(ApiCode::ImageTooLarge, e.to_string()));
                }
                Err(e @ MediaError::Undecodable(_)) => {
                    return Err(ApiError::new(ApiCode::UnsupportedMediaType, e.to_string()));
                }
            };
            if let Some(cleaned) = processed.cleaned {
                id = AttachmentId::from_bytes(Sha256::digest(&cleaned).into());
                record.size = cleaned.len() as u64;
                temp = Temp::write(&self.tmp, cleaned).await?;
            }
            let (thumb_bytes, thumb_type) = processed.thumbnail;
            thumb = Some(Temp::write(&self.tmp, thumb_bytes).await?);
            record = record.with_dimensions(processed.width, processed.height).with_thumbnail(thumb_type);
        }
        self.commit(user, id, name, record, temp, thumb).await
    }

    /// Renames the files into place, syncs the directory, then records the upload; a refused
    /// record removes the files again unless they were stored before.
    async fn commit(
        &self,
        user: &UserName,
        id: AttachmentId,
        name: String,
        record: AttachmentRecord,
        temp: Temp,
        thumb: Option<Temp>,
    ) -> Result<Attachment, ApiError> {
        let _commit = self.commit.lock().await;
        let (store, dir, file, thumb_path) = (self.store.clone(), self.dir.clone(), self.file(&id), self.thumb(&id));
        let (user, quota) = (user.clone(), self.config.quota_bytes);
        let added = blocking(move || -> Result<_, std::io::Error> {
            let existed = store.attachment(&id).map_err(std::io::Error::other)?.is_some();
            temp.rename(&file)?;
            if let Some(thumb) = thumb {
                thumb.rename(&thumb_path)?;
            }
            sync_dir(&dir)?;
            let added = store.add_attachment(&user, &id, &name, record, quota);
            if added.is_err() && !existed {
                let _ = std::fs::remove_file(&file);
                let _ = std::fs::remove_file(&thumb_path);
                sync_dir(&dir)?;
            }
            Ok(added)
        })
        .await?;
        match added {
            Ok(attachment) => Ok(attachment),
            Err(AddAttachmentError::QuotaExceeded { used, quota }) => {
                Err(ApiError::new(ApiCode::QuotaExceeded, format!("your files take {used} of your {quota} bytes")))
            }
            Err(e) => Err(internal(e)),
        }
    }
}
