//! Accounts, login tokens and small settings for the reference server: same file, own tables,
//! each call one durable transaction.

use chat_core::{Timestamp, UserName};
use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::store::Store;
use crate::table;

/// A registered user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The user name (lower-case).
    pub user: UserName,
    /// The password hash (a PHC string, e.g. argon2id), never the password.
    pub password_hash: String,
    /// When the account was created.
    pub created: Timestamp,
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

impl Store {
    /// Creates an account. Returns `false`, changing nothing, if the name is taken.
    pub fn create_account(&self, user: &UserName, password_hash: &str, now: Timestamp) -> Result<bool, StoreError> {
        self.write(|txn| {
            let mut accounts = txn.open_table(table::ACCOUNTS)?;
            let key = user.as_str().as_bytes();
            if accounts.get(key)?.is_some() {
                return Ok(false);
            }
            let account = Account { user: user.clone(), password_hash: password_hash.to_owned(), created: now };
            accounts.insert(key, table::encode("account", &account)?.as_slice())?;
            Ok(true)
        })
    }

    /// The account of `user`, if registered.
    pub fn account(&self, user: &UserName) -> Result<Option<Account>, StoreError> {
        self.read(|txn| {
            let accounts = txn.open_table(table::ACCOUNTS)?;
            let value = accounts.get(user.as_str().as_bytes())?;
            value.map(|v| table::decode("accounts", v.value())).transpose()
        })
    }

    /// Stores (or replaces) a token record under the token's hash.
    pub fn put_token(&self, token_hash: [u8; 32], record: &TokenRecord) -> Result<(), StoreError> {
        self.write(|txn| {
            let value = table::encode("token", record)?;
            txn.open_table(table::TOKENS)?.insert(token_hash.as_slice(), value.as_slice())?;
            Ok(())
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

    /// Deletes a token (logout). Deleting an unknown token is not an error.
    pub fn delete_token(&self, token_hash: &[u8; 32]) -> Result<(), StoreError> {
        self.write(|txn| {
            txn.open_table(table::TOKENS)?.remove(token_hash.as_slice())?;
            Ok(())
        })
    }

    /// Deletes every token that expired at or before `now`, in one transaction; returns how
    /// many. A row that does not decode is left alone (it cannot authenticate anyone).
    pub fn delete_expired_tokens(&self, now: Timestamp) -> Result<usize, StoreError> {
        self.write(|txn| {
            let mut tokens = txn.open_table(table::TOKENS)?;
            let mut expired: Vec<Vec<u8>> = Vec::new();
            for row in tokens.iter()? {
                let (k, v) = row?;
                if table::decode::<TokenRecord>("tokens", v.value()).is_ok_and(|t| t.expires <= now) {
                    expired.push(k.value().to_vec());
                }
            }
            for key in &expired {
                tokens.remove(key.as_slice())?;
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
