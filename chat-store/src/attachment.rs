//! Attachment metadata for the reference server (schema v5): same file, own tables, each call one
//! durable transaction. The bytes live in files beside the database (the server's business);
//! these tables say who uploaded what, and which messages reference it.
//!
//! | table                | key                               | value                     |
//! |----------------------|-----------------------------------|---------------------------|
//! | `attachments`        | id (32 bytes, the SHA-256)        | [`AttachmentRecord`]      |
//! | `attachment_uploads` | `user 0x00 id`                    | [`Upload`]                |
//! | `attachment_refs`    | `id room 0x00 seq`                | empty (a referencing, non-deleted message) |
//!
//! Invariants: an `attachment_uploads` row has its `attachments` row, and the record lists its
//! uploader; `attachment_refs` rows are written in the transaction that appends the message and
//! removed in the one that deletes it, so "referenced" means "a non-deleted message holds it".

use chat_core::attachment::{Attachment, AttachmentId};
use chat_core::{RoomKey, Timestamp, UserName};
use redb::{ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::store::Store;
use crate::{key, table};

pub(crate) const ATTACHMENTS: table::Def = TableDefinition::new("attachments");
pub(crate) const UPLOADS: table::Def = TableDefinition::new("attachment_uploads");
pub(crate) const REFS: table::Def = TableDefinition::new("attachment_refs");

/// What the store knows about one stored file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AttachmentRecord {
    /// Bytes.
    pub size: u64,
    /// The media type sniffed from the bytes.
    pub content_type: String,
    /// Pixels across (images).
    #[serde(default)]
    pub width: Option<u32>,
    /// Pixels down (images).
    #[serde(default)]
    pub height: Option<u32>,
    /// The media type of its thumbnail, when it has one.
    #[serde(default)]
    pub thumbnail: Option<String>,
    /// When it was first stored.
    pub created: Timestamp,
    /// The last upload, claim (a `send_message` resolving it) or release (a deletion of a
    /// message holding it): garbage collection waits a grace period after it.
    pub touched: Timestamp,
    /// Everyone who uploaded these bytes (a file is stored once, however many upload it).
    #[serde(default)]
    pub uploaders: Vec<UserName>,
}

impl AttachmentRecord {
    /// A record for a file first stored at `now`.
    pub fn new(size: u64, content_type: impl Into<String>, now: Timestamp) -> AttachmentRecord {
        AttachmentRecord {
            size,
            content_type: content_type.into(),
            width: None,
            height: None,
            thumbnail: None,
            created: now,
            touched: now,
            uploaders: Vec::new(),
        }
    }

    /// With image dimensions.
    pub fn with_dimensions(mut self, width: u32, height: u32) -> AttachmentRecord {
        (self.width, self.height) = (Some(width), Some(height));
        self
    }

    /// With a thumbnail of this media type.
    pub fn with_thumbnail(mut self, content_type: impl Into<String>) -> AttachmentRecord {
        self.thumbnail = Some(content_type.into());
        self
    }
}

/// One user's upload of a file: the name they gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Upload {
    /// The sanitised file name.
    pub name: String,
    /// When they uploaded it.
    pub created: Timestamp,
}

/// Why [`Store::add_attachment`] refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AddAttachmentError {
    /// The upload would take the user past their quota.
    #[error("quota exceeded: {used} of {quota} bytes used")]
    QuotaExceeded {
        /// Bytes the user's uploads take now.
        used: u64,
        /// Their quota.
        quota: u64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<redb::Error> for AddAttachmentError {
    fn from(e: redb::Error) -> AddAttachmentError {
        AddAttachmentError::Store(e.into())
    }
}

/// The attachment a message would carry: metadata and the uploader's name for it.
fn attachment_of(id: AttachmentId, record: &AttachmentRecord, upload: &Upload) -> Attachment {
    Attachment {
        id,
        name: upload.name.clone(),
        size: record.size,
        content_type: record.content_type.clone(),
        width: record.width,
        height: record.height,
    }
}

fn upload_key(user: &UserName, id: &AttachmentId) -> Vec<u8> {
    key::name_bytes(user.as_str(), id.as_bytes())
}

/// `id room 0x00 seq`.
pub(crate) fn ref_key(id: &AttachmentId, room: &RoomKey, seq: u64) -> Vec<u8> {
    let mut k = id.as_bytes().to_vec();
    k.extend_from_slice(&key::message(room, seq));
    k
}

/// The key range of every `attachment_refs` row of `id`.
fn refs_range(id: &AttachmentId) -> (Vec<u8>, Vec<u8>) {
    let start = id.as_bytes().to_vec();
    let mut end = start.clone();
    end.push(0xff);
    (start, end)
}

fn decode_id(table: &'static str, bytes: &[u8]) -> Result<AttachmentId, StoreError> {
    let digest: [u8; 32] = bytes.try_into().map_err(|_| key::corrupt(table, "id is not 32 bytes"))?;
    Ok(AttachmentId::from_bytes(digest))
}

fn record_in(txn: &WriteTransaction, id: &AttachmentId) -> Result<Option<AttachmentRecord>, StoreError> {
    let attachments = txn.open_table(ATTACHMENTS)?;
    let value = attachments.get(id.as_bytes().as_slice())?;
    value.map(|v| table::decode("attachments", v.value())).transpose()
}

fn put_record(txn: &WriteTransaction, id: &AttachmentId, record: &AttachmentRecord) -> Result<(), StoreError> {
    let value = table::encode("attachment", record)?;
    txn.open_table(ATTACHMENTS)?.insert(id.as_bytes().as_slice(), value.as_slice())?;
    Ok(())
}

/// Bytes the uploads of `user` take (a file counts once per uploader).
fn usage_in(
    uploads: &impl ReadableTable<&'static [u8], &'static [u8]>,
    attachments: &impl ReadableTable<&'static [u8], &'static [u8]>,
    user: &UserName,
) -> Result<u64, StoreError> {
    let start = key::name_bytes(user.as_str(), &[]);
    let end = key::name_bytes(user.as_str(), &[0xff; 33]);
    let mut used = 0u64;
    for row in uploads.range::<&[u8]>(start.as_slice()..end.as_slice())? {
        let (k, _) = row?;
        let id = decode_id("attachment_uploads", &k.value()[start.len()..])?;
        if let Some(v) = attachments.get(id.as_bytes().as_slice())? {
            used = used.saturating_add(table::decode::<AttachmentRecord>("attachments", v.value())?.size);
        }
    }
    Ok(used)
}

/// Adds the references of a newly stored message (in the journal's append transaction).
pub(crate) fn add_refs(
    txn: &WriteTransaction,
    room: &RoomKey,
    seq: u64,
    ids: &[AttachmentId],
) -> Result<(), StoreError> {
    let mut refs = txn.open_table(REFS)?;
    for id in ids {
        refs.insert(ref_key(id, room, seq).as_slice(), [].as_slice())?;
    }
    Ok(())
}

/// Releases the references of a deleted message (in the journal's append transaction); each
/// released file's grace period starts again at `now`.
pub(crate) fn release_refs(
    txn: &WriteTransaction,
    room: &RoomKey,
    seq: u64,
    ids: &[AttachmentId],
    now: Timestamp,
) -> Result<(), StoreError> {
    for id in ids {
        txn.open_table(REFS)?.remove(ref_key(id, room, seq).as_slice())?;
        if let Some(mut record) = record_in(txn, id)? {
            record.touched = record.touched.max(now);
            put_record(txn, id, &record)?;
        }
    }
    Ok(())
}

impl Store {
    /// The record of a stored file.
    pub fn attachment(&self, id: &AttachmentId) -> Result<Option<AttachmentRecord>, StoreError> {
        self.read(|txn| {
            let attachments = txn.open_table(ATTACHMENTS)?;
            let value = attachments.get(id.as_bytes().as_slice())?;
            value.map(|v| table::decode("attachments", v.value())).transpose()
        })
    }

    /// The upload of `id` by `user`, if they uploaded it.
    pub fn attachment_upload(&self, user: &UserName, id: &AttachmentId) -> Result<Option<Upload>, StoreError> {
        self.read(|txn| {
            let uploads = txn.open_table(UPLOADS)?;
            let value = uploads.get(upload_key(user, id).as_slice())?;
            value.map(|v| table::decode("attachment_uploads", v.value())).transpose()
        })
    }

    /// Bytes the uploads of `user` take now.
    pub fn attachment_usage(&self, user: &UserName) -> Result<u64, StoreError> {
        self.read(|txn| usage_in(&txn.open_table(UPLOADS)?, &txn.open_table(ATTACHMENTS)?, user))
    }

    /// Records that `user` uploaded the file `id` under `name`: creates its record from
    /// `record` if the file is new (else keeps the stored one and touches it), and the upload
    /// row. Refused when the user's uploads would then take more than `quota` bytes (a file
    /// they uploaded before costs nothing again). Returns the attachment as a message carries it.
    pub fn add_attachment(
        &self,
        user: &UserName,
        id: &AttachmentId,
        name: &str,
        record: AttachmentRecord,
        quota: u64,
    ) -> Result<Attachment, AddAttachmentError> {
        let now = record.created;
        self.write(|txn| {
            let mut stored = record_in(txn, id)?.unwrap_or(record);
            let mut uploads = txn.open_table(UPLOADS)?;
            let key = upload_key(user, id);
            let again = uploads.get(key.as_slice())?.is_some();
            if !again {
                let used = usage_in(&uploads, &txn.open_table(ATTACHMENTS)?, user)?;
                if used.saturating_add(stored.size) > quota {
                    return Ok(Err(AddAttachmentError::QuotaExceeded { used, quota }));
                }
            }
            let upload = Upload { name: name.to_owned(), created: now };
            uploads.insert(key.as_slice(), table::encode("upload", &upload)?.as_slice())?;
            if !stored.uploaders.contains(user) {
                stored.uploaders.push(user.clone());
            }
            stored.touched = stored.touched.max(now);
            put_record(txn, id, &stored)?;
            Ok(Ok(attachment_of(*id, &stored, &upload)))
        })?
    }

    /// Resolves the ids of a message `user` is sending: for each id, the attachment if `user`
    /// uploaded it (else `None`). Each resolved file is touched at `now`, so garbage collection
    /// leaves it alone for a grace period while the message is committed.
    pub fn claim_attachments(
        &self,
        user: &UserName,
        ids: &[AttachmentId],
        now: Timestamp,
    ) -> Result<Vec<Option<Attachment>>, StoreError> {
        self.write(|txn| {
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                let upload = {
                    let uploads = txn.open_table(UPLOADS)?;
                    let value = uploads.get(upload_key(user, id).as_slice())?;
                    value.map(|v| table::decode::<Upload>("attachment_uploads", v.value())).transpose()?
                };
                let (Some(upload), Some(mut record)) = (upload, record_in(txn, id)?) else {
                    out.push(None);
                    continue;
                };
                record.touched = record.touched.max(now);
                put_record(txn, id, &record)?;
                out.push(Some(attachment_of(*id, &record, &upload)));
            }
            Ok(out)
        })
    }

    /// Up to `limit` non-deleted messages that hold `id`, as `(room, seq)`, in key order.
    pub fn attachment_refs(&self, id: &AttachmentId, limit: usize) -> Result<Vec<(RoomKey, u64)>, StoreError> {
        self.read(|txn| {
            let refs = txn.open_table(REFS)?;
            let (start, end) = refs_range(id);
            let mut out = Vec::new();
            for row in refs.range::<&[u8]>(start.as_slice()..end.as_slice())?.take(limit) {
                let (k, _) = row?;
                let (room, seq) = key::split("attachment_refs", &k.value()[32..])?;
                out.push((key::room("attachment_refs", room)?, key::trailing_u64("attachment_refs", seq)?));
            }
            Ok(out)
        })
    }

    /// Forgets up to `limit` files that no message references and nobody touched in the last
    /// `grace_ms` before `now` (their records and upload rows); returns their ids, for the
    /// caller to delete the files.
    pub fn collect_attachments(
        &self,
        now: Timestamp,
        grace_ms: u64,
        limit: usize,
    ) -> Result<Vec<AttachmentId>, StoreError> {
        self.write(|txn| {
            let mut doomed = Vec::new();
            {
                let attachments = txn.open_table(ATTACHMENTS)?;
                let refs = txn.open_table(REFS)?;
                for row in attachments.iter()? {
                    if doomed.len() >= limit {
                        break;
                    }
                    let (k, v) = row?;
                    let id = decode_id("attachments", k.value())?;
                    let record: AttachmentRecord = table::decode("attachments", v.value())?;
                    if record.touched.0.saturating_add(grace_ms) > now.0 {
                        continue;
                    }
                    let (start, end) = refs_range(&id);
                    if refs.range::<&[u8]>(start.as_slice()..end.as_slice())?.next().is_some() {
                        continue;
                    }
                    doomed.push((id, record.uploaders));
                }
            }
            let mut attachments = txn.open_table(ATTACHMENTS)?;
            let mut uploads = txn.open_table(UPLOADS)?;
            for (id, uploaders) in &doomed {
                attachments.remove(id.as_bytes().as_slice())?;
                for user in uploaders {
                    uploads.remove(upload_key(user, id).as_slice())?;
                }
            }
            Ok(doomed.into_iter().map(|(id, _)| id).collect())
        })
    }

    /// Every stored file's id (for a start-up check of the attachment directory).
    pub fn attachment_ids(&self) -> Result<Vec<AttachmentId>, StoreError> {
        self.read(|txn| {
            let mut out = Vec::new();
            for row in txn.open_table(ATTACHMENTS)?.iter()? {
                let (k, _) = row?;
                out.push(decode_id("attachments", k.value())?);
            }
            Ok(out)
        })
    }
}

/// v4 → v5: creates the attachment tables, empty, and sets the version to 5, in one
/// transaction: a crash leaves the file at v4, and the next open migrates again.
pub(crate) fn v4_to_v5(db: &redb::Database) -> Result<(), StoreError> {
    let txn = db.begin_write()?;
    {
        for def in table::ALL {
            txn.open_table(def)?;
        }
        txn.open_table(table::META)?.insert(table::SCHEMA_VERSION_KEY, 5u32.to_be_bytes().as_slice())?;
    }
    txn.commit()?;
    Ok(())
}
