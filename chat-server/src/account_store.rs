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

/// Durable accounts and tokens. Errors are strings: the account logic only reports them.
pub(crate) trait AccountStore: Send + Sync + 'static {
    /// Creates the account; `false` when the name is taken.
    fn create_account(&self, user: &UserName, password_hash: &str, now: Timestamp) -> Result<bool, String>;
    /// The stored PHC hash of `user`'s password.
    fn password_hash(&self, user: &UserName) -> Result<Option<String>, String>;
    /// Stores a token hash.
    fn put_token(&self, hash: [u8; 32], info: &TokenInfo) -> Result<(), String>;
    /// Looks a token hash up.
    fn token(&self, hash: &[u8; 32]) -> Result<Option<TokenInfo>, String>;
    /// Deletes a token hash (absent is fine).
    fn delete_token(&self, hash: &[u8; 32]) -> Result<(), String>;
    /// Deletes every token expired at `now`; returns how many.
    fn delete_expired_tokens(&self, now: Timestamp) -> Result<usize, String>;
}

impl AccountStore for chat_store::Store {
    fn create_account(&self, user: &UserName, password_hash: &str, now: Timestamp) -> Result<bool, String> {
        chat_store::Store::create_account(self, user, password_hash, now).map_err(|e| e.to_string())
    }

    fn password_hash(&self, user: &UserName) -> Result<Option<String>, String> {
        Ok(self.account(user).map_err(|e| e.to_string())?.map(|a| a.password_hash))
    }

    fn put_token(&self, hash: [u8; 32], info: &TokenInfo) -> Result<(), String> {
        let record = chat_store::TokenRecord { user: info.user.clone(), created: info.created, expires: info.expires };
        chat_store::Store::put_token(self, hash, &record).map_err(|e| e.to_string())
    }

    fn token(&self, hash: &[u8; 32]) -> Result<Option<TokenInfo>, String> {
        let record = chat_store::Store::token(self, hash).map_err(|e| e.to_string())?;
        Ok(record.map(|r| TokenInfo { user: r.user, created: r.created, expires: r.expires }))
    }

    fn delete_token(&self, hash: &[u8; 32]) -> Result<(), String> {
        chat_store::Store::delete_token(self, hash).map_err(|e| e.to_string())
    }

    fn delete_expired_tokens(&self, now: Timestamp) -> Result<usize, String> {
        chat_store::Store::delete_expired_tokens(self, now).map_err(|e| e.to_string())
    }
}
