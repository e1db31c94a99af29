//! The control socket: how `chat-server backup` reaches a running server. A Unix socket beside
//! the database (`<db>.sock`, mode 0600) on which the server takes one request per connection,
//! a JSON line `{"op":"backup","path":ABSOLUTE}`, writes the copy from one read transaction
//! (so it holds every commit before it, nothing half), and answers one JSON line
//! `{"ok":true,"report":…}` or `{"ok":false,"error":…}`.
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

#[derive(serde::Serialize, serde::Deserialize)]
struct Answer {
    ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    report: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Asks the server listening on `socket` to back up into `dest` (absolute); its report.
#[cfg(unix)]
pub(crate) fn request_backup(socket: &Path, dest: &Path) -> Result<String, CommandError> {
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
        Answer { ok: true, report, .. } => Ok(report.unwrap_or_default()),
        Answer { error, .. } => Err(CommandError::Server(error.unwrap_or_else(|| "failed".into()))),
    }
}

#[cfg(not(unix))]
pub(crate) fn request_backup(_socket: &Path, _dest: &Path) -> Result<String, CommandError> {
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
            let result = tokio::task::spawn_blocking(move || store.backup_to(&path)).await;
            match result {
                Ok(Ok(contents)) => {
                    tracing::info!(path = %target, messages = contents.messages, "backup written");
                    app.accounts.audit_action(None, "backup", Some(target), Some("control socket".into())).await;
                    Answer { ok: true, report: Some(crate::commands::report(&contents)), error: None }
                }
                Ok(Err(e)) => {
                    Answer { ok: false, report: None, error: Some(crate::accounts::ErrorChain(&e).to_string()) }
                }
                Err(e) => Answer { ok: false, report: None, error: Some(e.to_string()) },
            }
        }
        _ => Answer { ok: false, report: None, error: Some("expected {\"op\":\"backup\",\"path\":ABSOLUTE}".into()) },
    };
    if let Ok(mut bytes) = serde_json::to_vec(&answer) {
        bytes.push(b'\n');
        let _ = write.write_all(&bytes).await;
    }
}
