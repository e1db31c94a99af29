//! Running a [`SearchQuery`]: [`SearchReader`], [`SearchPage`], [`SearchHit`], [`Snippet`].

use std::collections::HashSet;
use std::ops::{Bound, Range};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use chat_core::{RoomKey, Timestamp, UserName};
use tantivy::collector::sort_key::{SortBySimilarityScore, SortByStaticFastValue};
use tantivy::collector::{FilterCollector, TopDocs};
use tantivy::query::{AllQuery, BooleanQuery, Occur, PhraseQuery, Query, RangeQuery, TermQuery, TermSetQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{DocAddress, IndexReader, Searcher, TantivyDocument, Term};

use crate::error::{QueryError, SearchError};
use crate::query::{Cursor, CursorKind, MAX_RELEVANCE_OFFSET, Order, SearchQuery, SearchTerm};
use crate::schema::{self, Fields};

/// Up to this many readable rooms are filtered through the index's room terms; more through a
/// per-match check of the room hash.
const ROOM_TERMS_MAX: usize = 64;

/// Characters of message text a snippet shows at most.
pub const SNIPPET_CHARS: usize = 200;

/// A page of hits.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchPage {
    /// The hits, in the query's order; every one in a readable room.
    pub hits: Vec<SearchHit>,
    /// The cursor of the next page (pass it to [`SearchQuery::with_cursor`]); `None` on the last.
    pub next: Option<String>,
    /// The index is being rebuilt or caught up from the store: recent or old messages may be
    /// missing from the hits.
    pub stale: bool,
}

/// One matching message.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    /// Its room (readable by the caller).
    pub room: RoomKey,
    /// Its seq (load the context around it with a history read).
    pub seq: u64,
    /// Who sent it.
    pub sender: UserName,
    /// When it was sent.
    pub timestamp: Timestamp,
    /// Where it matched.
    pub snippet: Snippet,
}

/// A piece of a message's text with the matched words marked, as plain text: the UI escapes it
/// (sets it as text) and marks the ranges itself. Never HTML.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snippet {
    /// The piece of text (at most [`SNIPPET_CHARS`] characters).
    pub text: String,
    /// The matched words: byte ranges of `text`, ascending, not overlapping, on char boundaries.
    pub highlights: Vec<Range<usize>>,
    /// The message has text before `text` (show an ellipsis).
    pub cut_before: bool,
    /// The message has text after `text`.
    pub cut_after: bool,
}

impl Snippet {
    /// `highlights` in UTF-16 code units, as a JavaScript string counts them.
    pub fn utf16_highlights(&self) -> Vec<Range<usize>> {
        let units = |byte: usize| self.text[..byte].encode_utf16().count();
        self.highlights.iter().map(|r| units(r.start)..units(r.end)).collect()
    }
}

/// Runs queries; cheap to clone, `Send + Sync`. Sees what the index's last
/// [`commit`](crate::SearchIndex::commit) made visible.
#[derive(Clone)]
pub struct SearchReader {
    inner: Arc<Inner>,
}

struct Inner {
    reader: RwLock<IndexReader>,
    fields: Fields,
    stale: AtomicBool,
}

impl std::fmt::Debug for SearchReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchReader").field("stale", &self.inner.stale.load(Ordering::Relaxed)).finish()
    }
}

impl SearchReader {
    pub(crate) fn new(reader: IndexReader, fields: Fields, stale: bool) -> SearchReader {
        SearchReader { inner: Arc::new(Inner { reader: RwLock::new(reader), fields, stale: AtomicBool::new(stale) }) }
    }

    pub(crate) fn reload(&self) -> tantivy::Result<()> {
        self.inner.reader.read().unwrap_or_else(|e| e.into_inner()).reload()
    }

    /// Points this reader (and its clones) at the index `other` reads.
    pub(crate) fn replace(&self, other: &SearchReader) {
        let new = other.inner.reader.read().unwrap_or_else(|e| e.into_inner()).clone();
        *self.inner.reader.write().unwrap_or_else(|e| e.into_inner()) = new;
    }

    pub(crate) fn set_stale(&self, stale: bool) {
        self.inner.stale.store(stale, Ordering::Relaxed);
    }

    fn searcher(&self) -> Searcher {
        self.inner.reader.read().unwrap_or_else(|e| e.into_inner()).searcher()
    }

    /// How many messages are indexed (as of the last commit).
    pub fn num_messages(&self) -> u64 {
        self.searcher().num_docs()
    }

    /// Runs `query`. Only messages in `query.readable()` are searched, and every hit is checked
    /// against it again before it is returned.
    pub fn query(&self, query: &SearchQuery) -> Result<SearchPage, SearchError> {
        let stale = self.inner.stale.load(Ordering::Relaxed);
        let empty = SearchPage { hits: Vec::new(), next: None, stale };
        let f = self.inner.fields;
        let readable = query.readable();
        let rooms: Vec<&RoomKey> = match query.room() {
            Some(room) if readable.contains(room) => vec![room],
            Some(_) => return Ok(empty),
            None => readable.iter().collect(),
        };
        if rooms.is_empty() {
            return Ok(empty);
        }
        let mut analyzer = schema::analyzer();
        let mut text: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for term in query.terms() {
            let (SearchTerm::Word(t) | SearchTerm::Phrase(t)) = term;
            match text_query(&mut analyzer, f, t) {
                Some(q) => text.push((Occur::Must, q)),
                // Nothing searchable in it ("@", "---"): it matches nothing rather than anything.
                None => return Ok(empty),
            }
        }
        let text_query = (!text.is_empty()).then(|| BooleanQuery::new(text));

        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if let Some(q) = &text_query {
            clauses.push((Occur::Must, Box::new(q.clone())));
        }
        // A few rooms: their postings, intersected with the rest. Many rooms: a term set would
        // materialise most of the index, so the collector checks each match's room hash instead
        // (the room string is checked on every hit below either way).
        let room_hashes = if rooms.len() <= ROOM_TERMS_MAX {
            let room_terms = rooms.iter().map(|r| Term::from_field_text(f.room, &r.to_string()));
            clauses.push((Occur::Must, Box::new(TermSetQuery::new(room_terms))));
            None
        } else {
            Some(Arc::new(rooms.iter().map(|r| schema::room_hash(r)).collect::<HashSet<u64>>()))
        };
        for kind in query.has() {
            let t = Term::from_field_text(f.has, kind.as_str());
            clauses.push((Occur::Must, Box::new(TermQuery::new(t, IndexRecordOption::Basic))));
        }
        if let Some(user) = query.sender() {
            let t = Term::from_field_text(f.sender, user.as_str());
            clauses.push((Occur::Must, Box::new(TermQuery::new(t, IndexRecordOption::Basic))));
        }
        if query.before().is_some() || query.after().is_some() {
            let lower = query.after().map_or(Bound::Unbounded, |a| Bound::Excluded(u64_term(f.ts, a)));
            let upper = query.before().map_or(Bound::Unbounded, |b| Bound::Excluded(u64_term(f.ts, b)));
            clauses.push((Occur::Must, Box::new(RangeQuery::new(lower, upper))));
        }
        let cursor = query.cursor().map(|c| c.0);
        match (query.order(), cursor) {
            (Order::Newest, Some(CursorKind::Newest { ts, room_hash, seq })) => {
                clauses.push((Occur::Must, older_than(f, ts, room_hash, seq)));
            }
            (Order::Relevance, Some(CursorKind::Relevance { .. })) | (_, None) => {}
            _ => return Err(SearchError::Query(QueryError::BadCursor)),
        }
        let filter: Box<dyn Query> =
            if clauses.is_empty() { Box::new(AllQuery) } else { Box::new(BooleanQuery::new(clauses)) };
        let in_rooms = |set: &Arc<HashSet<u64>>| {
            let set = set.clone();
            move |hash: u64| set.contains(&hash)
        };

        let searcher = self.searcher();
        let limit = query.limit() as usize;
        let (addresses, next) = match query.order() {
            Order::Newest => {
                let by_key = (
                    (SortByStaticFastValue::<u64>::for_field("ts"), tantivy::Order::Desc),
                    (SortByStaticFastValue::<u64>::for_field("room_hash"), tantivy::Order::Desc),
                    (SortByStaticFastValue::<u64>::for_field("seq"), tantivy::Order::Desc),
                );
                let top = TopDocs::with_limit(limit + 1).order_by(by_key);
                let top = match &room_hashes {
                    None => searcher.search(&filter, &top)?,
                    Some(set) => {
                        searcher.search(&filter, &FilterCollector::new("room_hash".into(), in_rooms(set), top))?
                    }
                };
                let more = top.len() > limit;
                let page: Vec<_> = top.into_iter().take(limit).collect();
                let next = match page.last() {
                    Some(((Some(ts), Some(room_hash), Some(seq)), _)) if more => {
                        Some(Cursor(CursorKind::Newest { ts: *ts, room_hash: *room_hash, seq: *seq }))
                    }
                    _ => None,
                };
                (page.into_iter().map(|(_, a)| a).collect::<Vec<_>>(), next)
            }
            Order::Relevance => {
                let offset = match cursor {
                    Some(CursorKind::Relevance { offset }) => offset,
                    _ => 0,
                };
                let by_score = (
                    (SortBySimilarityScore, tantivy::Order::Desc),
                    (SortByStaticFastValue::<u64>::for_field("ts"), tantivy::Order::Desc),
                );
                let top = TopDocs::with_limit(limit + 1).and_offset(offset as usize).order_by(by_score);
                let top = match &room_hashes {
                    None => searcher.search(&filter, &top)?,
                    Some(set) => {
                        searcher.search(&filter, &FilterCollector::new("room_hash".into(), in_rooms(set), top))?
                    }
                };
                let more = top.len() > limit;
                let next_offset = offset + limit as u32;
                let next = (more && next_offset <= MAX_RELEVANCE_OFFSET)
                    .then_some(Cursor(CursorKind::Relevance { offset: next_offset }));
                (top.into_iter().take(limit).map(|(_, a)| a).collect(), next)
            }
        };

        let snippets = match &text_query {
            Some(q) => {
                let mut content = SnippetGenerator::create(&searcher, q, f.content)?;
                content.set_max_num_chars(SNIPPET_CHARS);
                let mut files = SnippetGenerator::create(&searcher, q, f.files)?;
                files.set_max_num_chars(SNIPPET_CHARS);
                Some(Snippets { content, files })
            }
            None => None,
        };
        let mut hits = Vec::with_capacity(addresses.len());
        for address in addresses {
            if let Some(hit) = self.hit(&searcher, address, snippets.as_ref())? {
                // The index was asked for readable rooms only; this is the second check.
                if readable.contains(&hit.room) && query.room().is_none_or(|r| *r == hit.room) {
                    hits.push(hit);
                } else {
                    tracing::error!(room = %hit.room, seq = hit.seq, "search hit outside the readable rooms dropped");
                }
            }
        }
        Ok(SearchPage { hits, next: next.map(|c| c.to_string()), stale })
    }

    fn hit(
        &self,
        searcher: &Searcher,
        address: DocAddress,
        snippets: Option<&Snippets>,
    ) -> Result<Option<SearchHit>, SearchError> {
        let f = self.inner.fields;
        let doc: TantivyDocument = searcher.doc(address)?;
        let text = |field| doc.get_first(field).and_then(|v| v.as_str()).unwrap_or_default();
        let number = |field| doc.get_first(field).and_then(|v| v.as_u64());
        let (Ok(room), Ok(sender), Some(seq), Some(ts)) =
            (text(f.room).parse::<RoomKey>(), UserName::new(text(f.sender)), number(f.seq), number(f.ts))
        else {
            tracing::warn!(?address, "search index document without its fields skipped");
            return Ok(None);
        };
        let content = text(f.content);
        let names: Vec<&str> = doc.get_all(f.files).filter_map(|v| v.as_str()).collect();
        let names = names.join(", ");
        // The text when it matched (or when nothing was searched for and it has some); the file
        // names when they matched instead (or when the message is only files).
        let snippet = match snippets {
            Some(g) => match snippet_of(&g.content, content) {
                Some(s) => s,
                None => snippet_of(&g.files, &names).unwrap_or_else(|| leading(content, &names)),
            },
            None => leading(content, &names),
        };
        Ok(Some(SearchHit { room, seq, sender, timestamp: Timestamp(ts), snippet }))
    }
}

/// The snippet generators of one query: the text's, and the file names'.
struct Snippets {
    content: SnippetGenerator,
    files: SnippetGenerator,
}

/// The snippet of `text` around the query's matches; `None` when nothing in it matched.
fn snippet_of(generator: &SnippetGenerator, text: &str) -> Option<Snippet> {
    let s = generator.snippet(text);
    if s.is_empty() || s.highlighted().is_empty() {
        return None;
    }
    Some(if text.chars().nth(SNIPPET_CHARS).is_none() {
        // A text that fits a snippet is shown whole (the fragment would start at the first
        // word and end at the last one, dropping the punctuation around them).
        let start = s.fragment_range().start;
        Snippet {
            text: text.to_owned(),
            highlights: s.highlighted().iter().map(|r| r.start + start..r.end + start).collect(),
            cut_before: false,
            cut_after: false,
        }
    } else {
        let range = s.fragment_range();
        Snippet {
            text: s.fragment().to_owned(),
            highlights: s.highlighted().to_vec(),
            cut_before: range.start > 0,
            cut_after: range.end < text.len(),
        }
    })
}

/// The start of the text, or of the file names when there is no text: no highlights.
fn leading(content: &str, names: &str) -> Snippet {
    let text = if content.is_empty() { names } else { content };
    let end = text.char_indices().nth(SNIPPET_CHARS).map_or(text.len(), |(i, _)| i);
    Snippet { text: text[..end].to_owned(), highlights: Vec::new(), cut_before: false, cut_after: end < text.len() }
}

fn u64_term(field: tantivy::schema::Field, value: u64) -> Term {
    Term::from_field_u64(field, value)
}

/// `text` analysed like message content, to be found in the text or in a file's name: one
/// word is a term, several are a phrase.
fn text_query(analyzer: &mut TextAnalyzer, f: Fields, text: &str) -> Option<Box<dyn Query>> {
    let mut tokens = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while let Some(token) = stream.next() {
        tokens.push(token.text.clone());
    }
    if tokens.is_empty() {
        return None;
    }
    let in_field = |field| -> Box<dyn Query> {
        let mut terms: Vec<Term> = tokens.iter().map(|t| Term::from_field_text(field, t)).collect();
        match terms.len() {
            1 => Box::new(TermQuery::new(terms.remove(0), IndexRecordOption::WithFreqs)),
            _ => Box::new(PhraseQuery::new(terms)),
        }
    };
    Some(Box::new(BooleanQuery::new(vec![(Occur::Should, in_field(f.content)), (Occur::Should, in_field(f.files))])))
}

/// Documents whose `(ts, room_hash, seq)` is below the cursor's, lexicographically.
fn older_than(f: Fields, ts: u64, room_hash: u64, seq: u64) -> Box<dyn Query> {
    let eq = |field, v| -> Box<dyn Query> {
        Box::new(RangeQuery::new(Bound::Included(u64_term(field, v)), Bound::Included(u64_term(field, v))))
    };
    let lt = |field, v| -> Box<dyn Query> {
        Box::new(RangeQuery::new(Bound::Unbounded, Bound::Excluded(u64_term(field, v))))
    };
    let all = |qs: Vec<Box<dyn Query>>| -> Box<dyn Query> {
        Box::new(BooleanQuery::new(qs.into_iter().map(|q| (Occur::Must, q)).collect()))
    };
    Box::new(BooleanQuery::new(vec![
        (Occur::Should, lt(f.ts, ts)),
        (Occur::Should, all(vec![eq(f.ts, ts), lt(f.room_hash, room_hash)])),
        (Occur::Should, all(vec![eq(f.ts, ts), eq(f.room_hash, room_hash), lt(f.seq, seq)])),
    ]))
}
