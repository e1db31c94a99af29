//! Accounts and sessions: sign-up, log-in, log-out, and token authentication.
//!
//! Passwords are hashed with argon2id on a bounded pool ([`PasswordPool`]). A session token is
//! 32 random bytes sent to the client as 64 hex digits; the server stores only its SHA-256, with
//! an expiry. Log-in attempts are throttled per client address (all attempts) and per user name
//! (failures), in bounded maps.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chat_core::{Timestamp, UserName};
use sha2::{Digest, Sha256};

use crate::account_store::{AccountStore, TokenInfo};
use crate::config::Limits;
use crate::error::{ApiCode, ApiError};
use crate::password::{HashError, PasswordPool, check_password};
use crate::throttle::Throttle;

/// The SHA-256 of a session token: what the server stores and indexes by.
pub(crate) type TokenHash = [u8; 32];

/// Distinct addresses / user names tracked by the throttles at most.
const THROTTLE_CAPACITY: usize = 10_000;
/// The per-user failure window.
const USER_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Why an account operation was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum AuthError {
    #[error("{0}")]
    InvalidUsername(String),
    #[error("{0}")]
    InvalidPassword(String),
    #[error("that user name is taken")]
    NameTaken,
    #[error("wrong user name or password")]
    BadCredentials,
    #[error("too many attempts; wait a few minutes")]
    Throttled,
    #[error("the server is busy checking passwords; try again shortly")]
    Busy,
    #[error("log in first")]
    Unauthorized,
    #[error("storage failed: {0}")]
    Store(String),
    #[error("{0}")]
    Hash(String),
}

impl AuthError {
    pub(crate) fn into_api(self) -> ApiError {
        let code = match &self {
            AuthError::InvalidUsername(_) => ApiCode::InvalidUsername,
            AuthError::InvalidPassword(_) => ApiCode::InvalidPassword,
            AuthError::NameTaken => ApiCode::UsernameTaken,
            AuthError::BadCredentials => ApiCode::BadCredentials,
            AuthError::Throttled => ApiCode::RateLimited,
            AuthError::Busy => ApiCode::Busy,
            AuthError::Unauthorized => ApiCode::Unauthorized,
            AuthError::Store(_) | AuthError::Hash(_) => ApiCode::Internal,
        };
        ApiError::new(code, self.to_string())
    }
}

impl From<HashError> for AuthError {
    fn from(e: HashError) -> AuthError {
        match e {
            HashError::Busy => AuthError::Busy,
            other => AuthError::Hash(other.to_string()),
        }
    }
}

/// A freshly issued session.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    pub(crate) user: UserName,
    /// The token as the client sees it (64 hex digits). Never stored.
    pub(crate) token: String,
    /// What is stored: the token's SHA-256 (also the login's id for `close_login`).
    pub(crate) hash: TokenHash,
    pub(crate) created: bool,
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) user: UserName,
    pub(crate) token: TokenHash,
}

/// The account system.
pub(crate) struct Accounts {
    store: Arc<dyn AccountStore>,
    pool: PasswordPool,
    per_addr: Throttle<IpAddr>,
    per_user: Throttle<UserName>,
    ttl: Duration,
}

impl Accounts {
    pub(crate) fn new(store: Arc<dyn AccountStore>, limits: &Limits) -> Accounts {
        Accounts {
            store,
            pool: PasswordPool::new(limits.max_concurrent_hashes, limits.max_hash_queue, limits.password_cost),
            per_addr: Throttle::new(limits.auth_attempts_per_addr, Duration::from_secs(60), THROTTLE_CAPACITY),
            per_user: Throttle::new(limits.login_failures_per_user, USER_WINDOW, THROTTLE_CAPACITY),
            ttl: limits.session_ttl,
        }
    }

    /// Creates an account and a session for it.
    pub(crate) async fn register(&self, addr: IpAddr, username: &str, password: String) -> Result<Issued, AuthError> {
        let user = parse_user(username)?;
        check_password(&password).map_err(AuthError::InvalidPassword)?;
        if !self.per_addr.hit(Instant::now(), &addr) {
            return Err(AuthError::Throttled);
        }
        if self.store.password_hash(&user).map_err(AuthError::Store)?.is_some() {
            return Err(AuthError::NameTaken);
        }
        let hash = self.pool.hash(password).await?;
        let created = {
            let (store, user) = (self.store.clone(), user.clone());
            blocking(move || store.create_account(&user, &hash, now_ms())).await?
        };
        if !created {
            return Err(AuthError::NameTaken);
        }
        let mut issued = self.issue(user).await?;
        issued.created = true;
        Ok(issued)
    }

    /// Checks a password and opens a session.
    pub(crate) async fn login(&self, addr: IpAddr, username: &str, password: String) -> Result<Issued, AuthError> {
        let user = parse_user(username).map_err(|_| AuthError::BadCredentials)?;
        let now = Instant::now();
        if !self.per_user.allowed(now, &user) || !self.per_addr.hit(now, &addr) {
            return Err(AuthError::Throttled);
        }
        if password.chars().count() > crate::password::MAX_PASSWORD_CHARS {
            return Err(AuthError::BadCredentials);
        }
        let stored = self.store.password_hash(&user).map_err(AuthError::Store)?;
        if self.pool.verify(password, stored).await? {
            self.per_user.clear(&user);
            self.issue(user).await
        } else {
            self.per_user.hit(Instant::now(), &user);
            Err(AuthError::BadCredentials)
        }
    }

    /// The first-frame `register` of a WebSocket: sign up when the name is free, else log in.
    pub(crate) async fn sign_in(&self, addr: IpAddr, username: &str, password: String) -> Result<Issued, AuthError> {
        let user = parse_user(username)?;
        if self.store.password_hash(&user).map_err(AuthError::Store)?.is_some() {
            return self.login(addr, username, password).await;
        }
        match self.register(addr, username, password.clone()).await {
            // Lost a race with another sign-up of the same name.
            Err(AuthError::NameTaken) => self.login(addr, username, password).await,
            other => other,
        }
    }

    /// The caller a token belongs to, if it is valid and not expired.
    pub(crate) fn authenticate(&self, token: &str) -> Result<Caller, AuthError> {
        let hash = token_hash(token).ok_or(AuthError::Unauthorized)?;
        let info = self.store.token(&hash).map_err(AuthError::Store)?.ok_or(AuthError::Unauthorized)?;
        if info.expires <= now_ms() {
            let _ = self.store.delete_token(&hash);
            return Err(AuthError::Unauthorized);
        }
        Ok(Caller { user: info.user, token: hash })
    }

    /// Ends a session: deletes the token.
    pub(crate) async fn logout(&self, token: &TokenHash) -> Result<(), AuthError> {
        let (store, token) = (self.store.clone(), *token);
        blocking(move || store.delete_token(&token)).await
    }

    /// Deletes every expired token (tokens are also checked, and deleted, when presented; this
    /// removes the ones never presented again). Returns how many.
    pub(crate) async fn sweep_expired(&self) -> Result<usize, AuthError> {
        let store = self.store.clone();
        blocking(move || store.delete_expired_tokens(now_ms())).await
    }

    async fn issue(&self, user: UserName) -> Result<Issued, AuthError> {
        let mut bytes = [0u8; 32];
        getrandom::getrandom(&mut bytes).map_err(|e| AuthError::Store(format!("no randomness: {e}")))?;
        let token = hex::encode(bytes);
        let hash: TokenHash = Sha256::digest(token.as_bytes()).into();
        let created = now_ms();
        let expires = created.plus_millis(self.ttl.as_millis().try_into().unwrap_or(u64::MAX));
        let info = TokenInfo { user: user.clone(), created, expires };
        let store = self.store.clone();
        blocking(move || store.put_token(hash, &info)).await?;
        Ok(Issued { user, token, hash, created: false })
    }
}

/// Runs a store write (a durable commit: an fsync) on the blocking pool, off the async workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, String> + Send + 'static) -> Result<T, AuthError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| AuthError::Store(e.to_string()))?.map_err(AuthError::Store)
}

fn parse_user(username: &str) -> Result<UserName, AuthError> {
    UserName::new(username).map_err(|e| AuthError::InvalidUsername(format!("invalid user name: {e}")))
}

/// The stored hash of a client's token, if it has the token's shape (64 hex digits).
pub(crate) fn token_hash(token: &str) -> Option<TokenHash> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(Sha256::digest(token.to_ascii_lowercase().as_bytes()).into())
}

/// The wall clock as the core's timestamp.
pub(crate) fn now_ms() -> Timestamp {
    let ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    Timestamp(u64::try_from(ms).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PasswordCost;

    fn accounts() -> Accounts {
        let limits = Limits { password_cost: PasswordCost::TESTING, login_failures_per_user: 3, ..Limits::default() };
        Accounts::new(Arc::new(chat_store::Store::in_memory().unwrap()), &limits)
    }

    const ADDR: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[tokio::test]
    async fn register_login_logout() {
        let a = accounts();
        let issued = a.register(ADDR, "Alice", "password1".into()).await.unwrap();
        assert_eq!(issued.user.as_str(), "alice");
        assert_eq!(issued.token.len(), 64);
        assert_eq!(a.authenticate(&issued.token).unwrap().user.as_str(), "alice");
        assert!(matches!(a.register(ADDR, "alice", "password2".into()).await, Err(AuthError::NameTaken)));
        assert!(matches!(a.login(ADDR, "alice", "password2".into()).await, Err(AuthError::BadCredentials)));
        let second = a.login(ADDR, "ALICE", "password1".into()).await.unwrap();
        assert_ne!(second.token, issued.token);
        a.logout(&token_hash(&second.token).unwrap()).await.unwrap();
        assert!(a.authenticate(&second.token).is_err());
        assert!(a.authenticate(&issued.token).is_ok());
    }

    #[tokio::test]
    async fn failed_logins_lock_the_name() {
        let a = accounts();
        a.register(ADDR, "bob", "password1".into()).await.unwrap();
        for _ in 0..3 {
            assert!(matches!(a.login(ADDR, "bob", "nope-nope".into()).await, Err(AuthError::BadCredentials)));
        }
        // Even the right password is refused while the name is locked.
        assert!(matches!(a.login(ADDR, "bob", "password1".into()).await, Err(AuthError::Throttled)));
    }

    #[tokio::test]
    async fn sign_in_registers_then_logs_in() {
        let a = accounts();
        assert!(a.sign_in(ADDR, "carol", "password1".into()).await.unwrap().created);
        assert!(!a.sign_in(ADDR, "carol", "password1".into()).await.unwrap().created);
        assert!(matches!(a.sign_in(ADDR, "carol", "password2".into()).await, Err(AuthError::BadCredentials)));
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let a = accounts();
        assert!(token_hash("abc").is_none());
        assert!(matches!(a.authenticate(&"z".repeat(64)), Err(AuthError::Unauthorized)));
        assert!(matches!(a.authenticate(&"0".repeat(64)), Err(AuthError::Unauthorized)));
    }
}
