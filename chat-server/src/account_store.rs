//! Where accounts, sessions and the administrators' records are kept: the [`AccountStore`]
//! seam between the account logic and `chat-store` (whose in-memory store serves the unit
//! tests). A cluster-wide implementation wraps or replaces it; every method is one atomic step,
//! so the rules that need atomicity (an invite spent once, the first account is the
//! administrator, a password change ends the other sessions) hold in any implementation that
//! keeps each method atomic.

use chat_core::{Timestamp, UserName};
pub(crate) use chat_store::{
    Account, AuditEntry, Invite, NewAccount, Redeemed, Registered, ResetCode, Session, SessionMeta,
};

use crate::config::Registration;

/// A stored session token (by hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TokenInfo {
    pub(crate) user: UserName,
    pub(crate) created: Timestamp,
    pub(crate) expires: Timestamp,
}

/// The SHA-256 of a token or code: what is stored and indexed by.
pub(crate) type Hash = [u8; 32];

/// Why the account store could not answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum AccountStoreError {
    /// chat-store failed (I/O, a damaged row, a failed commit).
    #[error("account storage failed")]
    Store(#[from] chat_store::StoreError),
    /// The cluster's accounts log could not take or apply a write (NATS unreachable, this
    /// node far behind).
    #[cfg(feature = "cluster")]
    #[error("cluster-wide account storage failed")]
    Cluster(#[source] chat_ws::cluster::ClusterError),
}

/// The settings key of the run-time registration mode.
pub(crate) const REGISTRATION_KEY: &str = "registration";

/// Durable accounts, sessions, invites, reset codes and the audit log. Each method is one
/// atomic step (one transaction in chat-store).
pub(crate) trait AccountStore: Send + Sync + 'static {
    /// Creates an account: spends its invite, makes the first account of an empty store an
    /// administrator; refuses a taken name (tombstones of deleted accounts included).
    fn register(&self, new: &NewAccount<'_>) -> Result<Registered, AccountStoreError>;
    /// The account of `user` (deleted ones included).
    fn account(&self, user: &UserName) -> Result<Option<Account>, AccountStoreError>;
    /// Up to `limit` accounts after `after`, by name.
    fn accounts(&self, after: Option<&UserName>, limit: usize) -> Result<Vec<Account>, AccountStoreError>;
    /// Disables (deleting its tokens, returned) or enables; `None` without such an account.
    fn set_disabled(&self, user: &UserName, disabled: bool) -> Result<Option<Vec<Hash>>, AccountStoreError>;
    /// New password hash; deletes every token but `keep` (returned); `None` without account.
    fn set_password(
        &self,
        user: &UserName,
        hash: &str,
        keep: Option<&Hash>,
    ) -> Result<Option<Vec<Hash>>, AccountStoreError>;
    /// Turns the account into a tombstone and deletes its tokens (returned).
    fn delete_account(&self, user: &UserName, now: Timestamp) -> Result<Option<Vec<Hash>>, AccountStoreError>;

    /// Stores a session; deletes (and returns) the user's oldest beyond `max_per_user`.
    fn put_session(
        &self,
        hash: Hash,
        info: &TokenInfo,
        meta: &SessionMeta,
        max_per_user: usize,
    ) -> Result<Vec<Hash>, AccountStoreError>;
    /// A token whose account exists and is active (expired ones included: the caller checks).
    fn token(&self, hash: &Hash) -> Result<Option<TokenInfo>, AccountStoreError>;
    /// Every session of `user`.
    fn sessions(&self, user: &UserName) -> Result<Vec<Session>, AccountStoreError>;
    /// Deletes a token (absent is fine).
    fn delete_token(&self, hash: &Hash) -> Result<(), AccountStoreError>;
    /// Deletes every token of `user` but `keep`; returns them.
    fn delete_sessions(&self, user: &UserName, keep: Option<&Hash>) -> Result<Vec<Hash>, AccountStoreError>;
    /// Records sessions' latest use (and their accounts' last seen).
    fn touch_sessions(&self, uses: &[(Hash, SessionMeta)]) -> Result<(), AccountStoreError>;
    /// Deletes every token expired at `now`, and spent invites; returns how many tokens.
    fn delete_expired(&self, now: Timestamp) -> Result<usize, AccountStoreError>;

    /// Stores an invite unless `max_live` exist.
    fn create_invite(&self, hash: Hash, invite: &Invite, max_live: usize) -> Result<bool, AccountStoreError>;
    /// Every stored invite.
    fn invites(&self) -> Result<Vec<(Hash, Invite)>, AccountStoreError>;
    /// Deletes the invites whose hash starts with `prefix`; how many.
    fn revoke_invite(&self, prefix: &[u8]) -> Result<usize, AccountStoreError>;
    /// Stores `user`'s reset code; `false` without such an account.
    fn put_reset(&self, user: &UserName, code: &ResetCode) -> Result<bool, AccountStoreError>;
    /// Redeems a reset code: new password, every token deleted.
    fn redeem_reset(
        &self,
        user: &UserName,
        code: &Hash,
        password_hash: &str,
        now: Timestamp,
    ) -> Result<Redeemed, AccountStoreError>;
    /// Appends to the audit log (keeping the newest `keep`); the entry's id.
    fn append_audit(&self, entry: &AuditEntry, keep: usize) -> Result<u64, AccountStoreError>;
    /// Audit entries below `before`, newest first.
    fn audit(&self, before: Option<u64>, limit: usize) -> Result<Vec<AuditEntry>, AccountStoreError>;
    /// The stored registration mode, if one was set.
    fn registration(&self) -> Result<Option<Registration>, AccountStoreError>;
    /// Stores the registration mode.
    fn set_registration(&self, mode: Registration) -> Result<(), AccountStoreError>;
}

impl AccountStore for chat_store::Store {
    fn register(&self, new: &NewAccount<'_>) -> Result<Registered, AccountStoreError> {
        Ok(self.register_account(new)?)
    }

    fn account(&self, user: &UserName) -> Result<Option<Account>, AccountStoreError> {
        Ok(chat_store::Store::account(self, user)?)
    }

    fn accounts(&self, after: Option<&UserName>, limit: usize) -> Result<Vec<Account>, AccountStoreError> {
        Ok(chat_store::Store::accounts(self, after, limit)?)
    }

    fn set_disabled(&self, user: &UserName, disabled: bool) -> Result<Option<Vec<Hash>>, AccountStoreError> {
        Ok(chat_store::Store::set_disabled(self, user, disabled)?)
    }

    fn set_password(
        &self,
        user: &UserName,
        hash: &str,
        keep: Option<&Hash>,
    ) -> Result<Option<Vec<Hash>>, AccountStoreError> {
        Ok(chat_store::Store::set_password(self, user, hash, keep)?)
    }

    fn delete_account(&self, user: &UserName, now: Timestamp) -> Result<Option<Vec<Hash>>, AccountStoreError> {
        Ok(chat_store::Store::delete_account(self, user, now)?)
    }

    fn put_session(
        &self,
        hash: Hash,
        info: &TokenInfo,
        meta: &SessionMeta,
        max_per_user: usize,
    ) -> Result<Vec<Hash>, AccountStoreError> {
        let record = chat_store::TokenRecord { user: info.user.clone(), created: info.created, expires: info.expires };
        Ok(chat_store::Store::put_session(self, hash, &record, meta, max_per_user)?)
    }

    fn token(&self, hash: &Hash) -> Result<Option<TokenInfo>, AccountStoreError> {
        let record = chat_store::Store::live_token(self, hash)?;
        Ok(record.map(|r| TokenInfo { user: r.user, created: r.created, expires: r.expires }))
    }

    fn sessions(&self, user: &UserName) -> Result<Vec<Session>, AccountStoreError> {
        Ok(chat_store::Store::sessions(self, user)?)
    }

    fn delete_token(&self, hash: &Hash) -> Result<(), AccountStoreError> {
        Ok(chat_store::Store::delete_token(self, hash)?)
    }

    fn delete_sessions(&self, user: &UserName, keep: Option<&Hash>) -> Result<Vec<Hash>, AccountStoreError> {
        Ok(chat_store::Store::delete_sessions(self, user, keep)?)
    }

    fn touch_sessions(&self, uses: &[(Hash, SessionMeta)]) -> Result<(), AccountStoreError> {
        Ok(chat_store::Store::touch_sessions(self, uses)?)
    }

    fn delete_expired(&self, now: Timestamp) -> Result<usize, AccountStoreError> {
        chat_store::Store::delete_spent_invites(self, now)?;
        Ok(chat_store::Store::delete_expired_tokens(self, now)?)
    }

    fn create_invite(&self, hash: Hash, invite: &Invite, max_live: usize) -> Result<bool, AccountStoreError> {
        Ok(chat_store::Store::create_invite(self, hash, invite, max_live)?)
    }

    fn invites(&self) -> Result<Vec<(Hash, Invite)>, AccountStoreError> {
        Ok(chat_store::Store::invites(self)?)
    }

    fn revoke_invite(&self, prefix: &[u8]) -> Result<usize, AccountStoreError> {
        Ok(chat_store::Store::revoke_invite(self, prefix)?)
    }

    fn put_reset(&self, user: &UserName, code: &ResetCode) -> Result<bool, AccountStoreError> {
        Ok(chat_store::Store::put_reset(self, user, code)?)
    }

    fn redeem_reset(
        &self,
        user: &UserName,
        code: &Hash,
        password_hash: &str,
        now: Timestamp,
    ) -> Result<Redeemed, AccountStoreError> {
        Ok(chat_store::Store::redeem_reset(self, user, code, password_hash, now)?)
    }

    fn append_audit(&self, entry: &AuditEntry, keep: usize) -> Result<u64, AccountStoreError> {
        Ok(chat_store::Store::append_audit(self, entry, keep)?)
    }

    fn audit(&self, before: Option<u64>, limit: usize) -> Result<Vec<AuditEntry>, AccountStoreError> {
        Ok(chat_store::Store::audit(self, before, limit)?)
    }

    fn registration(&self) -> Result<Option<Registration>, AccountStoreError> {
        let stored = self.meta(REGISTRATION_KEY)?;
        Ok(stored.and_then(|bytes| Registration::parse(std::str::from_utf8(&bytes).ok()?)))
    }

    fn set_registration(&self, mode: Registration) -> Result<(), AccountStoreError> {
        Ok(self.put_meta(REGISTRATION_KEY, mode.as_str().as_bytes())?)
    }
}
