//! Accounts, login tokens (sessions) and small settings for the reference server: same file,
//! own tables, each call one durable transaction.
//!
//! | table         | key                          | value                                   |
//! |---------------|------------------------------|-----------------------------------------|
//! | `accounts`    | `user`                       | [`Account`]                             |
//! | `tokens`      | token hash (32 bytes)        | [`TokenRecord`]                         |
//! | `user_tokens` | `user 0x00 token hash`       | [`SessionMeta`] (the per-user index)    |
//! | `settings`    | key (UTF-8)                  | raw bytes                               |
//!
//! Invariant: a `tokens` row and its `user_tokens` row exist together (every call that writes
//! or deletes one does the other in the same transaction). Since schema v3.

use chat_core::{Timestamp, UserName};
use redb::{ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::store::Store;
use crate::{key, table};

/// The per-user index of tokens, with each session's last use (schema v3).
pub(crate) const USER_TOKENS: table::Def = TableDefinition::new("user_tokens");

/// A registered user (or the tombstone of a deleted one, which keeps the name taken).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Account {
    /// The user name (lower-case).
    pub user: UserName,
    /// The password hash (a PHC string, e.g. argon2id), never the password. Empty for a deleted
    /// account (nothing verifies against it).
    pub password_hash: String,
    /// When the account was created.
    pub created: Timestamp,
    /// A server administrator (since v3).
    #[serde(default)]
    pub admin: bool,
    /// Disabled by an administrator: cannot log in, has no tokens (since v3).
    #[serde(default)]
    pub disabled: bool,
    /// When its owner deleted it; the row stays so the name is never reused (since v3).
    #[serde(default)]
    pub deleted: Option<Timestamp>,
    /// The last time one of its sessions was used, as last flushed (since v3).
    #[serde(default)]
    pub last_seen: Option<Timestamp>,
}

impl Account {
    /// Neither disabled nor deleted: may log in and use its tokens.
    pub fn is_active(&self) -> bool {
        !self.disabled && self.deleted.is_none()
    }
}

/// A login token, stored under the hash of the token (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Whose token it is.
    pub user: UserName,
    /// When it was issued.
    pub created: Timestamp,
    /// When it stops being valid (the server checks; the store only stores).
    pub expires: Timestamp,
}

/// What the server remembers about a session's use (the `user_tokens` value).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SessionMeta {
    /// When it was last used (as last flushed).
    #[serde(default)]
    pub last_used: Option<Timestamp>,
    /// The client address it was last used from.
    #[serde(default)]
    pub address: Option<String>,
    /// The `User-Agent` it was last used with.
    #[serde(default)]
    pub user_agent: Option<String>,
}

impl SessionMeta {
    /// A session used at `at` from `address` with `user_agent`.
    pub fn seen(at: Timestamp, address: Option<String>, user_agent: Option<String>) -> SessionMeta {
        SessionMeta { last_used: Some(at), address, user_agent }
    }

    /// This newer use, keeping what `older` knew where this one knows nothing (a request
    /// without a `User-Agent` does not erase the one seen before).
    pub fn over(self, older: &SessionMeta) -> SessionMeta {
        SessionMeta {
            last_used: self.last_used.max(older.last_used),
            address: self.address.or_else(|| older.address.clone()),
            user_agent: self.user_agent.or_else(|| older.user_agent.clone()),
        }
    }
}

/// One session of a user: its token hash, record and use.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Session {
    /// The token's hash (the `tokens` key).
    pub token_hash: [u8; 32],
    /// The token record.
    pub record: TokenRecord,
    /// Its last use.
    pub meta: SessionMeta,
}

/// A new account to create.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NewAccount<'a> {
    /// The name (already validated).
    pub user: &'a UserName,
    /// Its password hash.
    pub password_hash: &'a str,
    /// Now.
    pub now: Timestamp,
    /// Consume one use of the invite stored under this code hash (refused when it is unknown,
    /// used up or expired).
    pub invite: Option<[u8; 32]>,
}

impl<'a> NewAccount<'a> {
    /// An account with no invite.
    pub fn new(user: &'a UserName, password_hash: &'a str, now: Timestamp) -> NewAccount<'a> {
        NewAccount { user, password_hash, now, invite: None }
    }

    /// Spends an invite.
    pub fn with_invite(mut self, code_hash: [u8; 32]) -> NewAccount<'a> {
        self.invite = Some(code_hash);
        self
    }
}

/// What [`Store::register_account`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Registered {
    /// Created; `admin` when it is the first account of the database.
    Created {
        /// The first account of an empty database is an administrator.
        admin: bool,
    },
    /// The name is taken (by an account or a deleted account's tombstone); nothing changed.
    NameTaken,
    /// The invite is unknown, used up or expired; nothing changed.
    InvalidInvite,
}

impl Store {
    /// Creates an account (no invite). Returns `false`, changing nothing, if the name is taken.
    pub fn create_account(&self, user: &UserName, password_hash: &str, now: Timestamp) -> Result<bool, StoreError> {
        let outcome = self.register_account(&NewAccount::new(user, password_hash, now))?;
        Ok(matches!(outcome, Registered::Created { .. }))
    }

    /// Creates an account in one transaction: spends one use of its invite (if any) and makes
    /// it an administrator when the `accounts` table was empty.
    pub fn register_account(&self, new: &NewAccount<'_>) -> Result<Registered, StoreError> {
        self.write(|txn| {
            let mut accounts = txn.open_table(table::ACCOUNTS)?;
            let key = new.user.as_str().as_bytes();
            if accounts.get(key)?.is_some() {
                return Ok(Registered::NameTaken);
            }
            if let Some(code) = &new.invite
                && !crate::admin::spend_invite(txn, code, new.now)?
            {
                return Ok(Registered::InvalidInvite);
            }
            let admin = accounts.is_empty()?;
            let account = Account {
                user: new.user.clone(),
                password_hash: new.password_hash.to_owned(),
                created: new.now,
                admin,
                disabled: false,
                deleted: None,
                last_seen: None,
            };
            accounts.insert(key, table::encode("account", &account)?.as_slice())?;
            Ok(Registered::Created { admin })
        })
    }

    /// The account of `user`, if registered (deleted accounts included: see
    /// [`Account::deleted`]).
    pub fn account(&self, user: &UserName) -> Result<Option<Account>, StoreError> {
        self.read(|txn| {
            let accounts = txn.open_table(table::ACCOUNTS)?;
            let value = accounts.get(user.as_str().as_bytes())?;
            value.map(|v| table::decode("accounts", v.value())).transpose()
        })
    }

    /// Up to `limit` accounts after `after`, in name order.
    pub fn accounts(&self, after: Option<&UserName>, limit: usize) -> Result<Vec<Account>, StoreError> {
        self.read(|txn| {
            let accounts = txn.open_table(table::ACCOUNTS)?;
            let mut out = Vec::new();
            let rows = match after {
                Some(after) => {
                    use std::ops::Bound::{Excluded, Unbounded};
                    accounts.range::<&[u8]>((Excluded(after.as_str().as_bytes()), Unbounded))?
                }
                None => accounts.iter()?,
            };
            for row in rows.take(limit) {
                let (_, v) = row?;
                out.push(table::decode("accounts", v.value())?);
            }
            Ok(out)
        })
    }

    /// How many accounts are administrators (active ones only).
    pub fn admin_count(&self) -> Result<usize, StoreError> {
        self.read(|txn| {
            let mut n = 0;
            for row in txn.open_table(table::ACCOUNTS)?.iter()? {
                let (_, v) = row?;
                let account: Account = table::decode("accounts", v.value())?;
                n += usize::from(account.admin && account.is_active());
            }
            Ok(n)
        })
    }

    /// Grants or revokes administrator rights; `false` when there is no such (undeleted)
    /// account.
    pub fn set_admin(&self, user: &UserName, admin: bool) -> Result<bool, StoreError> {
        self.write(|txn| {
            Ok(modify(txn, user, |a| {
                a.admin = admin;
            })?
            .is_some())
        })
    }

    /// Disables (deleting every token of it) or enables an account. Returns the hashes of the
    /// deleted tokens, or `None` when there is no such (undeleted) account.
    pub fn set_disabled(&self, user: &UserName, disabled: bool) -> Result<Option<Vec<[u8; 32]>>, StoreError> {
        self.write(|txn| {
            if modify(txn, user, |a| a.disabled = disabled)?.is_none() {
                return Ok(None);
            }
            Ok(Some(if disabled { delete_tokens_of(txn, user, None)? } else { Vec::new() }))
        })
    }

    /// Replaces the password hash, deletes every token of the user except `keep`, and drops a
    /// pending reset code. Returns the deleted token hashes, or `None` without such an account.
    pub fn set_password(
        &self,
        user: &UserName,
        password_hash: &str,
        keep: Option<&[u8; 32]>,
    ) -> Result<Option<Vec<[u8; 32]>>, StoreError> {
        self.write(|txn| set_password_in(txn, user, password_hash, keep))
    }

    /// Deletes an account: its row becomes a tombstone (no password, not an administrator,
    /// `deleted` set) so the name stays taken; every token and a pending reset code go. Returns
    /// the deleted token hashes, or `None` without such an (undeleted) account.
    pub fn delete_account(&self, user: &UserName, now: Timestamp) -> Result<Option<Vec<[u8; 32]>>, StoreError> {
        self.write(|txn| {
            let gone = modify(txn, user, |a| {
                a.password_hash.clear();
                a.admin = false;
                a.deleted = Some(now);
            })?;
            if gone.is_none() {
                return Ok(None);
            }
            txn.open_table(crate::admin::RESETS)?.remove(user.as_str().as_bytes())?;
            Ok(Some(delete_tokens_of(txn, user, None)?))
        })
    }

    /// Stores (or replaces) a token record under the token's hash, with its index row.
    pub fn put_token(&self, token_hash: [u8; 32], record: &TokenRecord) -> Result<(), StoreError> {
        self.put_session(token_hash, record, &SessionMeta::default(), usize::MAX).map(|_| ())
    }

    /// Stores a new session, then deletes the user's oldest sessions beyond `max_per_user`.
    /// Returns the hashes of the sessions deleted to make room.
    pub fn put_session(
        &self,
        token_hash: [u8; 32],
        record: &TokenRecord,
        meta: &SessionMeta,
        max_per_user: usize,
    ) -> Result<Vec<[u8; 32]>, StoreError> {
        self.write(|txn| {
            // A replaced record of another user takes its index row with it.
            delete_token_in(txn, &token_hash)?;
            let value = table::encode("token", record)?;
            txn.open_table(table::TOKENS)?.insert(token_hash.as_slice(), value.as_slice())?;
            let index = key::name_bytes(record.user.as_str(), &token_hash);
            txn.open_table(USER_TOKENS)?.insert(index.as_slice(), table::encode("session", meta)?.as_slice())?;
            let mut sessions = sessions_in(txn, &record.user)?;
            if sessions.len() <= max_per_user {
                return Ok(Vec::new());
            }
            sessions.sort_by_key(|s| (s.record.created, s.token_hash));
            let excess = sessions.len() - max_per_user;
            let mut evicted = Vec::with_capacity(excess);
            for s in sessions.into_iter().filter(|s| s.token_hash != token_hash).take(excess) {
                delete_token_in(txn, &s.token_hash)?;
                evicted.push(s.token_hash);
            }
            Ok(evicted)
        })
    }

    /// The token record stored under `token_hash`, if any (expired ones included).
    pub fn token(&self, token_hash: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        self.read(|txn| {
            let tokens = txn.open_table(table::TOKENS)?;
            let value = tokens.get(token_hash.as_slice())?;
            value.map(|v| table::decode("tokens", v.value())).transpose()
        })
    }

    /// The token record under `token_hash` when its account exists and is active, read in one
    /// transaction (what authenticating a request needs).
    pub fn live_token(&self, token_hash: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        self.read(|txn| {
            let tokens = txn.open_table(table::TOKENS)?;
            let Some(value) = tokens.get(token_hash.as_slice())? else { return Ok(None) };
            let record: TokenRecord = table::decode("tokens", value.value())?;
            let accounts = txn.open_table(table::ACCOUNTS)?;
            let Some(account) = accounts.get(record.user.as_str().as_bytes())? else { return Ok(None) };
            let account: Account = table::decode("accounts", account.value())?;
            Ok(account.is_active().then_some(record))
        })
    }

    /// Every session of `user` (expired ones included), in token-hash order.
    pub fn sessions(&self, user: &UserName) -> Result<Vec<Session>, StoreError> {
        self.read(|txn| {
            let index = txn.open_table(USER_TOKENS)?;
            let tokens = txn.open_table(table::TOKENS)?;
            let (start, end) = user_range(user);
            let mut out = Vec::new();
            for row in index.range::<&[u8]>(start.as_slice()..end.as_slice())? {
                let (k, v) = row?;
                let hash = hash_of(k.value())?;
                let Some(record) = tokens.get(hash.as_slice())? else { continue };
                out.push(Session {
                    token_hash: hash,
                    record: table::decode("tokens", record.value())?,
                    meta: table::decode("user_tokens", v.value())?,
                });
            }
            Ok(out)
        })
    }

    /// Deletes every token of `user` except `keep`; returns their hashes.
    pub fn delete_sessions(&self, user: &UserName, keep: Option<&[u8; 32]>) -> Result<Vec<[u8; 32]>, StoreError> {
        self.write(|txn| delete_tokens_of(txn, user, keep))
    }

    /// Records the latest use of sessions (one transaction for the batch): each session's
    /// [`SessionMeta`] (over the stored one, see [`SessionMeta::over`]), and its account's
    /// `last_seen`. Unknown tokens are skipped.
    pub fn touch_sessions(&self, uses: &[([u8; 32], SessionMeta)]) -> Result<(), StoreError> {
        self.write(|txn| {
            let tokens = txn.open_table(table::TOKENS)?;
            let mut index = txn.open_table(USER_TOKENS)?;
            let mut seen: Vec<(UserName, Timestamp)> = Vec::new();
            for (hash, meta) in uses {
                let Some(value) = tokens.get(hash.as_slice())? else { continue };
                let record: TokenRecord = table::decode("tokens", value.value())?;
                let k = key::name_bytes(record.user.as_str(), hash);
                let older: SessionMeta = match index.get(k.as_slice())? {
                    Some(v) => table::decode("user_tokens", v.value())?,
                    None => SessionMeta::default(),
                };
                let meta = meta.clone().over(&older);
                index.insert(k.as_slice(), table::encode("session", &meta)?.as_slice())?;
                if let Some(at) = meta.last_used {
                    seen.push((record.user, at));
                }
            }
            drop((tokens, index));
            seen.sort();
            for (i, (user, at)) in seen.iter().enumerate() {
                if seen.get(i + 1).is_some_and(|(next, _)| next == user) {
                    continue; // the latest of this user follows
                }
                modify(txn, user, |a| a.last_seen = a.last_seen.max(Some(*at)))?;
            }
            Ok(())
        })
    }

    /// Deletes a token (logout) and its index row. Deleting an unknown token is not an error.
    pub fn delete_token(&self, token_hash: &[u8; 32]) -> Result<(), StoreError> {
        self.write(|txn| delete_token_in(txn, token_hash))
    }

    /// Deletes every token that expired at or before `now`, in one transaction; returns how
    /// many. A row that does not decode is left alone (it cannot authenticate anyone).
    pub fn delete_expired_tokens(&self, now: Timestamp) -> Result<usize, StoreError> {
        self.write(|txn| {
            let mut expired: Vec<[u8; 32]> = Vec::new();
            for row in txn.open_table(table::TOKENS)?.iter()? {
                let (k, v) = row?;
                if table::decode::<TokenRecord>("tokens", v.value()).is_ok_and(|t| t.expires <= now)
                    && let Ok(hash) = <[u8; 32]>::try_from(k.value())
                {
                    expired.push(hash);
                }
            }
            for hash in &expired {
                delete_token_in(txn, hash)?;
            }
            Ok(expired.len())
        })
    }

    /// Stores a small server setting (for example a TLS certificate fingerprint).
    pub fn put_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.write(|txn| {
            txn.open_table(table::SETTINGS)?.insert(key.as_bytes(), value)?;
            Ok(())
        })
    }

    /// A server setting stored with [`put_meta`](Store::put_meta).
    pub fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|txn| {
            let settings = txn.open_table(table::SETTINGS)?;
            let value = settings.get(key.as_bytes())?;
            Ok(value.map(|v| v.value().to_vec()))
        })
    }
}

/// Applies `f` to the undeleted account of `user`; `None` when there is none.
fn modify(
    txn: &WriteTransaction,
    user: &UserName,
    f: impl FnOnce(&mut Account),
) -> Result<Option<Account>, StoreError> {
    let mut accounts = txn.open_table(table::ACCOUNTS)?;
    let key = user.as_str().as_bytes();
    let Some(value) = accounts.get(key)?.map(|v| v.value().to_vec()) else { return Ok(None) };
    let mut account: Account = table::decode("accounts", &value)?;
    if account.deleted.is_some() {
        return Ok(None);
    }
    f(&mut account);
    accounts.insert(key, table::encode("account", &account)?.as_slice())?;
    Ok(Some(account))
}

/// [`Store::set_password`] inside a transaction.
pub(crate) fn set_password_in(
    txn: &WriteTransaction,
    user: &UserName,
    password_hash: &str,
    keep: Option<&[u8; 32]>,
) -> Result<Option<Vec<[u8; 32]>>, StoreError> {
    if modify(txn, user, |a| a.password_hash = password_hash.to_owned())?.is_none() {
        return Ok(None);
    }
    txn.open_table(crate::admin::RESETS)?.remove(user.as_str().as_bytes())?;
    Ok(Some(delete_tokens_of(txn, user, keep)?))
}

/// `user 0x00` .. `user 0x01`: the index rows of one user.
fn user_range(user: &UserName) -> (Vec<u8>, Vec<u8>) {
    let start = key::name_bytes(user.as_str(), &[]);
    let mut end = start.clone();
    if let Some(last) = end.last_mut() {
        *last = 0x01;
    }
    (start, end)
}

fn hash_of(index_key: &[u8]) -> Result<[u8; 32], StoreError> {
    let (_, hash) = key::split("user_tokens", index_key)?;
    hash.try_into().map_err(|_| key::corrupt("user_tokens", "token hash is not 32 bytes"))
}

fn sessions_in(txn: &WriteTransaction, user: &UserName) -> Result<Vec<Session>, StoreError> {
    let index = txn.open_table(USER_TOKENS)?;
    let tokens = txn.open_table(table::TOKENS)?;
    let (start, end) = user_range(user);
    let mut out = Vec::new();
    for row in index.range::<&[u8]>(start.as_slice()..end.as_slice())? {
        let (k, v) = row?;
        let hash = hash_of(k.value())?;
        let Some(record) = tokens.get(hash.as_slice())? else { continue };
        out.push(Session {
            token_hash: hash,
            record: table::decode("tokens", record.value())?,
            meta: table::decode("user_tokens", v.value())?,
        });
    }
    Ok(out)
}

/// Deletes a token and its index row (the row names its user).
fn delete_token_in(txn: &WriteTransaction, token_hash: &[u8; 32]) -> Result<(), StoreError> {
    let mut tokens = txn.open_table(table::TOKENS)?;
    let Some(removed) = tokens.remove(token_hash.as_slice())?.map(|v| v.value().to_vec()) else { return Ok(()) };
    if let Ok(record) = table::decode::<TokenRecord>("tokens", &removed) {
        let k = key::name_bytes(record.user.as_str(), token_hash);
        txn.open_table(USER_TOKENS)?.remove(k.as_slice())?;
    }
    Ok(())
}

fn delete_tokens_of(
    txn: &WriteTransaction,
    user: &UserName,
    keep: Option<&[u8; 32]>,
) -> Result<Vec<[u8; 32]>, StoreError> {
    let (start, end) = user_range(user);
    let mut hashes = Vec::new();
    for row in txn.open_table(USER_TOKENS)?.range::<&[u8]>(start.as_slice()..end.as_slice())? {
        let (k, _) = row?;
        let hash = hash_of(k.value())?;
        if Some(&hash) != keep {
            hashes.push(hash);
        }
    }
    let mut tokens = txn.open_table(table::TOKENS)?;
    let mut index = txn.open_table(USER_TOKENS)?;
    for hash in &hashes {
        tokens.remove(hash.as_slice())?;
        index.remove(key::name_bytes(user.as_str(), hash).as_slice())?;
    }
    Ok(hashes)
}

/// v2 → v3: the account tables of schema 3. Creates `user_tokens` (filled from `tokens`),
/// `invites`, `resets` and `audit`; account rows gain fields that default (`admin: false`: an
/// upgraded database has no administrator until `chat-server admin grant`). Sets the version to
/// 3, in one transaction: a crash leaves the file at v2, and the next open migrates again.
pub(crate) fn v2_to_v3(db: &redb::Database) -> Result<(), StoreError> {
    let txn = db.begin_write()?;
    {
        for def in table::ALL {
            txn.open_table(def)?;
        }
        let tokens = txn.open_table(table::TOKENS)?;
        let mut index = txn.open_table(USER_TOKENS)?;
        let meta = table::encode("session", &SessionMeta::default())?;
        for row in tokens.iter()? {
            let (k, v) = row?;
            // A row that does not decode cannot authenticate anyone; it stays unindexed.
            let (Ok(record), Ok(hash)) =
                (table::decode::<TokenRecord>("tokens", v.value()), <[u8; 32]>::try_from(k.value()))
            else {
                continue;
            };
            index.insert(key::name_bytes(record.user.as_str(), &hash).as_slice(), meta.as_slice())?;
        }
        txn.open_table(table::META)?.insert(table::SCHEMA_VERSION_KEY, 3u32.to_be_bytes().as_slice())?;
    }
    txn.commit()?;
    Ok(())
}
