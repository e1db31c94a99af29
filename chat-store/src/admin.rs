//! What administrators keep in the reference server's file (schema v3): invite codes, password
//! reset codes and the audit log.
//!
//! | table     | key                      | value            |
//! |-----------|--------------------------|------------------|
//! | `invites` | code hash (32 bytes)     | [`Invite`]       |
//! | `resets`  | `user`                   | [`ResetCode`]    |
//! | `audit`   | id (`u64` big-endian)    | [`AuditEntry`]   |
//!
//! Codes are stored by their SHA-256, like tokens: a copy of the file does not hand them out.

use chat_core::{Timestamp, UserName};
use redb::{ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::store::Store;
use crate::table;

pub(crate) const INVITES: table::Def = TableDefinition::new("invites");
pub(crate) const RESETS: table::Def = TableDefinition::new("resets");
pub(crate) const AUDIT: table::Def = TableDefinition::new("audit");

/// An invite code (stored under its hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Invite {
    /// Who made it.
    pub created_by: UserName,
    /// When.
    pub created: Timestamp,
    /// Sign-ups it still allows.
    pub uses_left: u32,
    /// Sign-ups it allowed so far.
    pub used: u32,
    /// When it stops working, if ever.
    pub expires: Option<Timestamp>,
}

impl Invite {
    /// A fresh invite for `uses` sign-ups.
    pub fn new(created_by: UserName, created: Timestamp, uses: u32, expires: Option<Timestamp>) -> Invite {
        Invite { created_by, created, uses_left: uses, used: 0, expires }
    }

    /// Whether it admits one more sign-up at `now`.
    pub fn usable(&self, now: Timestamp) -> bool {
        self.uses_left > 0 && self.expires.is_none_or(|e| now < e)
    }
}

/// A one-time password reset code made by an administrator for a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ResetCode {
    /// SHA-256 of the code.
    pub code_hash: [u8; 32],
    /// Who made it.
    pub created_by: UserName,
    /// When.
    pub created: Timestamp,
    /// When it stops working.
    pub expires: Timestamp,
}

impl ResetCode {
    /// A code (by hash) for use until `expires`.
    pub fn new(code_hash: [u8; 32], created_by: UserName, created: Timestamp, expires: Timestamp) -> ResetCode {
        ResetCode { code_hash, created_by, created, expires }
    }
}

/// One administrative action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AuditEntry {
    /// Increasing, from 1 (assigned by [`Store::append_audit`]).
    pub id: u64,
    /// When.
    pub at: Timestamp,
    /// Who did it (an administrator, or `None` for the command line).
    pub actor: Option<UserName>,
    /// What (`disable`, `invite_create`, …).
    pub action: String,
    /// On whom or what.
    pub target: Option<String>,
    /// Anything else worth keeping.
    pub detail: Option<String>,
}

impl AuditEntry {
    /// An entry to append (its id is assigned then).
    pub fn new(
        at: Timestamp,
        actor: Option<UserName>,
        action: impl Into<String>,
        target: Option<String>,
    ) -> AuditEntry {
        AuditEntry { id: 0, at, actor, action: action.into(), target, detail: None }
    }

    /// With a detail.
    pub fn with_detail(mut self, detail: impl Into<String>) -> AuditEntry {
        self.detail = Some(detail.into());
        self
    }
}

/// What [`Store::redeem_reset`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Redeemed {
    /// The password was replaced; these tokens were deleted (every session of the user).
    Done(Vec<[u8; 32]>),
    /// No such code for that user, or it expired (an expired one is deleted).
    Invalid,
}

impl Store {
    /// Stores a new invite, unless `max_live` invites are stored already (`false`).
    pub fn create_invite(&self, code_hash: [u8; 32], invite: &Invite, max_live: usize) -> Result<bool, StoreError> {
        self.write(|txn| {
            let mut invites = txn.open_table(INVITES)?;
            if invites.len()? >= max_live as u64 {
                return Ok(false);
            }
            invites.insert(code_hash.as_slice(), table::encode("invite", invite)?.as_slice())?;
            Ok(true)
        })
    }

    /// Every stored invite, by code hash.
    pub fn invites(&self) -> Result<Vec<([u8; 32], Invite)>, StoreError> {
        self.read(|txn| {
            let mut out = Vec::new();
            for row in txn.open_table(INVITES)?.iter()? {
                let (k, v) = row?;
                let hash = <[u8; 32]>::try_from(k.value())
                    .map_err(|_| crate::key::corrupt("invites", "key is not a 32-byte hash"))?;
                out.push((hash, table::decode("invites", v.value())?));
            }
            Ok(out)
        })
    }

    /// Deletes the invites whose code hash starts with `prefix` (an id shown to administrators);
    /// how many.
    pub fn revoke_invite(&self, prefix: &[u8]) -> Result<usize, StoreError> {
        self.write(|txn| {
            let mut invites = txn.open_table(INVITES)?;
            let mut doomed = Vec::new();
            for row in invites.iter()? {
                let (k, _) = row?;
                if !prefix.is_empty() && k.value().starts_with(prefix) {
                    doomed.push(k.value().to_vec());
                }
            }
            for k in &doomed {
                invites.remove(k.as_slice())?;
            }
            Ok(doomed.len())
        })
    }

    /// Deletes invites that are used up or expired at `now`; how many.
    pub fn delete_spent_invites(&self, now: Timestamp) -> Result<usize, StoreError> {
        self.write(|txn| {
            let mut invites = txn.open_table(INVITES)?;
            let mut doomed = Vec::new();
            for row in invites.iter()? {
                let (k, v) = row?;
                if table::decode::<Invite>("invites", v.value()).is_ok_and(|i| !i.usable(now)) {
                    doomed.push(k.value().to_vec());
                }
            }
            for k in &doomed {
                invites.remove(k.as_slice())?;
            }
            Ok(doomed.len())
        })
    }

    /// Stores `user`'s reset code (replacing an earlier one); `false` when there is no such
    /// undeleted account.
    pub fn put_reset(&self, user: &UserName, code: &ResetCode) -> Result<bool, StoreError> {
        self.write(|txn| {
            let accounts = txn.open_table(table::ACCOUNTS)?;
            let Some(v) = accounts.get(user.as_str().as_bytes())? else { return Ok(false) };
            let account: crate::Account = table::decode("accounts", v.value())?;
            if account.deleted.is_some() {
                return Ok(false);
            }
            txn.open_table(RESETS)?.insert(user.as_str().as_bytes(), table::encode("reset", code)?.as_slice())?;
            Ok(true)
        })
    }

    /// Redeems `user`'s reset code in one transaction: when `code_hash` matches and has not
    /// expired, sets the password hash, deletes the code and every token of the user.
    pub fn redeem_reset(
        &self,
        user: &UserName,
        code_hash: &[u8; 32],
        password_hash: &str,
        now: Timestamp,
    ) -> Result<Redeemed, StoreError> {
        self.write(|txn| {
            let mut resets = txn.open_table(RESETS)?;
            let Some(v) = resets.get(user.as_str().as_bytes())?.map(|v| v.value().to_vec()) else {
                return Ok(Redeemed::Invalid);
            };
            let code: ResetCode = table::decode("resets", &v)?;
            if now >= code.expires {
                resets.remove(user.as_str().as_bytes())?;
                return Ok(Redeemed::Invalid);
            }
            if !constant_time_eq(&code.code_hash, code_hash) {
                return Ok(Redeemed::Invalid);
            }
            resets.remove(user.as_str().as_bytes())?;
            drop(resets);
            match crate::account::set_password_in(txn, user, password_hash, None)? {
                Some(tokens) => Ok(Redeemed::Done(tokens)),
                None => Ok(Redeemed::Invalid),
            }
        })
    }

    /// Appends an audit entry (assigning its id) and drops the oldest beyond `keep`; returns
    /// the id.
    pub fn append_audit(&self, entry: &AuditEntry, keep: usize) -> Result<u64, StoreError> {
        self.write(|txn| {
            let mut audit = txn.open_table(AUDIT)?;
            let last = audit.last()?.map(|(k, _)| k.value().to_vec());
            let id = match last {
                Some(k) => {
                    u64::from_be_bytes(
                        k.as_slice().try_into().map_err(|_| crate::key::corrupt("audit", "key is not a u64"))?,
                    ) + 1
                }
                None => 1,
            };
            let entry = AuditEntry { id, ..entry.clone() };
            audit.insert(id.to_be_bytes().as_slice(), table::encode("audit entry", &entry)?.as_slice())?;
            let excess = audit.len()?.saturating_sub(keep as u64);
            for _ in 0..excess {
                audit.pop_first()?;
            }
            Ok(id)
        })
    }

    /// Up to `limit` audit entries with an id below `before` (all when `None`), newest first.
    pub fn audit(&self, before: Option<u64>, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        self.read(|txn| {
            let audit = txn.open_table(AUDIT)?;
            let end = before.unwrap_or(u64::MAX).to_be_bytes();
            let mut out = Vec::new();
            for row in audit.range::<&[u8]>(..end.as_slice())?.rev().take(limit) {
                let (_, v) = row?;
                out.push(table::decode("audit", v.value())?);
            }
            Ok(out)
        })
    }
}

/// Spends one use of the invite stored under `code`; `false` when it is unknown, used up or
/// expired.
pub(crate) fn spend_invite(txn: &WriteTransaction, code: &[u8; 32], now: Timestamp) -> Result<bool, StoreError> {
    let mut invites = txn.open_table(INVITES)?;
    let Some(v) = invites.get(code.as_slice())?.map(|v| v.value().to_vec()) else { return Ok(false) };
    let mut invite: Invite = table::decode("invites", &v)?;
    if !invite.usable(now) {
        return Ok(false);
    }
    invite.uses_left -= 1;
    invite.used += 1;
    invites.insert(code.as_slice(), table::encode("invite", &invite)?.as_slice())?;
    Ok(true)
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
