//! Schema migrations, each one durable transaction run by `Store::open` on an older file.
//!
//! v1 → v2: the highlights of a read cursor leave its row. A v1 `reads` value is
//! `{seq, highlights: [seq…]}`, rewritten whole on every mention; v2 keeps `{seq}` there and one
//! empty-valued row per highlight in `highlights` (`user 0x00 room 0x00 seq`), written when the
//! mention is folded and range-deleted when the cursor passes it.

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
