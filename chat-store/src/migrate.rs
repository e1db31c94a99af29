//! Schema migrations, each one durable transaction run by `Store::open` on an older file.
//!
//! v1 → v2: the highlights of a read cursor leave its row. A v1 `reads` value is
//! `{seq, highlights: [seq…]}`, rewritten whole on every mention; v2 keeps `{seq}` there and one
//! empty-valued row per highlight in `highlights` (`user 0x00 room 0x00 seq`), written when the
//! mention is folded and range-deleted when the cursor passes it.
//!
//! v3 → v4: events are numbered. Until v4 a room's only events were its messages, so every
//! message's `rev` is its `seq` and every room's `last_rev` its `last_seq`. Each `messages` value
//! becomes the v4 layout (`[timestamp, sender, content, mentions, client_id, rev, edited_at,
//! deleted_at, reply_to, reactions, changed]`, nothing edited, deleted or reacted to); each room
//! row gains `last_rev`; the `changes` and `deleted` tables are created empty.

use chat_core::fold::ReadRow;
use redb::{Database, ReadableTable};
use serde::Deserialize;

use crate::error::StoreError;
use crate::{key, table};

/// Where the file of version `version` is kept before it is migrated: `<file>.v<version>.bak`.
pub(crate) fn backup_path(path: &std::path::Path, version: u32) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".v{version}.bak"));
    name.into()
}

/// A v1 `reads` value.
#[derive(Deserialize)]
struct ReadV1 {
    seq: u64,
    #[serde(default)]
    highlights: Vec<u64>,
}

/// Moves every read row's highlights into the `highlights` table and sets the version to 2, in
/// one transaction: a crash leaves the file at v1, and the next open migrates again.
pub(crate) fn v1_to_v2(db: &Database) -> Result<(), StoreError> {
    let txn = db.begin_write()?;
    {
        let mut reads = txn.open_table(table::READS)?;
        let mut highlights = txn.open_table(table::HIGHLIGHTS)?;
        let mut rows = Vec::new();
        for row in reads.iter()? {
            let (k, v) = row?;
            rows.push((k.value().to_vec(), table::decode::<ReadV1>("reads", v.value())?));
        }
        for (k, read) in rows {
            let (user, room) = key::split("reads", &k)?;
            let (user, room) = (key::user("reads", user)?, key::room("reads", room)?);
            for seq in read.highlights.into_iter().filter(|&seq| seq > read.seq && !room.is_dm()) {
                highlights.insert(key::highlight(&user, &room, seq).as_slice(), [].as_slice())?;
            }
            let value = table::encode("read cursor", &ReadRow { seq: read.seq })?;
            reads.insert(k.as_slice(), value.as_slice())?;
        }
    }
    {
        // Every other table is unchanged; create any that a v1 file lacks.
        for def in table::ALL {
            txn.open_table(def)?;
        }
        txn.open_table(table::META)?.insert(table::SCHEMA_VERSION_KEY, 2u32.to_be_bytes().as_slice())?;
    }
    txn.commit()?;
    Ok(())
}

/// A v3 (and v2) `messages` value: `[timestamp, sender, content, mentions, client_id]`.
#[derive(Deserialize)]
struct MessageV3 {
    timestamp: chat_core::Timestamp,
    sender: chat_core::UserName,
    content: String,
    mentions: Vec<chat_core::UserName>,
    client_id: Option<String>,
}

/// A v3 (and v2) room row, as it is read and written again with `last_rev` (named fields).
#[derive(Deserialize, serde::Serialize)]
struct RoomV3 {
    kind: chat_core::RoomKind,
    owner: Option<chat_core::UserName>,
    created: chat_core::Timestamp,
    members: std::collections::BTreeSet<chat_core::UserName>,
    last_seq: u64,
    last_timestamp: chat_core::Timestamp,
    #[serde(default)]
    last_rev: u64,
}

/// Numbers the events of a v3 file and sets the version to 4, in one transaction: a crash
/// leaves the file at v3, and the next open migrates again.
pub(crate) fn v3_to_v4(db: &Database) -> Result<(), StoreError> {
    let txn = db.begin_write()?;
    {
        let mut messages = txn.open_table(table::MESSAGES)?;
        let mut rows = Vec::new();
        for row in messages.iter()? {
            let (k, v) = row?;
            rows.push((k.value().to_vec(), table::decode::<MessageV3>("messages", v.value())?));
        }
        for (k, m) in rows {
            let (_, seq) = key::split("messages", &k)?;
            let seq = key::trailing_u64("messages", seq)?;
            let stored = table::StoredMessage {
                attachments: Vec::new(),
                timestamp: m.timestamp,
                sender: m.sender,
                content: m.content,
                mentions: m.mentions,
                client_id: m.client_id,
                rev: seq,
                edited_at: None,
                deleted_at: None,
                reply_to: None,
                reactions: Vec::new(),
                changed: 0,
            };
            messages.insert(k.as_slice(), table::encode_message(&stored)?.as_slice())?;
        }
        let mut rooms = txn.open_table(table::ROOMS)?;
        let mut rows = Vec::new();
        for row in rooms.iter()? {
            let (k, v) = row?;
            rows.push((k.value().to_vec(), table::decode::<RoomV3>("rooms", v.value())?));
        }
        for (k, mut room) in rows {
            room.last_rev = room.last_seq;
            rooms.insert(k.as_slice(), table::encode("room", &room)?.as_slice())?;
        }
    }
    for def in table::ALL {
        txn.open_table(def)?;
    }
    txn.open_table(table::META)?.insert(table::SCHEMA_VERSION_KEY, 4u32.to_be_bytes().as_slice())?;
    txn.commit()?;
    Ok(())
}
