//! The index's schema, its analyzer and its version.
//!
//! One tantivy document per message. Changing anything here (a field, an option, the analyzer)
//! changes what is on disk: bump [`SCHEMA_VERSION`], and every existing index is rebuilt from the
//! store at its next open.

use chat_core::RoomKey;
use chat_core::attachment::Attachment;
use tantivy::schema::{FAST, Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions};
use tantivy::tokenizer::{AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer};

/// The on-disk format of the index: the schema below and the analyzer. Written to the
/// `search-version` file; an index of another version is rebuilt.
///
/// - 1: the first index (session 4).
/// - 2: `has` (what kinds of files a message carries) and `files` (their names, analysed).
pub const SCHEMA_VERSION: u32 = 2;

/// The name the content analyzer is registered under.
pub(crate) const ANALYZER: &str = "chat_text";

/// Tokens longer than this (bytes) are not indexed (base64 blobs, long URLs).
const MAX_TOKEN_BYTES: usize = 64;

/// The fields of a message document.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    /// `"{room}#{seq}"`, raw: the identity a removal or re-index deletes by.
    pub key: Field,
    /// The room key, raw: the readable-set and `in:` filters.
    pub room: Field,
    /// [`room_hash`] of the room: the middle part of the newest-first order.
    pub room_hash: Field,
    /// The message's seq.
    pub seq: Field,
    /// The sender's name, raw: `from:`.
    pub sender: Field,
    /// Milliseconds since the epoch: `before:`/`after:` and the newest-first order.
    pub ts: Field,
    /// The text, analysed, with positions (phrases) and stored (snippets).
    pub content: Field,
    /// Raw terms, one per kind of file the message carries ([`Has::term`]): `has:`.
    pub has: Field,
    /// The attachments' file names, analysed like the text and stored (snippets): words match
    /// a file's name as they match the text.
    pub files: Field,
}

/// A kind of file a message carries: the values of `has:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Has {
    /// Any attachment.
    Attachment,
    /// An image (a sniffed `image/*` type).
    Image,
    /// A file that is not an image.
    File,
}

impl Has {
    /// The name `has:` gives it, which is also the indexed term.
    pub fn as_str(self) -> &'static str {
        match self {
            Has::Attachment => "attachment",
            Has::Image => "image",
            Has::File => "file",
        }
    }

    /// The kinds `attachments` make a message have (none for none).
    pub(crate) fn of(attachments: &[Attachment]) -> Vec<Has> {
        let mut kinds = Vec::new();
        if attachments.is_empty() {
            return kinds;
        }
        kinds.push(Has::Attachment);
        if attachments.iter().any(|a| a.content_type.starts_with("image/")) {
            kinds.push(Has::Image);
        }
        if attachments.iter().any(|a| !a.content_type.starts_with("image/")) {
            kinds.push(Has::File);
        }
        kinds
    }
}

impl std::str::FromStr for Has {
    type Err = ();
    /// `attachment`, `image` or `file` (case-insensitive; a plural `s` is accepted).
    fn from_str(s: &str) -> Result<Has, ()> {
        let s = s.to_ascii_lowercase();
        match s.strip_suffix('s').unwrap_or(&s) {
            "attachment" => Ok(Has::Attachment),
            "image" => Ok(Has::Image),
            "file" => Ok(Has::File),
            _ => Err(()),
        }
    }
}

pub(crate) fn build() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = TextOptions::default().set_stored().set_indexing_options(
        TextFieldIndexing::default().set_tokenizer(ANALYZER).set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let fields = Fields {
        key: b.add_text_field("key", STRING),
        room: b.add_text_field("room", STRING | STORED),
        room_hash: b.add_u64_field("room_hash", FAST),
        seq: b.add_u64_field("seq", FAST | STORED),
        sender: b.add_text_field("sender", STRING | STORED),
        ts: b.add_u64_field("ts", FAST | STORED),
        content: b.add_text_field("content", text.clone()),
        has: b.add_text_field("has", STRING),
        files: b.add_text_field("files", text),
    };
    (b.build(), fields)
}

/// The content analyzer: words are runs of Unicode letters and digits, lower-cased and folded
/// to ASCII where a folding exists (`Café` finds `cafe`). Punctuation separates words, so
/// `@alice` is the word `alice` and a code span `` `foo_bar()` `` is `foo bar`: mentions and
/// code are searchable as text, and a query term is analysed the same way.
pub(crate) fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// The identity term of a message.
pub(crate) fn key(room: &RoomKey, seq: u64) -> String {
    format!("{room}#{seq}")
}

/// A stable 64-bit hash of a room key (FNV-1a): the same on every platform and release, because
/// it is stored and it orders results.
pub(crate) fn room_hash(room: &RoomKey) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in room.to_string().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
