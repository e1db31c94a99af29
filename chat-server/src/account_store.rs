//! Where accounts and session tokens are kept: the [`AccountStore`] seam between the account
//! logic and `chat-store` (whose in-memory store serves the unit tests).

use chat_core::{Timestamp, UserName};

/// A stored session token (by hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TokenInfo {
    pub(crate) user: UserName,
    pub(crate) created: Timestamp,
    pub(crate) expires: Timestamp,
}

/// Why the account store could not answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum AccountStoreError {
    /// chat-store failed (I/O, a damaged row, a failed commit).
    #[error("account storage failed")]
    Store(#[from] chat_store::StoreError),
}

/// Durable accounts and tokens.
pub(crate) trait AccountStore: Send + Sync + 'static {
    /// Creates the account; `false` when the name is taken.
    fn create_account(&self, user: &UserName, password_hash: &str, now: Timestamp) -> Result<bool, AccountStoreError>;
    /// The stored PHC hash of `user`'s password.
    fn password_hash(&self, user: &UserName) -> Result<Option<String>, AccountStoreError>;
    /// Stores a token hash.
    fn put_token(&self, hash: [u8; 32], info: &TokenInfo) -> Result<(), AccountStoreError>;
    /// Looks a token hash up.
    fn token(&self, hash: &[u8; 32]) -> Result<Option<TokenInfo>, AccountStoreError>;
    /// Deletes a token hash (absent is fine).
    fn delete_token(&self, hash: &[u8; 32]) -> Result<(), AccountStoreError>;
    /// Deletes every token expired at `now`; returns how many.
    fn delete_expired_tokens(&self, now: Timestamp) -> Result<usize, AccountStoreError>;
}

impl AccountStore for chat_store::Store {
    fn create_account(&self, user: &UserName, password_hash: &str, now: Timestamp) -> Result<bool, AccountStoreError> {
        Ok(chat_store::Store::create_account(self, user, password_hash, now)?)
    }

    fn password_hash(&self, user: &UserName) -> Result<Option<String>, AccountStoreError> {
        Ok(self.account(user)?.map(|a| a.password_hash))
    }

    fn put_token(&self, hash: [u8; 32], info: &TokenInfo) -> Result<(), AccountStoreError> {
        let record = chat_store::TokenRecord { user: info.user.clone(), created: info.created, expires: info.expires };
        Ok(chat_store::Store::put_token(self, hash, &record)?)
    }

    fn token(&self, hash: &[u8; 32]) -> Result<Option<TokenInfo>, AccountStoreError> {
        let record = chat_store::Store::token(self, hash)?;
        Ok(record.map(|r| TokenInfo { user: r.user, created: r.created, expires: r.expires }))
    }

    fn delete_token(&self, hash: &[u8; 32]) -> Result<(), AccountStoreError> {
        Ok(chat_store::Store::delete_token(self, hash)?)
    }

    fn delete_expired_tokens(&self, now: Timestamp) -> Result<usize, AccountStoreError> {
        Ok(chat_store::Store::delete_expired_tokens(self, now)?)
    }
}
