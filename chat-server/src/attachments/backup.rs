//! The attachment files of a backup (`chat-server backup`, `crate::backup`): the file (and
//! thumbnail) of every record in the backed-up `attachments` table, copied from the server's
//! directory into `<backup>.attachments/`, the directory a server started on the backup uses by
//! default. Nothing else is copied (no file without a record, no `tmp/`).
//!
//! Each file is streamed (64 KiB at a time) into `<name>.partial` while hashed, synced and
//! renamed; a file whose SHA-256 is not its id is not copied. The whole directory is built as
//! `<dir>.partial`, synced, and renamed into place, and its parent synced, so the directory
//! exists only complete. A file that is missing or damaged at the source is counted and named
//! (the backup goes on: the other files are still worth having); a failure to write is an error.
//!
//! While a running server backs up, garbage collection is paused
//! ([`Attachments::pause_collection`]), so no file of the copied tables is deleted before it is
//! copied.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chat_core::attachment::AttachmentId;
use sha2::{Digest, Sha256};

use super::{Attachments, create_private_dir, sync_dir};

/// Problems named in a report at most (all are counted).
const MAX_LISTED: usize = 10;
const BUFFER: usize = 64 * 1024;

/// What a backup's files are.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Copied {
    /// Where they went.
    pub(crate) dir: PathBuf,
    /// Files copied (hash verified).
    pub(crate) files: u64,
    /// Their bytes.
    pub(crate) bytes: u64,
    /// Thumbnails copied.
    pub(crate) thumbnails: u64,
    /// Files (or thumbnails) not copied: missing, unreadable or damaged at the source.
    pub(crate) problems: u64,
    /// The first [`MAX_LISTED`] problems, one line each.
    pub(crate) listed: Vec<String>,
}

impl Copied {
    fn problem(&mut self, line: String) {
        self.problems += 1;
        if self.listed.len() < MAX_LISTED {
            self.listed.push(line);
        }
    }
}

/// The attachment directory of a backup (or any database) at `db`: `<db>.attachments`.
pub(crate) fn dir_beside(db: &Path) -> PathBuf {
    let mut dir = db.as_os_str().to_owned();
    dir.push(".attachments");
    dir.into()
}

fn partial(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".partial");
    name.into()
}

/// Copies the files of the records in `tables` (a store: the backup's copy) from `from` into
/// the new directory `to`. Errors are failures to write (nothing is left at `to` then).
pub(crate) fn copy_files(tables: &chat_store::Store, from: &Path, to: &Path) -> std::io::Result<Copied> {
    let staging = partial(to);
    // A leftover of a backup that crashed.
    match std::fs::remove_dir_all(&staging) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let result = copy_into(tables, from, &staging).and_then(|mut copied| {
        sync_dir(&staging)?;
        std::fs::rename(&staging, to)?;
        if let Some(parent) = to.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent)?;
        }
        copied.dir = to.to_owned();
        Ok(copied)
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    result
}

fn copy_into(tables: &chat_store::Store, from: &Path, staging: &Path) -> std::io::Result<Copied> {
    create_private_dir(staging)?;
    let mut copied = Copied::default();
    for id in tables.attachment_ids().map_err(std::io::Error::other)? {
        let record = tables.attachment(&id).map_err(std::io::Error::other)?;
        let name = id.to_string();
        match copy_one(&from.join(&name), staging, &name, Some(&id))? {
            Ok(bytes) => {
                copied.files += 1;
                copied.bytes += bytes;
            }
            Err(problem) => copied.problem(format!("{name}: {problem}")),
        }
        if record.is_some_and(|r| r.thumbnail.is_some()) {
            let thumb = format!("{name}.thumb");
            match copy_one(&from.join(&thumb), staging, &thumb, None)? {
                Ok(_) => copied.thumbnails += 1,
                Err(problem) => copied.problem(format!("{thumb}: {problem}")),
            }
        }
    }
    Ok(copied)
}

/// Copies `source` to `dir/name` through `dir/name.partial`: the outer error is a failure to
/// write, the inner one a source that is missing, unreadable or (with `expect`) not the file of
/// that id. The copy's size on success.
fn copy_one(
    source: &Path,
    dir: &Path,
    name: &str,
    expect: Option<&AttachmentId>,
) -> std::io::Result<Result<u64, String>> {
    let mut input = match std::fs::File::open(source) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Err("missing".into())),
        Err(e) => return Ok(Err(format!("cannot be read: {e}"))),
    };
    let temp = dir.join(format!("{name}.partial"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut output = options.open(&temp)?;
    let (mut hasher, mut size, mut buffer) = (Sha256::new(), 0u64, vec![0u8; BUFFER]);
    loop {
        let n = match input.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                drop(output);
                std::fs::remove_file(&temp)?;
                return Ok(Err(format!("cannot be read: {e}")));
            }
        };
        hasher.update(&buffer[..n]);
        output.write_all(&buffer[..n])?;
        size += n as u64;
    }
    if let Some(id) = expect
        && <[u8; 32]>::from(hasher.finalize()) != *id.as_bytes()
    {
        drop(output);
        std::fs::remove_file(&temp)?;
        return Ok(Err("damaged (its SHA-256 is not its id); not copied".into()));
    }
    output.sync_all()?;
    drop(output);
    std::fs::rename(&temp, dir.join(name))?;
    Ok(Ok(size))
}

/// Garbage collection does nothing while this lives (see [`Attachments::pause_collection`]).
#[derive(Debug)]
pub(crate) struct CollectionPause(Arc<AtomicUsize>);

impl Drop for CollectionPause {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Attachments {
    /// The directory of the files.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Pauses garbage collection until the answer is dropped: waits for a collection in
    /// progress (it holds the commit lock), and the next ones see the pause and skip. Uploads
    /// go on (they only add files).
    pub(crate) async fn pause_collection(&self) -> CollectionPause {
        self.paused.fetch_add(1, Ordering::SeqCst);
        drop(self.commit.lock().await);
        CollectionPause(self.paused.clone())
    }

    /// Whether a backup paused collection.
    pub(crate) fn collection_paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst) > 0
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chat_store::{AttachmentRecord, Store};

    use super::*;

    /// A service on an in-memory store holding one unreferenced file, collectable at once.
    fn service_with_a_collectable_file(dir: &Path) -> (Attachments, AttachmentId) {
        let store = Store::in_memory().unwrap();
        let config = super::super::AttachmentConfig { grace: Duration::ZERO, ..Default::default() };
        let service = Attachments::open(dir.to_owned(), store.clone(), config).unwrap();
        let bytes = b"unreferenced";
        let id = AttachmentId::from_bytes(Sha256::digest(bytes).into());
        std::fs::write(dir.join(id.to_string()), bytes).unwrap();
        let user: chat_core::UserName = "alice".parse().unwrap();
        store
            .add_attachment(
                &user,
                &id,
                "a.txt",
                AttachmentRecord::new(12, "text/plain", chat_core::Timestamp(0)),
                u64::MAX,
            )
            .unwrap();
        (service, id)
    }

    #[tokio::test]
    async fn collection_waits_while_a_backup_copies() {
        let dir = tempfile::tempdir().unwrap();
        let (service, id) = service_with_a_collectable_file(dir.path());
        let pause = service.pause_collection().await;
        let second = service.pause_collection().await;
        assert_eq!(service.collect().await, 0, "paused");
        drop(pause);
        assert_eq!(service.collect().await, 0, "one backup still runs");
        drop(second);
        assert!(dir.path().join(id.to_string()).exists());
        assert_eq!(service.collect().await, 1);
        assert!(!dir.path().join(id.to_string()).exists());
    }

    #[tokio::test]
    async fn a_copy_holds_the_files_of_the_records_verified() {
        let dir = tempfile::tempdir().unwrap();
        let (service, id) = service_with_a_collectable_file(&dir.path().join("files"));
        let to = dir.path().join("backup.attachments");
        let copied = copy_files(&service.store, service.dir(), &to).unwrap();
        assert_eq!((copied.files, copied.bytes, copied.thumbnails, copied.problems), (1, 12, 0, 0));
        assert_eq!(std::fs::read(to.join(id.to_string())).unwrap(), b"unreferenced");
        assert!(!partial(&to).exists());
        // The same file damaged: counted and named, not copied, the directory still written.
        std::fs::write(service.dir().join(id.to_string()), b"unreferencex").unwrap();
        let again = dir.path().join("again.attachments");
        let copied = copy_files(&service.store, service.dir(), &again).unwrap();
        assert_eq!((copied.files, copied.problems), (0, 1));
        assert!(copied.listed[0].contains("damaged"), "{:?}", copied.listed);
        assert_eq!(std::fs::read_dir(&again).unwrap().count(), 0);
    }
}
