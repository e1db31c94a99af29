//! The maintenance subcommands of the binary: `admin grant|revoke NAME`, `backup PATH` and
//! `check [PATH]`.
//!
//! `admin` works on the database file with the server stopped (redb allows one writer process;
//! a running server holds the file). `backup` works either way: with the server stopped it
//! copies the file and the attachment files itself; while the server runs it asks the server,
//! over the control socket beside the database (`<db>.sock`, see [`crate::control`]), to write
//! the copy from one read transaction and copy the files its tables reference (`PATH` and
//! `PATH.attachments/`). `check` opens the file read-only, so it checks a stopped server's
//! database or a backup.

use std::path::{Path, PathBuf};

use chat_core::UserName;
use chat_store::{AuditEntry, Contents, OpenError, Store};

use crate::account_admin::AUDIT_KEEP;
use crate::accounts::now_ms;

/// A maintenance subcommand.
#[derive(Debug, Clone, clap::Subcommand)]
#[non_exhaustive]
pub enum Command {
    /// Grant or revoke administrator rights (with the server stopped).
    Admin {
        /// What to do.
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Write a consistent copy of the database to PATH and the attachment files it references
    /// to PATH.attachments/ (neither may exist), also while the server runs.
    Backup {
        /// Where the copy goes.
        path: PathBuf,
    },
    /// Verify a database file (default: --db) and report what it holds (read-only; for a
    /// running server's database, check a backup).
    Check {
        /// The file to check.
        path: Option<PathBuf>,
    },
}

/// `admin grant|revoke NAME`.
#[derive(Debug, Clone, clap::Subcommand)]
#[non_exhaustive]
pub enum AdminAction {
    /// Make NAME an administrator.
    Grant {
        /// The account.
        name: String,
    },
    /// Take administrator rights from NAME.
    Revoke {
        /// The account.
        name: String,
    },
}

/// Why a subcommand failed (the message says what to do).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The database is held by a running server.
    #[error("{0} is in use by a running server: stop it first")]
    InUse(String),
    /// The database could not be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// Reading or writing failed.
    #[error(transparent)]
    Store(#[from] chat_store::StoreError),
    /// The check found a problem.
    #[error(transparent)]
    Check(#[from] chat_store::CheckError),
    /// No such account.
    #[error("no account named {0:?}")]
    NoAccount(String),
    /// A bad argument.
    #[error("{0}")]
    Usage(String),
    /// The running server refused or failed.
    #[error("the running server answered: {0}")]
    Server(String),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The backup was written, but some attachment files could not be copied (the message, the
    /// backup's report, names them).
    #[error("{0}the backup is incomplete: the attachment files named above are missing or damaged")]
    Incomplete(String),
    /// Talking to the running server failed.
    #[error("cannot reach the running server at {path}: {source}")]
    Control {
        /// The control socket.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
}

/// Runs `command` on the database at `db` (its attachment files in the default directory,
/// `<db>.attachments`); returns what to print.
pub fn run(command: &Command, db: &Path) -> Result<String, CommandError> {
    run_with_attachments_dir(command, db, None)
}

/// [`run`], with the attachment files in `attachments_dir` (`--attachments-dir`) when given. Only
/// a backup of a stopped server reads them from there; a running server copies its own.
pub fn run_with_attachments_dir(
    command: &Command,
    db: &Path,
    attachments_dir: Option<&Path>,
) -> Result<String, CommandError> {
    match command {
        Command::Admin { action } => {
            let (name, admin) = match action {
                AdminAction::Grant { name } => (name, true),
                AdminAction::Revoke { name } => (name, false),
            };
            set_admin(db, name, admin)
        }
        Command::Backup { path } => backup(db, path, attachments_dir),
        Command::Check { path } => {
            let path = path.as_deref().unwrap_or(db);
            let contents = chat_store::inspect(path).map_err(|e| match e {
                chat_store::CheckError::Open(OpenError::AlreadyOpen { origin }) => CommandError::Usage(format!(
                    "{origin} is in use by a running server; check a backup instead: \
                     chat-server backup copy.redb && chat-server check copy.redb"
                )),
                other => other.into(),
            })?;
            Ok(format!("{}: OK\n{}", path.display(), report(&contents)))
        }
    }
}

fn set_admin(db: &Path, name: &str, admin: bool) -> Result<String, CommandError> {
    if !db.exists() {
        return Err(CommandError::Usage(format!("{} does not exist", db.display())));
    }
    let store = match Store::open(db) {
        Ok(store) => store,
        Err(OpenError::AlreadyOpen { origin }) => return Err(CommandError::InUse(origin)),
        Err(e) => return Err(e.into()),
    };
    let user: UserName = name.parse().map_err(|_| CommandError::NoAccount(name.to_owned()))?;
    if !store.set_admin(&user, admin)? {
        return Err(CommandError::NoAccount(name.to_owned()));
    }
    let action = if admin { "admin_grant" } else { "admin_revoke" };
    let entry = AuditEntry::new(now_ms(), None, action, Some(user.to_string())).with_detail("command line");
    store.append_audit(&entry, AUDIT_KEEP)?;
    let admins = store.admin_count()?;
    let verb = if admin { "is now an administrator" } else { "is no longer an administrator" };
    Ok(format!("{user} {verb} ({admins} administrator(s) in {})", db.display()))
}

fn backup(db: &Path, dest: &Path, attachments_dir: Option<&Path>) -> Result<String, CommandError> {
    let dest = absolute(dest)?;
    let files_dir = crate::attachments::dir_beside(&dest);
    for path in [dest.as_path(), files_dir.as_path()] {
        if path.exists() {
            return Err(CommandError::Usage(format!("{} exists already; choose a new name", path.display())));
        }
    }
    if !db.exists() {
        return Err(CommandError::Usage(format!("{} does not exist", db.display())));
    }
    let (headline, report, problems) = match Store::open(db) {
        Ok(store) => {
            let from = attachments_dir.map_or_else(|| crate::attachments::dir_beside(db), Path::to_owned);
            let backup = crate::backup::write(&store, Some(&from), &dest)?;
            (format!("wrote {} (server not running)", dest.display()), backup.report(), backup.problems())
        }
        Err(OpenError::AlreadyOpen { .. }) => {
            let answer = crate::control::request_backup(&crate::control::socket_path(db), &dest)?;
            let mut report = answer.report;
            if !answer.files {
                report.push_str(&format!(
                    "attachment files: NOT COPIED (the running server is older than this command): copy \
                     its attachment directory to {}\n",
                    files_dir.display()
                ));
            }
            (format!("wrote {} (by the running server)", dest.display()), report, answer.problems)
        }
        Err(e) => return Err(e.into()),
    };
    let out = format!("{headline}\n{report}");
    if problems > 0 { Err(CommandError::Incomplete(out)) } else { Ok(out) }
}

/// `path` made absolute (the running server may have another working directory).
fn absolute(path: &Path) -> Result<PathBuf, CommandError> {
    std::path::absolute(path).map_err(|e| CommandError::Usage(format!("{}: {e}", path.display())))
}

/// What a file holds, one fact a line.
pub(crate) fn report(c: &Contents) -> String {
    let mut out = format!(
        "schema version {}\nusers {}\nrooms {}\nmessages {}\naccounts {} (administrators {}, disabled {}, deleted {})\nsessions {}\n",
        c.schema_version, c.users, c.rooms, c.messages, c.accounts, c.admins, c.disabled, c.deleted, c.sessions
    );
    if c.schema_version != chat_store::SCHEMA_VERSION {
        out.push_str(&format!(
            "(an older schema: the next start migrates it to version {}, keeping a copy beside)\n",
            chat_store::SCHEMA_VERSION
        ));
    }
    out.push_str("tables:");
    for (name, rows) in &c.tables {
        out.push_str(&format!(" {name}={rows}"));
    }
    out.push('\n');
    out
}
