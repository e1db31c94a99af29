//! The journal-facing view of the fold: the rows a store keeps in tables, and which rows a log
//! entry changed.
//!
//! [`Snapshot::apply`] is the only code that interprets a [`LogEntry`]. A
//! journal that materialises the fold (so start-up reads state instead of replaying messages)
//! applies each entry with [`Snapshot::apply_with`], which reports every [`Touched`] key; it then
//! rewrites the [`Row`] under each key ([`Snapshot::row`]), or deletes it when there is none. At
//! start-up it hands the rows back to a [`Builder`], which checks them and gives the
//! [`Snapshot`]. Nothing else of the snapshot's layout is visible outside the core.
//!
//! # Format, version 3 ([`FOLD_FORMAT_VERSION`])
//!
//! Row values are serde types; their serialized shape (field names and meaning) is the format.
//! A change that an old reader would misread (a field removed or changing meaning, a new kind of
//! row) bumps [`FOLD_FORMAT_VERSION`]; an added field with a serde default does not. A store
//! that writes rows in its own encoding keys its schema version to this one.
//!
//! | row | key | value |
//! |---|---|---|
//! | user | [`Touched::User`] `(user)` | [`UserState`]: `rooms` (sorted room keys), `next_notification`, `oldest_notification`, `unread_notifications`, `next_client_id`, `oldest_client_id` |
//! | room | [`Touched::Room`] `(room)` | [`RoomState`]: `kind`, `owner`, `created`, `members` (sorted), `last_seq`, `last_timestamp`, `last_rev` (the room's latest event) |
//! | read | [`Touched::Read`] `(user, room)` | [`ReadRow`]: `seq` (the read cursor) |
//! | highlight | [`Touched::Highlight`] `(user, room, seq)` | none: the row exists while message `seq` mentions the user after their cursor (group rooms only; in a DM every unread message counts) |
//! | notification | [`Touched::Notification`] `(user, id)` | [`Notification`]; a user's ids ascend (a retracted one leaves a gap) |
//! | client id | [`Touched::ClientId`] `(user, position)` | `client_id` and its [`ClientIdRecord`]; a user's positions are consecutive |
//! | deleted | [`Touched::Deleted`] `(room, seq)` | none: the row exists once message `seq` is deleted (unread counts skip it) |
//!
//! [`Touched::HighlightsThrough`] `(user, room, n)` is a range, not a row: delete every highlight
//! row of `(user, room)` with `seq ≤ n`, before writing the batch's highlight rows (sorting the
//! touched keys puts it first). Each highlight is so written once and deleted once: the work per
//! entry is bounded, however many highlights a user collects.
//!
//! Version 2 had no `last_rev` (a room's events were its messages: `last_rev = last_seq`), no
//! deleted rows, and consecutive notification ids. Version 1 stored the highlights inside the read row (`{seq, highlights: [seq…]}`), rewritten
//! whole on every mention.
//!
//! A read row exists exactly while the user is a member of the room. A user's notification rows
//! are the ids `oldest_notification..next_notification` that are still kept, and their client-id
//! rows the positions `oldest_client_id..next_client_id`, a run without gaps; their
//! notification rows lie within `oldest_notification..next_notification`, ascending.

use crate::log::LogEntry;
use crate::name::UserName;
use crate::room::RoomKey;
use crate::snapshot::{Notification, Snapshot};

use serde::{Deserialize, Serialize};

use crate::snapshot::ReadState;
pub use crate::snapshot::{ClientIdRecord, ClientIdWindowError, RoomState, Touched, UserState};

/// The version of the row format described in the [module docs](self).
pub const FOLD_FORMAT_VERSION: u32 = 3;

/// The value of a read row: one member's read cursor in one room.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadRow {
    /// Everything up to and including this `seq` is read.
    pub seq: u64,
}

/// The value under a [`Touched`] key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Row<'a> {
    /// A user row.
    User(&'a UserState),
    /// A room row.
    Room(&'a RoomState),
    /// A read row.
    Read(ReadRow),
    /// A highlight row (it has no value).
    Highlight,
    /// A notification row.
    Notification(&'a Notification),
    /// A deletion row (it has no value).
    Deleted,
    /// A client-id row.
    ClientId {
        /// The sender's idempotency key.
        client_id: &'a str,
        /// What it maps to (its `position` is the row's key).
        record: &'a ClientIdRecord,
    },
}

impl Snapshot {
    /// The row under `key`, or `None` when the fold holds none (the journal deletes it).
    pub fn row(&self, key: &Touched) -> Option<Row<'_>> {
        match key {
            Touched::User(user) => self.users.get(user).map(Row::User),
            Touched::Room(room) => self.rooms.get(room).map(Row::Room),
            Touched::Read(user, room) => {
                self.reads.get(&(user.clone(), room.clone())).map(|read| Row::Read(ReadRow { seq: read.seq }))
            }
            Touched::Highlight(user, room, seq) => {
                let read = self.reads.get(&(user.clone(), room.clone()))?;
                read.highlights.binary_search(seq).is_ok().then_some(Row::Highlight)
            }
            Touched::HighlightsThrough(..) => None,
            Touched::Deleted(room, seq) => self.is_deleted(room, *seq).then_some(Row::Deleted),
            Touched::Notification(user, id) => self.notification(user, *id).map(Row::Notification),
            Touched::ClientId(user, position) => {
                let (client_id, record) = self.client_ids.get(user)?.at(*position)?;
                Some(Row::ClientId { client_id, record })
            }
        }
    }

    /// Applies every entry, reporting the touched keys of all of them (sorted, each once): what a
    /// journal rewrites after a batch.
    pub fn apply_batch(&mut self, entries: &[LogEntry]) -> Vec<Touched> {
        let mut touched = Vec::with_capacity(entries.len() * 4);
        for entry in entries {
            self.apply_with(entry, &mut |t| touched.push(t));
        }
        touched.sort_unstable();
        touched.dedup();
        touched
    }
}

/// Why a [`Builder`] refused a row: the rows do not describe a fold (a damaged or foreign
/// store).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RowError {
    /// A user's notification ids are not ascending.
    #[error("notification {id} of {user} does not follow the inbox (expected {expected})")]
    NotificationOutOfOrder {
        /// The user.
        user: UserName,
        /// The refused id.
        id: u64,
        /// The id that would have been accepted.
        expected: u64,
    },
    /// A highlight row of a user who is not a member (no read row), at or before their cursor,
    /// not after the previous one of the same room, or in a DM.
    #[error("highlight {seq} of {user} in {room} does not fit their cursor and earlier highlights")]
    Highlight {
        /// The user.
        user: UserName,
        /// The room.
        room: RoomKey,
        /// The refused `seq`.
        seq: u64,
    },
    /// A room's deletion rows are out of order (or name `seq` 0).
    #[error("deletion row {seq} of {room} is out of order")]
    Deleted {
        /// The room.
        room: RoomKey,
        /// The refused `seq`.
        seq: u64,
    },
    /// A user's client-id rows are out of order or repeat an id.
    #[error("client ids of {user}: {source}")]
    ClientId {
        /// The user.
        user: UserName,
        /// Which rule the row broke.
        #[source]
        source: ClientIdWindowError,
    },
}

/// Rebuilds a [`Snapshot`] from a journal's rows. Give each user's notification, client-id and
/// highlight rows in ascending key order (a store's range scan does), highlights after the read
/// rows; other rows in any order.
#[derive(Debug, Default)]
pub struct Builder {
    snapshot: Snapshot,
}

impl Builder {
    /// An empty builder.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// A user row.
    pub fn user(&mut self, user: UserName, state: UserState) {
        self.snapshot.users.insert(user, state);
    }

    /// A room row.
    pub fn room(&mut self, room: RoomKey, state: RoomState) {
        self.snapshot.rooms.insert(room, state);
    }

    /// A read row. Give it before the highlight rows of the same user and room.
    pub fn read(&mut self, user: UserName, room: RoomKey, row: ReadRow) {
        self.snapshot.reads.insert((user, room), ReadState { seq: row.seq, highlights: Default::default() });
    }

    /// A highlight row: the user's read row must be given, and `seq` follow their cursor and the
    /// previous highlight of the room.
    pub fn highlight(&mut self, user: UserName, room: RoomKey, seq: u64) -> Result<(), RowError> {
        let Some(read) = self.snapshot.reads.get_mut(&(user.clone(), room.clone())) else {
            return Err(RowError::Highlight { user, room, seq });
        };
        if seq <= read.seq || read.highlights.back().is_some_and(|&last| last >= seq) || room.is_dm() {
            return Err(RowError::Highlight { user, room, seq });
        }
        read.highlights.push_back(seq);
        Ok(())
    }

    /// A notification row: its id must be above the user's previous one.
    pub fn notification(&mut self, user: UserName, notification: Notification) -> Result<(), RowError> {
        let expected = self.snapshot.notifications.get(&user).and_then(|inbox| inbox.back()).map(|n| n.id + 1);
        if expected.is_some_and(|expected| notification.id < expected) {
            let expected = expected.unwrap_or_default();
            return Err(RowError::NotificationOutOfOrder { user, id: notification.id, expected });
        }
        self.snapshot.notifications.entry(user).or_default().push_back(notification);
        Ok(())
    }

    /// A client-id row: its position must follow the user's previous one, and the id be new.
    pub fn client_id(&mut self, user: UserName, client_id: &str, record: ClientIdRecord) -> Result<(), RowError> {
        let window = self.snapshot.client_ids.entry(user.clone()).or_default();
        window.append(client_id, record).map_err(|source| RowError::ClientId { user, source })
    }

    /// A deletion row: give a room's rows in ascending `seq` order.
    pub fn deleted(&mut self, room: RoomKey, seq: u64) -> Result<(), RowError> {
        let deleted = self.snapshot.deleted.entry(room.clone()).or_default();
        if deleted.last().is_some_and(|&last| last >= seq) || seq == 0 {
            return Err(RowError::Deleted { room, seq });
        }
        deleted.push(seq);
        Ok(())
    }

    /// The snapshot the rows describe.
    pub fn finish(self) -> Snapshot {
        self.snapshot
    }
}
