//! The control socket: how `chat-server backup` reaches a running server. A Unix socket beside
//! the database (`<db>.sock`, mode 0600) on which the server takes one request per connection,
//! a JSON line `{"op":"backup","path":ABSOLUTE}`, writes the copy from one read transaction
//! (so it holds every commit before it, nothing half) and copies the attachment files its
//! tables reference (`crate::backup`; garbage collection waits meanwhile), and answers one JSON
//! line `{"ok":true,"report":…,"files":true,"problems":N}` or `{"ok":false,"error":…}`. An
//! older server answers without `files`: it copied no attachment files, and the command says so.
//!
//! Who may ask: a peer running as the same user as the server (checked with `SO_PEERCRED`), i.e.
//! someone who could read the database file anyway; the socket's mode says the same.

use std::path::{Path, PathBuf};

use crate::commands::CommandError;

/// Longest request line accepted.
const MAX_REQUEST_BYTES: usize = 4096;

/// The control socket of the database at `db`.
pub fn socket_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".sock");
    name.into()
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Request {
    op: String,
    path: PathBuf,
}

#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Answer {
    ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    report: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// Whether the server copied the attachment files (servers from before that answer without).
    #[serde(default)]
    files: bool,
    /// Attachment files it could not copy.
    #[serde(default)]
    problems: u64,
}

impl Answer {
    fn failed(error: String) -> Answer {
        Answer { error: Some(error), ..Answer::default() }
    }
}

/// What a running server said it backed up.
#[derive(Debug)]
pub(crate) struct BackedUp {
    /// Its report.
    pub(crate) report: String,
    /// Whether it copied the attachment files.
    pub(crate) files: bool,
    /// Attachment files it could not copy.
    pub(crate) problems: u64,
}

/// Asks the server listening on `socket` to back up into `dest` (absolute).
#[cfg(unix)]
pub(crate) fn request_backup(socket: &Path, dest: &Path) -> Result<BackedUp, CommandError> {
    use std::io::{BufRead, BufReader, Write};
    let control = |source| CommandError::Control { path: socket.to_owned(), source };
    let mut stream = std::os::unix::net::UnixStream::connect(socket).map_err(control)?;
    let mut line = serde_json::to_vec(&Request { op: "backup".into(), path: dest.to_owned() })
        .map_err(|e| CommandError::Usage(e.to_string()))?;
    line.push(b'\n');
    stream.write_all(&line).map_err(control)?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).map_err(control)?;
    let answer: Answer = serde_json::from_str(&answer).map_err(|e| CommandError::Server(e.to_string()))?;
    match answer {
        Answer { ok: true, report, files, problems, .. } => {
            Ok(BackedUp { report: report.unwrap_or_default(), files, problems })
        }
        Answer { error, .. } => Err(CommandError::Server(error.unwrap_or_else(|| "failed".into()))),
    }
}

#[cfg(not(unix))]
pub(crate) fn request_backup(_socket: &Path, _dest: &Path) -> Result<BackedUp, CommandError> {
    Err(CommandError::Usage("backing up a running server needs a Unix control socket; stop the server first".into()))
}

/// Serves the control socket of `store` until `stop` changes; removes the socket file then.
#[cfg(unix)]
pub(crate) async fn serve(
    path: PathBuf,
    store: chat_store::Store,
    accounts: std::sync::Arc<crate::state::App>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    // A socket file left by a server that did not stop cleanly (the database lock says no other
    // server runs on this file).
    let _ = std::fs::remove_file(&path);
    let listener = match tokio::net::UnixListener::bind(&path) {
        Ok(listener) => listener,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "no control socket: `chat-server backup` needs the server stopped");
            return;
        }
    };
    let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    let owner = std::fs::metadata(&path).map(|m| m.uid()).ok();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let peer = stream.peer_cred().ok().map(|c| c.uid());
                if owner.is_none() || peer != owner {
                    tracing::warn!(?peer, "control socket: refused a peer of another user");
                    continue;
                }
                let (store, app) = (store.clone(), accounts.clone());
                tokio::spawn(async move { handle(stream, store, app).await });
            }
        }
    }
    drop(listener);
    let _ = std::fs::remove_file(&path);
}

#[cfg(unix)]
async fn handle(stream: tokio::net::UnixStream, store: chat_store::Store, app: std::sync::Arc<crate::state::App>) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let read = BufReader::new(read.take(MAX_REQUEST_BYTES as u64)).read_line(&mut line).await;
    let answer = match read.ok().and_then(|_| serde_json::from_str::<Request>(&line).ok()) {
        Some(Request { op, path }) if op == "backup" && path.is_absolute() => {
            let target = path.display().to_string();
            // No file of the copied tables may be collected before it is copied.
            let pause = match &app.attachments {
                Some(attachments) => Some(attachments.pause_collection().await),
                None => None,
            };
            let files = app.attachments.as_ref().map(|a| a.dir().to_owned());
            let result = tokio::task::spawn_blocking(move || {
                let _pause = pause;
                crate::backup::write(&store, files.as_deref(), &path)
            })
            .await;
            match result {
                Ok(Ok(backup)) => {
                    let (messages, problems) = (backup.contents.messages, backup.problems());
                    let copied = backup.files.as_ref().map_or(0, |f| f.files);
                    tracing::info!(path = %target, messages, files = copied, problems, "backup written");
                    app.accounts.audit_action(None, "backup", Some(target), Some("control socket".into())).await;
                    Answer { ok: true, report: Some(backup.report()), error: None, files: true, problems }
                }
                Ok(Err(e)) => Answer::failed(crate::accounts::ErrorChain(&e).to_string()),
                Err(e) => Answer::failed(e.to_string()),
            }
        }
        _ => Answer::failed("expected {\"op\":\"backup\",\"path\":ABSOLUTE}".into()),
    };
    if let Ok(mut bytes) = serde_json::to_vec(&answer) {
        bytes.push(b'\n');
        let _ = write.write_all(&bytes).await;
    }
}
