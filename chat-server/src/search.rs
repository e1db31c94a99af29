//! The hub's search seam on chat-search: committed batches go to an [`Indexer`] (which never
//! blocks the hub), searches run on a blocking thread with a [`SearchReader`].

use std::path::{Path, PathBuf};

use chat_core::{LogEntry, RoomKey, SearchFailure, SearchRequest, SearchResults, UserName};
use chat_search::{Indexer, IndexerConfig, IndexerHandle, SearchIndex, SearchReader};
use futures::FutureExt;
use futures::future::BoxFuture;

use crate::config::{Database, SearchDir};

/// The index directory the server uses, if any.
pub(crate) fn dir(search: &SearchDir, database: &Database) -> Option<PathBuf> {
    match (search, database) {
        (SearchDir::Off, _) | (SearchDir::BesideDatabase, Database::Memory) => None,
        (SearchDir::Dir(dir), _) => Some(dir.clone()),
        // `chat.redb` → `chat.search/`: one index per database, also when several share a folder.
        (SearchDir::BesideDatabase, Database::File(db)) => {
            let stem = db.file_stem().map_or_else(|| "chat".into(), |s| s.to_string_lossy().into_owned());
            Some(db.with_file_name(format!("{stem}.search")))
        }
    }
}

/// Opens the index in `dir` and starts its indexer on `store` (a rebuild, when one is needed,
/// runs in the background and logs its progress; start-up does not wait for it). A failure is
/// logged and the server runs without search.
pub(crate) fn start(dir: &Path, store: chat_store::Store) -> Option<Indexer> {
    let opened = match SearchIndex::open(dir) {
        Ok(opened) => opened,
        Err(e) => {
            tracing::error!(dir = %dir.display(), error = &e as &dyn std::error::Error, "cannot open the search index; search is off");
            return None;
        }
    };
    match Indexer::spawn(opened, store, IndexerConfig::default()) {
        Ok(indexer) => {
            tracing::info!(dir = %dir.display(), "search index open");
            Some(indexer)
        }
        Err(e) => {
            tracing::error!(error = &e as &dyn std::error::Error, "cannot start the search indexer; search is off");
            None
        }
    }
}

/// What the hub calls: [`chat_ws::SearchIndex`] on an [`Indexer`].
pub(crate) struct Seam {
    handle: IndexerHandle,
    reader: SearchReader,
}

impl Seam {
    pub(crate) fn new(indexer: &Indexer) -> Seam {
        Seam { handle: indexer.handle(), reader: indexer.reader() }
    }
}

impl chat_ws::SearchIndex for Seam {
    fn committed(&self, entries: &[LogEntry]) {
        self.handle.committed(entries);
    }

    fn search(
        &self,
        _user: &UserName,
        rooms: Vec<RoomKey>,
        query: SearchRequest,
    ) -> BoxFuture<'static, Result<SearchResults, SearchFailure>> {
        let reader = self.reader.clone();
        async move {
            match tokio::task::spawn_blocking(move || reader.answer(&query, rooms)).await {
                Ok(answer) => answer,
                Err(e) => Err(SearchFailure::index(e)),
            }
        }
        .boxed()
    }
}
