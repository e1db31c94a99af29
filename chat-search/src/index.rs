//! [`SearchIndex`]: the index directory, its version file, and writes.

use std::fs;
use std::path::{Path, PathBuf};

use chat_core::attachment::Attachment;
use chat_core::{Message, RoomKey, Timestamp, UserName};
use tantivy::schema::Schema;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use crate::error::{IndexError, OpenError};
use crate::schema::{self, Fields, Has, SCHEMA_VERSION};
use crate::search::SearchReader;

/// The version file inside the index directory.
const VERSION_FILE: &str = "search-version";
/// tantivy's files live in this subdirectory, so clearing it never touches anything else.
const TANTIVY_DIR: &str = "tantivy";
/// Present while an [`Indexer`](crate::Indexer) runs, removed by its clean shutdown: found at
/// open, it means entries may have been committed to the store but not to the index (a crash, a
/// full queue), so the index is caught up from the store.
const RUNNING_FILE: &str = "indexer-running";
/// The writer's memory budget (tantivy's minimum is 15 MB per thread).
const WRITER_MEMORY: usize = 32 * 1024 * 1024;

/// Why an opened index must be (re)filled from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RebuildReason {
    /// No index in the directory (first start, or it was deleted).
    Missing,
    /// The version file names another [`SCHEMA_VERSION`] (or is unreadable).
    OtherVersion,
    /// tantivy could not open it, its schema differs, or its files fail their checksums. It was
    /// cleared.
    Damaged(String),
    /// The last indexer did not shut down cleanly: the index is kept (and searchable) but may
    /// lag the store.
    Unclean,
}

/// What [`SearchIndex::open`] found.
#[derive(Debug)]
pub struct Opened {
    /// The index, ready for queries and writes.
    pub index: SearchIndex,
    /// `Some` when it must be filled from the store ([`rebuild`](crate::rebuild) or an
    /// [`Indexer`](crate::Indexer), which does it in the background).
    pub rebuild: Option<RebuildReason>,
}

/// A full-text index of chat messages in a directory: one writer, any number of
/// [`SearchReader`]s.
///
/// Writes (`index`, `remove`) are buffered until [`commit`](SearchIndex::commit), which makes
/// them durable and visible to readers. One document per `(room, seq)`: indexing a message again
/// replaces it (an edit), removing it deletes it (a deletion).
pub struct SearchIndex {
    dir: PathBuf,
    writer: IndexWriter,
    fields: Fields,
    reader: SearchReader,
    pending: usize,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex").field("dir", &self.dir).field("pending", &self.pending).finish()
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OpenError + '_ {
    move |source| OpenError::Io { path: path.to_owned(), source }
}

impl SearchIndex {
    /// Opens the index in `dir` (created if needed). A missing index, one of another
    /// [`SCHEMA_VERSION`], or one tantivy cannot open is cleared and created empty, and
    /// [`Opened::rebuild`] says so; opening never waits for a rebuild.
    pub fn open(dir: impl AsRef<Path>) -> Result<Opened, OpenError> {
        let dir = dir.as_ref().to_owned();
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        let version_path = dir.join(VERSION_FILE);
        let tantivy_dir = dir.join(TANTIVY_DIR);
        let version = fs::read_to_string(&version_path).ok();
        let (expected, fields) = schema::build();

        let mut reason = match version.as_deref().map(str::trim) {
            None => Some(RebuildReason::Missing),
            Some(v) if v == SCHEMA_VERSION.to_string() => None,
            Some(_) => Some(RebuildReason::OtherVersion),
        };
        let mut existing = None;
        if reason.is_none() {
            match open_existing(&tantivy_dir, &expected) {
                Ok(index) => existing = Some(index),
                Err(why) => reason = Some(RebuildReason::Damaged(why)),
            }
        }
        let index = match existing {
            Some(index) => {
                if dir.join(RUNNING_FILE).exists() {
                    reason = Some(RebuildReason::Unclean);
                }
                index
            }
            None => {
                tracing::info!(dir = %dir.display(), ?reason, "creating an empty search index");
                let _ = fs::remove_file(&version_path);
                if tantivy_dir.exists() {
                    fs::remove_dir_all(&tantivy_dir).map_err(io(&tantivy_dir))?;
                }
                fs::create_dir_all(&tantivy_dir).map_err(io(&tantivy_dir))?;
                let index = Index::create_in_dir(&tantivy_dir, expected).map_err(OpenError::Create)?;
                write_durably(&version_path, format!("{SCHEMA_VERSION}\n").as_bytes()).map_err(io(&version_path))?;
                index
            }
        };
        let made = (|| {
            index.tokenizers().register(schema::ANALYZER, schema::analyzer());
            let writer = index.writer_with_num_threads(1, WRITER_MEMORY)?;
            let reader = reader_of(&index)?;
            Ok::<_, tantivy::TantivyError>((writer, reader))
        })();
        let (writer, reader) = match made {
            Ok(parts) => parts,
            // The lock is held by another writer, or the files cannot be read: not something a
            // rebuild in this process could fix.
            Err(e) => return Err(OpenError::Create(e)),
        };
        let reader = SearchReader::new(reader, fields, reason.is_some());
        Ok(Opened { index: SearchIndex { dir, writer, fields, reader, pending: 0 }, rebuild: reason })
    }

    /// Indexes `message` (its text, and its attachments' kinds and names), replacing any earlier
    /// document of the same `(room, seq)`.
    pub fn index(&mut self, message: &Message) -> Result<(), IndexError> {
        let m = message;
        self.write(&m.room, m.seq, &m.sender, m.timestamp, &m.content, &m.attachments)
    }

    /// Indexes the message `(room, seq)` with this sender, time and text and no attachments,
    /// replacing any earlier document of it.
    pub fn index_text(
        &mut self,
        room: &RoomKey,
        seq: u64,
        sender: &UserName,
        timestamp: Timestamp,
        content: &str,
    ) -> Result<(), IndexError> {
        self.write(room, seq, sender, timestamp, content, &[])
    }

    fn write(
        &mut self,
        room: &RoomKey,
        seq: u64,
        sender: &UserName,
        timestamp: Timestamp,
        content: &str,
        attachments: &[Attachment],
    ) -> Result<(), IndexError> {
        let f = &self.fields;
        let key = schema::key(room, seq);
        self.writer.delete_term(Term::from_field_text(f.key, &key));
        let mut doc = TantivyDocument::default();
        doc.add_text(f.key, key);
        doc.add_text(f.room, room.to_string());
        doc.add_u64(f.room_hash, schema::room_hash(room));
        doc.add_u64(f.seq, seq);
        doc.add_text(f.sender, sender.as_str());
        doc.add_u64(f.ts, timestamp.0);
        doc.add_text(f.content, content);
        for kind in Has::of(attachments) {
            doc.add_text(f.has, kind.as_str());
        }
        for a in attachments {
            doc.add_text(f.files, &a.name);
        }
        self.writer.add_document(doc)?;
        self.pending += 1;
        Ok(())
    }

    /// Removes the message `(room, seq)` (nothing if it is not indexed).
    pub fn remove(&mut self, room: &RoomKey, seq: u64) {
        self.writer.delete_term(Term::from_field_text(self.fields.key, &schema::key(room, seq)));
        self.pending += 1;
    }

    /// Operations since the last commit.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Makes every write so far durable and visible to readers.
    pub fn commit(&mut self) -> Result<(), IndexError> {
        self.writer.commit()?;
        self.pending = 0;
        self.reader.reload()?;
        Ok(())
    }

    /// A reader for queries, cheap to clone and usable from any thread.
    pub fn reader(&self) -> SearchReader {
        self.reader.clone()
    }

    /// The directory this index lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Checks every index file against its checksum (reads them all: run it off the start-up
    /// path). `Err` names the damaged files.
    pub fn verify(&self) -> Result<(), String> {
        match self.writer.index().validate_checksum() {
            Ok(bad) if bad.is_empty() => Ok(()),
            Ok(bad) => Err(format!("checksum mismatch in {bad:?}")),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Clears the index and creates it empty (after [`verify`](SearchIndex::verify) failed).
    /// Readers handed out before see the new index from their next query.
    pub fn reset(self) -> Result<SearchIndex, OpenError> {
        let SearchIndex { dir, writer, reader, .. } = self;
        drop(writer);
        let _ = fs::remove_file(dir.join(VERSION_FILE));
        let Opened { index, .. } = SearchIndex::open(&dir)?;
        // Point the existing readers at the new index.
        reader.replace(&index.reader);
        Ok(SearchIndex { reader, ..index })
    }

    /// Sets or clears the marker that says the index may lag the store (see [`Opened`]).
    pub(crate) fn set_running(&self, running: bool) -> Result<(), IndexError> {
        let path = self.dir.join(RUNNING_FILE);
        let result = if running { write_durably(&path, b"") } else { remove_durably(&path) };
        result.map_err(|source| IndexError::Marker { path, source })
    }

    /// Marks the readers' results as possibly incomplete (a rebuild or catch-up is running).
    pub(crate) fn set_stale(&self, stale: bool) {
        self.reader.set_stale(stale);
    }
}

fn open_existing(dir: &Path, expected: &Schema) -> Result<Index, String> {
    let index = Index::open_in_dir(dir).map_err(|e| e.to_string())?;
    if index.schema() != *expected {
        return Err("schema differs".into());
    }
    index.tokenizers().register(schema::ANALYZER, schema::analyzer());
    // Opening a reader loads every segment's metadata: a truncated or missing file fails here.
    reader_of(&index).map_err(|e| e.to_string())?;
    Ok(index)
}

fn reader_of(index: &Index) -> tantivy::Result<IndexReader> {
    index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()
}

fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = fs::File::create(&tmp)?;
        std::io::Write::write_all(&mut f, bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    sync_parent(path)
}

fn remove_durably(path: &Path) -> std::io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => sync_parent(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn sync_parent(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(parent) => fs::File::open(parent)?.sync_all(),
        None => Ok(()),
    }
}
