//! The tables of a chat-store file, the value codec, and the mapping between the materialised
//! tables and a [`Snapshot`].
//!
//! | table             | key                           | value (rmp-serde, named fields) |
//! |-------------------|-------------------------------|---------------------------------|
//! | `meta`            | `"schema_version"`            | `u32` big-endian                |
//! | `messages`        | `room 0x00 seq`               | [`StoredMessage`] (compact; the current state) |
//! | `changes`         | `room 0x00 rev`               | `seq` (u64 big-endian): the message whose latest change is event `rev` |
//! | `deleted`         | `room 0x00 seq`               | empty (a deleted message: fold row) |
//! | `users`           | `user`                        | [`UserState`]                   |
//! | `rooms`           | `room`                        | [`RoomState`]                   |
//! | `reads`           | `user 0x00 room`              | [`ReadRow`] (the cursor)        |
//! | `highlights`      | `user 0x00 room 0x00 seq`     | empty (the key is the row)      |
//! | `notifications`   | `user 0x00 id`                | [`Notification`]                |
//! | `client_ids`      | `user 0x00 position`          | [`StoredClientId`]              |
//! | `accounts`        | `user`                        | [`Account`](crate::Account)     |
//! | `tokens`          | token hash (32 bytes)         | [`TokenRecord`](crate::TokenRecord) |
//! | `settings`        | key (UTF-8)                   | raw bytes                       |
//! | `user_tokens`, `invites`, `resets`, `audit` | see `account.rs` and `admin.rs` (v3) | |
//! | `attachments`, `attachment_uploads`, `attachment_refs` | see `attachment.rs` (v5) | |

//!
//! The state tables are the rows of [`chat_core::fold`] (format version
//! [`FOLD_FORMAT_VERSION`](chat_core::fold::FOLD_FORMAT_VERSION)), one table per kind of row.
//!
//! [`UserState`]: chat_core::UserState
//! [`RoomState`]: chat_core::RoomState
//! [`ReadRow`]: chat_core::fold::ReadRow
//! [`Notification`]: chat_core::Notification

use chat_core::fold::{Builder, ClientIdRecord, Row, Touched};
use chat_core::log::Reactions;
use chat_core::{LogEntry, Message, ReplyTo, RoomKey, Snapshot, Timestamp, UserName};
use redb::{ReadableTable, TableDefinition, WriteTransaction};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::StoreError;
use crate::key;

/// A table of byte-string keys and byte-string values.
pub(crate) type Def = TableDefinition<'static, &'static [u8], &'static [u8]>;

pub(crate) const META: Def = TableDefinition::new("meta");
pub(crate) const MESSAGES: Def = TableDefinition::new("messages");
pub(crate) const USERS: Def = TableDefinition::new("users");
pub(crate) const ROOMS: Def = TableDefinition::new("rooms");
pub(crate) const READS: Def = TableDefinition::new("reads");
pub(crate) const NOTIFICATIONS: Def = TableDefinition::new("notifications");
pub(crate) const CLIENT_IDS: Def = TableDefinition::new("client_ids");
pub(crate) const HIGHLIGHTS: Def = TableDefinition::new("highlights");
pub(crate) const ACCOUNTS: Def = TableDefinition::new("accounts");
pub(crate) const TOKENS: Def = TableDefinition::new("tokens");
pub(crate) const SETTINGS: Def = TableDefinition::new("settings");
pub(crate) const CHANGES: Def = TableDefinition::new("changes");
pub(crate) const DELETED: Def = TableDefinition::new("deleted");

/// Every table, created together when a file is initialised.
pub(crate) const ALL: [Def; 20] = [
    META,
    MESSAGES,
    USERS,
    ROOMS,
    READS,
    HIGHLIGHTS,
    NOTIFICATIONS,
    CLIENT_IDS,
    ACCOUNTS,
    TOKENS,
    SETTINGS,
    crate::account::USER_TOKENS,
    crate::admin::INVITES,
    crate::admin::RESETS,
    crate::admin::AUDIT,
    CHANGES,
    DELETED,
    crate::attachment::ATTACHMENTS,
    crate::attachment::UPLOADS,
    crate::attachment::REFS,
];

/// The key in `meta` holding the schema version.
pub(crate) const SCHEMA_VERSION_KEY: &[u8] = b"schema_version";

/// Encodes a value (named fields, so `skip_serializing_if` and added `#[serde(default)]` fields
/// stay readable).
pub(crate) fn encode<T: Serialize>(what: &'static str, value: &T) -> Result<Vec<u8>, StoreError> {
    rmp_serde::to_vec_named(value).map_err(|e| StoreError::Encode { what, detail: e.to_string() })
}

/// Decodes a value read from `table`.
pub(crate) fn decode<T: DeserializeOwned>(table: &'static str, bytes: &[u8]) -> Result<T, StoreError> {
    rmp_serde::from_slice(bytes).map_err(|e| key::corrupt(table, &e.to_string()))
}

/// A message as stored (schema v3): the room and `seq` are the key, so the value holds the rest,
/// as a compact rmp array (no field names, no room string): messages are most of the file and of
/// every commit's bytes. Any change to this layout is a schema version change.
///
/// It is the message's current state: an edit rewrites it, a deletion leaves the tombstone
/// (content, mentions, reactions, client id and edit time emptied). `reply_to` is the answered
/// `seq` only: its sender and preview are read from that message when history is read, so a
/// reply never keeps a copy of text that was later edited or deleted. `changed` is the `rev` of
/// the last event that changed the message (0 for none): its row in `changes`.
#[derive(Clone, Serialize, serde::Deserialize)]
pub(crate) struct StoredMessage {
    pub(crate) timestamp: Timestamp,
    pub(crate) sender: UserName,
    pub(crate) content: String,
    pub(crate) mentions: Vec<UserName>,
    pub(crate) client_id: Option<String>,
    pub(crate) rev: u64,
    pub(crate) edited_at: Option<Timestamp>,
    pub(crate) deleted_at: Option<Timestamp>,
    pub(crate) reply_to: Option<u64>,
    pub(crate) reactions: Vec<(String, Vec<UserName>)>,
    pub(crate) changed: u64,
    /// Since v5. The last element, left out when empty: a message without attachments is
    /// stored exactly as in v4, and a shorter row reads as none. (Only the last field may be
    /// skipped in this positional layout.)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) attachments: Vec<chat_core::attachment::Attachment>,
}

impl StoredMessage {
    /// The stored form of a new message.
    pub(crate) fn of(m: &Message) -> StoredMessage {
        StoredMessage {
            timestamp: m.timestamp,
            sender: m.sender.clone(),
            content: m.content.clone(),
            mentions: m.mentions.clone(),
            client_id: m.client_id.clone(),
            rev: m.rev,
            edited_at: m.edited_at,
            deleted_at: m.deleted_at,
            reply_to: m.reply_to.as_ref().map(|r| r.seq),
            reactions: m.reactions.iter().map(|g| (g.emoji.clone(), g.users.clone())).collect(),
            changed: 0,
            attachments: m.attachments.clone(),
        }
    }

    /// The message it holds (`reply_to` with the answered `seq` only; see [`fill_reply`]).
    pub(crate) fn into_message(self, room: &RoomKey, seq: u64) -> Message {
        Message {
            room: room.clone(),
            seq,
            rev: self.rev,
            changed_rev: self.changed,
            timestamp: self.timestamp,
            sender: self.sender.clone(),
            content: self.content,
            mentions: self.mentions,
            client_id: self.client_id,
            edited_at: self.edited_at,
            deleted: self.deleted_at.is_some(),
            deleted_at: self.deleted_at,
            reply_to: self.reply_to.map(|seq| Box::new(ReplyTo { seq, sender: self.sender, preview: String::new() })),
            reactions: self.reactions.into_iter().map(|(emoji, users)| Reactions { emoji, users }).collect(),
            attachments: self.attachments,
        }
    }

    /// Applies a change entry with the core's interpreter ([`Message::apply_change`]); returns
    /// whether it changed anything.
    pub(crate) fn apply(&mut self, room: &RoomKey, seq: u64, entry: &LogEntry) -> bool {
        let mut m = StoredMessage { reply_to: None, ..self.clone() }.into_message(room, seq);
        if !m.apply_change(entry) {
            return false;
        }
        let (reply_to, changed) = (self.reply_to, self.changed);
        *self = StoredMessage { reply_to, changed, ..StoredMessage::of(&m) };
        true
    }
}

/// Encodes the value of a message (its key is [`key::message`]).
pub(crate) fn encode_message(m: &StoredMessage) -> Result<Vec<u8>, StoreError> {
    rmp_serde::to_vec(m).map_err(|e| StoreError::Encode { what: "message", detail: e.to_string() })
}

/// Decodes the value of a message.
pub(crate) fn decode_stored(bytes: &[u8]) -> Result<StoredMessage, StoreError> {
    decode("messages", bytes)
}

/// Decodes a message stored under `room 0x00 seq` (`reply_to` not yet filled).
pub(crate) fn decode_message(room: &RoomKey, seq: u64, bytes: &[u8]) -> Result<Message, StoreError> {
    Ok(decode_stored(bytes)?.into_message(room, seq))
}

/// Reads the materialised tables back into a [`Snapshot`]. Reads no message.
pub(crate) fn load_snapshot(txn: &redb::ReadTransaction) -> Result<Snapshot, StoreError> {
    let mut rows = Builder::new();

    for row in txn.open_table(USERS)?.iter()? {
        let (k, v) = row?;
        rows.user(key::user("users", k.value())?, decode("users", v.value())?);
    }
    for row in txn.open_table(ROOMS)?.iter()? {
        let (k, v) = row?;
        rows.room(key::room("rooms", k.value())?, decode("rooms", v.value())?);
    }
    for row in txn.open_table(READS)?.iter()? {
        let (k, v) = row?;
        let (user, room) = key::split("reads", k.value())?;
        rows.read(key::user("reads", user)?, key::room("reads", room)?, decode("reads", v.value())?);
    }
    for row in txn.open_table(HIGHLIGHTS)?.iter()? {
        let (k, _) = row?;
        let (user, room, seq) = split_highlight(k.value())?;
        // Rows arrive sorted by (user, room, seq), after every read row.
        rows.highlight(user, room, seq).map_err(|e| key::corrupt("highlights", &e.to_string()))?;
    }
    for row in txn.open_table(DELETED)?.iter()? {
        let (k, _) = row?;
        let (room, seq) = key::split("deleted", k.value())?;
        let (room, seq) = (key::room("deleted", room)?, key::trailing_u64("deleted", seq)?);
        // Rows arrive sorted by (room, seq).
        rows.deleted(room, seq).map_err(|e| key::corrupt("deleted", &e.to_string()))?;
    }
    for row in txn.open_table(NOTIFICATIONS)?.iter()? {
        let (k, v) = row?;
        let (user, id) = key::split("notifications", k.value())?;
        let (user, id) = (key::user("notifications", user)?, key::trailing_u64("notifications", id)?);
        let n: chat_core::Notification = decode("notifications", v.value())?;
        if n.id != id {
            return Err(key::corrupt("notifications", "id in key and value differ"));
        }
        // Rows arrive sorted by (user, id), as the builder wants them.
        rows.notification(user, n).map_err(|e| key::corrupt("notifications", &e.to_string()))?;
    }
    for row in txn.open_table(CLIENT_IDS)?.iter()? {
        let (k, v) = row?;
        let (user, position) = key::split("client_ids", k.value())?;
        let user = key::user("client_ids", user)?;
        let position = key::trailing_u64("client_ids", position)?;
        let StoredClientId { client_id, record } = decode("client_ids", v.value())?;
        if record.position != position {
            return Err(key::corrupt("client_ids", "position in key and value differ"));
        }
        rows.client_id(user, &client_id, record).map_err(|e| key::corrupt("client_ids", &e.to_string()))?;
    }
    Ok(rows.finish())
}

/// A remembered client id, stored under `user 0x00 position`.
///
/// The rows of one user are their `ClientIdWindow`, oldest first. Keyed by position,
/// a user's new ids append at the end of their range and evictions remove from its start, so a
/// commit dirties a few pages per sender instead of one page per message at a random place.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct StoredClientId {
    pub(crate) client_id: String,
    pub(crate) record: ClientIdRecord,
}

/// The borrowed form of [`StoredClientId`], for writing.
#[derive(Serialize)]
struct StoredClientIdRef<'a> {
    client_id: &'a str,
    record: &'a ClientIdRecord,
}

/// Writes (or deletes, when the snapshot no longer holds it) every touched key. `touched` must be
/// sorted and deduplicated.
pub(crate) fn write_touched(
    txn: &WriteTransaction,
    snapshot: &Snapshot,
    touched: &[Touched],
) -> Result<(), StoreError> {
    // Touched sorts by variant first, so each table is opened once, in order.
    let mut i = 0;
    while i < touched.len() {
        let kind = std::mem::discriminant(&touched[i]);
        let mut table = txn.open_table(table_of(&touched[i])?)?;
        while i < touched.len() && std::mem::discriminant(&touched[i]) == kind {
            put_touched(&mut table, snapshot, &touched[i])?;
            i += 1;
        }
    }
    Ok(())
}

// The tables below are the rows of this fold format: a new format must be mapped here (and get a
// schema version) before the store builds again.
const _: () = assert!(chat_core::fold::FOLD_FORMAT_VERSION == 3, "chat-store maps fold format 3");

/// A kind of row this build has no table for (only possible if the fold format moved on).
fn unknown_row(what: &impl std::fmt::Debug) -> StoreError {
    StoreError::Encode { what: "row", detail: format!("no table for {what:?}") }
}

fn table_of(touched: &Touched) -> Result<Def, StoreError> {
    Ok(match touched {
        Touched::User(_) => USERS,
        Touched::Room(_) => ROOMS,
        Touched::Read(..) => READS,
        Touched::Notification(..) => NOTIFICATIONS,
        Touched::ClientId(..) => CLIENT_IDS,
        Touched::Highlight(..) | Touched::HighlightsThrough(..) => HIGHLIGHTS,
        Touched::Deleted(..) => DELETED,
        other => return Err(unknown_row(other)),
    })
}

/// The key bytes of a row in its table.
fn key_of(touched: &Touched) -> Result<Vec<u8>, StoreError> {
    Ok(match touched {
        Touched::User(user) => user.as_str().as_bytes().to_vec(),
        Touched::Room(room) => room.to_string().into_bytes(),
        Touched::Read(user, room) => key::name_bytes(user.as_str(), room.to_string().as_bytes()),
        Touched::Notification(user, id) => key::name_u64(user.as_str(), *id),
        Touched::ClientId(user, position) => key::name_u64(user.as_str(), *position),
        Touched::Highlight(user, room, seq) => key::highlight(user, room, *seq),
        Touched::Deleted(room, seq) => key::message(room, *seq),
        other => return Err(unknown_row(other)),
    })
}

fn encode_row(row: Row<'_>) -> Result<Vec<u8>, StoreError> {
    match row {
        Row::User(v) => encode("user", v),
        Row::Room(v) => encode("room", v),
        Row::Read(v) => encode("read cursor", &v),
        Row::Notification(v) => encode("notification", v),
        Row::ClientId { client_id, record } => encode("client id", &StoredClientIdRef { client_id, record }),
        Row::Highlight | Row::Deleted => Ok(Vec::new()),
        other => Err(unknown_row(&other)),
    }
}

fn put_touched(
    table: &mut redb::Table<'_, &'static [u8], &'static [u8]>,
    snapshot: &Snapshot,
    touched: &Touched,
) -> Result<(), StoreError> {
    if let Touched::HighlightsThrough(user, room, through) = touched {
        let (start, end) = (key::highlight(user, room, 0), key::highlight(user, room, *through));
        table.retain_in::<&[u8], _>(start.as_slice()..=end.as_slice(), |_, _| false)?;
        return Ok(());
    }
    let k = key_of(touched)?;
    match snapshot.row(touched) {
        Some(row) => {
            table.insert(k.as_slice(), encode_row(row)?.as_slice())?;
        }
        None => {
            table.remove(k.as_slice())?;
        }
    }
    Ok(())
}

/// Splits a `highlights` key: `user 0x00 room 0x00 seq`.
pub(crate) fn split_highlight(k: &[u8]) -> Result<(UserName, RoomKey, u64), StoreError> {
    let (user, rest) = key::split("highlights", k)?;
    let (room, seq) = key::split("highlights", rest)?;
    Ok((key::user("highlights", user)?, key::room("highlights", room)?, key::trailing_u64("highlights", seq)?))
}
