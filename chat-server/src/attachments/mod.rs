//! Attachments: files uploaded over REST, stored content-addressed beside the database, referenced
//! by messages, served only to who may read such a message, and collected when nothing
//! references them. `docs/design.md` ("Attachments") has the data flow and invariants,
//! `docs/protocol.md` the routes, limits and errors.
//!
//! Layout of the directory (mode 0700): `<sha256>` (the stored bytes, metadata removed from
//! images), `<sha256>.thumb` (an image's thumbnail), `tmp/` (uploads in progress; emptied at
//! start-up, so a crash mid-upload leaves nothing behind).

mod backup;
mod download;
mod gc;
mod gif;
mod media;
mod sniff;
mod upload;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use chat_core::UserName;
use chat_core::attachment::{AttachmentId, ResolveError};
use tokio::sync::{Mutex, Semaphore};

use crate::throttle::Throttle;

pub(crate) use backup::{Copied, copy_files, dir_beside};
pub(crate) use download::{download, thumbnail};
pub(crate) use gc::collect_loop;
pub(crate) use upload::upload;

/// Limits and place of attachments. `AttachmentConfig::default()` holds the documented defaults.
///
/// ```
/// let mut config = chat_server::ServerConfig::ephemeral();
/// config.attachments.dir = Some("/tmp/chat-files".into());
/// config.attachments.max_file_bytes = 1 << 20;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AttachmentConfig {
    /// The directory of the files. `None` (the default): `<database>.attachments/` beside a
    /// database file; attachments are off with an in-memory database.
    pub dir: Option<PathBuf>,
    /// Largest file, in bytes (default 10 MiB): larger gets 413 `file_too_large`.
    pub max_file_bytes: u64,
    /// Bytes one user's uploads may take (default 500 MiB): more gets 413 `quota_exceeded`.
    pub quota_bytes: u64,
    /// Uploads per user per minute (default 30): more get 429 `rate_limited`.
    pub uploads_per_minute: u32,
    /// Uploads in progress at once, all users (default 16): more get 503 `busy`. With
    /// `max_file_bytes` it bounds the disk that unfinished uploads take.
    pub max_concurrent_uploads: usize,
    /// Most pixels of an image (default 40 M): a larger one (or a decompression bomb that
    /// claims to be) gets 413 `image_too_large`, decided from its header.
    pub max_pixels: u64,
    /// Longest side of a thumbnail, in pixels (default 320).
    pub thumbnail_px: u32,
    /// How long an unreferenced file is kept after its last upload, claim or release
    /// (default 1 hour).
    pub grace: Duration,
    /// How often garbage collection runs (default 1 minute).
    pub gc_interval: Duration,
}

impl Default for AttachmentConfig {
    fn default() -> AttachmentConfig {
        AttachmentConfig {
            dir: None,
            max_file_bytes: 10 << 20,
            quota_bytes: 500 << 20,
            uploads_per_minute: 30,
            max_concurrent_uploads: 16,
            max_pixels: 40_000_000,
            thumbnail_px: 320,
            grace: Duration::from_secs(3600),
            gc_interval: Duration::from_secs(60),
        }
    }
}

/// Users the upload throttle tracks at most.
const THROTTLE_CAPACITY: usize = 10_000;
/// Image decodes at once (each may take `max_pixels × 4` bytes).
const MEDIA_SLOTS: usize = 2;

/// The attachment service every handler shares.
pub(crate) struct Attachments {
    dir: PathBuf,
    tmp: PathBuf,
    store: chat_store::Store,
    config: AttachmentConfig,
    uploads: Semaphore,
    media: Arc<Semaphore>,
    /// Held while a file is renamed into place and recorded, and while garbage collection
    /// forgets and deletes files: neither can interleave with the other for the same id.
    commit: Mutex<()>,
    /// Backups in progress: garbage collection skips while any runs (`backup.rs`).
    paused: Arc<AtomicUsize>,
    throttle: Throttle<UserName>,
}

impl std::fmt::Debug for Attachments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attachments").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl Attachments {
    /// Opens (creating, mode 0700) the directory, empties `tmp/` (uploads a crash interrupted)
    /// and removes files the store has no record of (a crash between rename and record).
    pub(crate) fn open(
        dir: PathBuf,
        store: chat_store::Store,
        config: AttachmentConfig,
    ) -> std::io::Result<Attachments> {
        let tmp = dir.join("tmp");
        create_private_dir(&dir)?;
        create_private_dir(&tmp)?;
        for entry in std::fs::read_dir(&tmp)? {
            let path = entry?.path();
            tracing::info!(path = %path.display(), "removing an unfinished upload");
            std::fs::remove_file(&path)?;
        }
        let known: std::collections::HashSet<AttachmentId> =
            store.attachment_ids().map_err(std::io::Error::other)?.into_iter().collect();
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let stem = name.strip_suffix(".thumb").unwrap_or(name);
            if let Ok(id) = stem.parse::<AttachmentId>()
                && !known.contains(&id)
            {
                tracing::info!(%id, "removing a file without a record");
                std::fs::remove_file(entry.path())?;
            }
        }
        let throttle = Throttle::new(config.uploads_per_minute, Duration::from_secs(60), THROTTLE_CAPACITY);
        Ok(Attachments {
            dir,
            tmp,
            store,
            uploads: Semaphore::new(config.max_concurrent_uploads),
            media: Arc::new(Semaphore::new(MEDIA_SLOTS)),
            commit: Mutex::new(()),
            paused: Arc::default(),
            throttle,
            config,
        })
    }

    fn file(&self, id: &AttachmentId) -> PathBuf {
        self.dir.join(id.to_string())
    }

    fn thumb(&self, id: &AttachmentId) -> PathBuf {
        self.dir.join(format!("{id}.thumb"))
    }

    fn media_limits(&self) -> media::MediaLimits {
        media::MediaLimits { max_pixels: self.config.max_pixels, thumbnail_px: self.config.thumbnail_px }
    }
}

/// The hub's resolver: a `send_message`'s ids must be uploads of its sender; resolving touches
/// them in the store, so garbage collection leaves them alone while the message commits.
pub(crate) struct StoreResolver(pub(crate) chat_store::Store);

impl chat_ws::AttachmentResolver for StoreResolver {
    fn resolve(
        &self,
        now: chat_core::Timestamp,
        user: UserName,
        ids: Vec<AttachmentId>,
    ) -> futures::future::BoxFuture<'static, Result<Vec<chat_core::attachment::Attachment>, ResolveError>> {
        let store = self.0.clone();
        Box::pin(async move {
            let claimed = tokio::task::spawn_blocking(move || store.claim_attachments(&user, &ids, now)).await;
            match claimed {
                Ok(Ok(list)) => list.into_iter().collect::<Option<Vec<_>>>().ok_or(ResolveError::NotFound),
                Ok(Err(e)) => Err(ResolveError::Unavailable(e.to_string())),
                Err(e) => Err(ResolveError::Unavailable(e.to_string())),
            }
        })
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        match std::fs::DirBuilder::new().mode(0o700).create(dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            }
            Err(e) => Err(e),
        }
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

/// Makes a rename or removal in `dir` durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
