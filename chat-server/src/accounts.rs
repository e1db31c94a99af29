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

use crate::account_store::{AccountStore, AccountStoreError, TokenInfo};
use crate::config::Limits;
use crate::error::{ApiCode, ApiError};
use crate::password::{HashError, PasswordPool, PasswordRule, check_password};
use crate::throttle::{Backoff, Throttle};

/// The SHA-256 of a session token: what the server stores and indexes by.
pub(crate) type TokenHash = [u8; 32];

/// Distinct addresses / user names tracked by the throttles at most.
const THROTTLE_CAPACITY: usize = 10_000;
/// Failures of a (user, address) are forgotten after this long without one; also the longest
/// delay.
const FAILURE_MEMORY: Duration = Duration::from_secs(15 * 60);

/// Why an account operation was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum AuthError {
    #[error("invalid user name: {0}")]
    InvalidUsername(#[from] chat_core::NameError),
    #[error(transparent)]
    InvalidPassword(#[from] PasswordRule),
    #[error("that user name is taken")]
    NameTaken,
    #[error("wrong user name or password")]
    BadCredentials,
    #[error("too many attempts; wait a few minutes")]
    Throttled,
    #[error("too many failed logins from here; try again in {} s", .0.as_secs().max(1))]
    Delayed(Duration),
    #[error("the server is busy checking passwords; try again shortly")]
    Busy,
    #[error("log in first")]
    Unauthorized,
    #[error("storage failed")]
    Store(#[from] AccountStoreError),
    #[error("password hashing failed")]
    Hash(#[source] HashError),
    #[error("the operating system gave no randomness")]
    Random(#[source] getrandom::Error),
    #[error("a storage task failed")]
    Task(#[from] tokio::task::JoinError),
}

impl AuthError {
    pub(crate) fn into_api(self) -> ApiError {
        let code = match &self {
            AuthError::InvalidUsername(_) => ApiCode::InvalidUsername,
            AuthError::InvalidPassword(_) => ApiCode::InvalidPassword,
            AuthError::NameTaken => ApiCode::UsernameTaken,
            AuthError::BadCredentials => ApiCode::BadCredentials,
            AuthError::Throttled | AuthError::Delayed(_) => ApiCode::RateLimited,
            AuthError::Busy => ApiCode::Busy,
            AuthError::Unauthorized => ApiCode::Unauthorized,
            AuthError::Store(_) | AuthError::Hash(_) | AuthError::Random(_) | AuthError::Task(_) => {
                tracing::error!(error = %ErrorChain(&self), "account operation failed");
                ApiCode::Internal
            }
        };
        let retry_after = match &self {
            AuthError::Delayed(wait) => Some(wait.as_secs().max(1)),
            AuthError::Throttled => Some(60),
            _ => None,
        };
        ApiError { retry_after_secs: retry_after, ..ApiError::new(code, self.to_string()) }
    }
}

impl From<HashError> for AuthError {
    fn from(e: HashError) -> AuthError {
        match e {
            HashError::Busy => AuthError::Busy,
            other => AuthError::Hash(other),
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
    failures: Backoff<(UserName, IpAddr)>,
    ttl: Duration,
}

impl Accounts {
    pub(crate) fn new(store: Arc<dyn AccountStore>, limits: &Limits) -> Accounts {
        Accounts {
            store,
            pool: PasswordPool::new(limits.max_concurrent_hashes, limits.max_hash_queue, limits.password_cost),
            per_addr: Throttle::new(limits.auth_attempts_per_addr, Duration::from_secs(60), THROTTLE_CAPACITY),
            failures: Backoff::new(
                limits.login_failures_before_delay,
                limits.login_failure_delay,
                FAILURE_MEMORY,
                FAILURE_MEMORY,
                THROTTLE_CAPACITY,
            ),
            ttl: limits.session_ttl,
        }
    }

    /// Creates an account and a session for it.
    pub(crate) async fn register(&self, addr: IpAddr, username: &str, password: String) -> Result<Issued, AuthError> {
        // New names follow the stricter new-name rules; stored ones keep working at login.
        let user = UserName::parse_new(username)?;
        check_password(&password)?;
        if !self.per_addr.hit(Instant::now(), &addr) {
            return Err(AuthError::Throttled);
        }
        if self.store.password_hash(&user)?.is_some() {
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
        let key = (user.clone(), addr.to_canonical());
        if let Some(wait) = self.failures.wait(now, &key) {
            return Err(AuthError::Delayed(wait));
        }
        if !self.per_addr.hit(now, &addr) {
            return Err(AuthError::Throttled);
        }
        if password.chars().count() > crate::password::MAX_PASSWORD_CHARS {
            return Err(AuthError::BadCredentials);
        }
        let stored = self.store.password_hash(&user)?;
        if self.pool.verify(password, stored).await? {
            self.failures.clear(&key);
            self.issue(user).await
        } else {
            self.failures.fail(Instant::now(), &key);
            Err(AuthError::BadCredentials)
        }
    }

    /// The first-frame `register` of a WebSocket: sign up when the name is free, else log in.
    pub(crate) async fn sign_in(&self, addr: IpAddr, username: &str, password: String) -> Result<Issued, AuthError> {
        let user = parse_user(username)?;
        if self.store.password_hash(&user)?.is_some() {
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
        let info = self.store.token(&hash)?.ok_or(AuthError::Unauthorized)?;
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
        getrandom::getrandom(&mut bytes).map_err(AuthError::Random)?;
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
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AccountStoreError> + Send + 'static,
) -> Result<T, AuthError> {
    Ok(tokio::task::spawn_blocking(f).await??)
}

/// An error with its sources, for the log (`a: b: c`).
pub(crate) struct ErrorChain<'a>(pub(crate) &'a dyn std::error::Error);

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(e) = source {
            write!(f, ": {e}")?;
            source = e.source();
        }
        Ok(())
    }
}

fn parse_user(username: &str) -> Result<UserName, AuthError> {
    Ok(UserName::new(username)?)
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
        let limits = Limits {
            password_cost: PasswordCost::TESTING,
            login_failures_before_delay: 3,
            login_failure_delay: Duration::from_secs(600),
            ..Limits::default()
        };
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
    async fn failed_logins_delay_that_address_only() {
        let a = accounts();
        a.register(ADDR, "bob", "password1".into()).await.unwrap();
        for _ in 0..3 {
            assert!(matches!(a.login(ADDR, "bob", "nope-nope".into()).await, Err(AuthError::BadCredentials)));
        }
        // The guessing address waits, even with the right password.
        assert!(matches!(a.login(ADDR, "bob", "password1".into()).await, Err(AuthError::Delayed(_))));
        // The owner elsewhere is not locked out.
        let home = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 7));
        assert!(a.login(home, "bob", "password1".into()).await.is_ok());
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
