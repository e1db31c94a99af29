//! What `chat-server backup PATH` writes, whether the command itself (server stopped) or the
//! running server (asked over the control socket) does it: the database copy
//! (`Store::backup_to`, one read transaction) and the attachment files its tables reference,
//! in `PATH.attachments/` (see `attachments::copy_files`).
//!
//! `PATH.attachments` is the directory a server started on `PATH` uses by default, so restoring
//! is still starting a server on the copy. `PATH` appears last: the copy is written as
//! `PATH.incomplete`, the files are copied (reading the ids from the copy, so exactly its
//! tables' files), their directory is renamed into place, and then the copy is renamed to
//! `PATH`; a backup that fails or crashes leaves no `PATH`. A backup without the directory (one
//! taken before backups copied files) still restores: its downloads answer 404 until the files
//! are copied beside it.

use std::path::{Path, PathBuf};

use chat_store::{Contents, Store};

use crate::attachments::{Copied, copy_files, dir_beside};
use crate::commands::CommandError;

/// A written backup.
#[derive(Debug)]
pub(crate) struct Backup {
    pub(crate) contents: Contents,
    /// The files copied; `None` for a server without an attachment directory.
    pub(crate) files: Option<Copied>,
}

impl Backup {
    /// Files that could not be copied (missing or damaged at the source).
    pub(crate) fn problems(&self) -> u64 {
        self.files.as_ref().map_or(0, |f| f.problems)
    }

    /// What the backup holds, one fact a line.
    pub(crate) fn report(&self) -> String {
        let mut out = crate::commands::report(&self.contents);
        let Some(files) = &self.files else {
            out.push_str("attachment files: none (no attachment directory)\n");
            return out;
        };
        out.push_str(&format!(
            "attachment files {} ({} bytes, each one's SHA-256 verified), thumbnails {}, in {}\n",
            files.files,
            files.bytes,
            files.thumbnails,
            files.dir.display()
        ));
        if files.problems > 0 {
            out.push_str(&format!(
                "NOT COPIED: {} file(s) missing or damaged in the attachment directory (their messages \
                 restore without them):\n",
                files.problems
            ));
            for line in &files.listed {
                out.push_str(&format!("  {line}\n"));
            }
            let unlisted = files.problems - files.listed.len() as u64;
            if unlisted > 0 {
                out.push_str(&format!("  … and {unlisted} more\n"));
            }
        }
        out
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CommandError + '_ {
    move |source| CommandError::Io { path: path.to_owned(), source }
}

/// Writes the backup of `store` (and of the files in `attachments`, when it has a directory) to
/// `dest` and `dest.attachments/`, neither of which may exist.
pub(crate) fn write(store: &Store, attachments: Option<&Path>, dest: &Path) -> Result<Backup, CommandError> {
    let files_dir = dir_beside(dest);
    for path in [dest, files_dir.as_path()] {
        if path.exists() {
            return Err(CommandError::Usage(format!("{} exists already; choose a new name", path.display())));
        }
    }
    let incomplete = with_suffix(dest, ".incomplete");
    // A leftover of a backup that crashed.
    let _ = std::fs::remove_file(&incomplete);
    let contents = store.backup_to(&incomplete)?;
    let result = (|| {
        let files = match attachments {
            Some(from) => {
                let tables = Store::open(&incomplete)?;
                Some(copy_files(&tables, from, &files_dir).map_err(io(&files_dir))?)
            }
            None => None,
        };
        std::fs::rename(&incomplete, dest).map_err(io(dest))?;
        if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
            // The rename is durable once the folder is (best effort: not every OS allows it).
            let _ = std::fs::File::open(parent).and_then(|d| d.sync_all());
        }
        Ok(Backup { contents, files })
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&incomplete);
        if !dest.exists() {
            // Checked absent above, so this directory is this backup's.
            let _ = std::fs::remove_dir_all(&files_dir);
        }
    }
    result
}
