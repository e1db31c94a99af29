//! Accounts and sessions: sign-up (under the registration policy), log-in, log-out, and token
//! authentication. Self-service lives in `account_self.rs`, administration in
//! `account_admin.rs`; both are more `impl Accounts` over the same [`AccountStore`].
//!
//! Passwords are hashed with argon2id on a bounded pool ([`PasswordPool`]). A session token is
//! 32 random bytes sent to the client as 64 hex digits; the server stores only its SHA-256, with
//! an expiry. Log-in attempts are throttled per client address (all attempts) and per user name
//! (failures), in bounded maps. Each user holds at most [`MAX_SESSIONS_PER_USER`] sessions (a
//! new one ends the oldest). The latest use of each session is kept in memory and written in one
//! batch every [`USE_FLUSH_INTERVAL`] (not one fsync per request).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chat_core::{Timestamp, UserName};
use sha2::{Digest, Sha256};

use crate::account_store::{AccountStore, AccountStoreError, NewAccount, Registered, SessionMeta, TokenInfo};
use crate::config::{Limits, Registration};
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
/// Sessions one user may hold; logging in once more ends the oldest.
pub(crate) const MAX_SESSIONS_PER_USER: usize = 50;
/// How often recorded session uses are written.
pub(crate) const USE_FLUSH_INTERVAL: Duration = Duration::from_secs(30);
/// Session uses kept in memory between flushes at most (more wait for the next request).
const MAX_PENDING_USES: usize = 10_000;
/// Longest `User-Agent` kept, in bytes.
const MAX_USER_AGENT_BYTES: usize = 200;

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
    #[error("wrong password")]
    WrongPassword,
    #[error("too many attempts; wait a few minutes")]
    Throttled,
    #[error("too many failed logins from here; try again in {} s", .0.as_secs().max(1))]
    Delayed(Duration),
    #[error("the server is busy checking passwords; try again shortly")]
    Busy,
    #[error("log in first")]
    Unauthorized,
    #[error("registration is closed on this server; ask an administrator for an account")]
    RegistrationClosed,
    #[error("sign-up needs a valid invite code (unknown, used up or expired)")]
    InvalidInvite,
    #[error("this account is disabled; ask an administrator")]
    AccountDisabled,
    #[error("only administrators may do that")]
    Forbidden,
    #[error("no such account")]
    UnknownAccount,
    #[error("no such session")]
    UnknownSession,
    #[error("no such invite")]
    UnknownInvite,
    #[error("that reset code is not valid (wrong, used or expired)")]
    InvalidResetCode,
    #[error("{0}")]
    Invalid(&'static str),
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
            AuthError::WrongPassword => ApiCode::WrongPassword,
            AuthError::Throttled | AuthError::Delayed(_) => ApiCode::RateLimited,
            AuthError::Busy => ApiCode::Busy,
            AuthError::Unauthorized => ApiCode::Unauthorized,
            AuthError::RegistrationClosed => ApiCode::RegistrationClosed,
            AuthError::InvalidInvite => ApiCode::InvalidInvite,
            AuthError::AccountDisabled => ApiCode::AccountDisabled,
            AuthError::Forbidden => ApiCode::Forbidden,
            AuthError::UnknownAccount => ApiCode::Core(chat_core::ErrorCode::UnknownUser),
            AuthError::UnknownSession | AuthError::UnknownInvite => ApiCode::NotFound,
            AuthError::InvalidResetCode => ApiCode::InvalidResetCode,
            AuthError::Invalid(_) => ApiCode::InvalidRequest,
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
    /// The new account is an administrator (the first of the database).
    pub(crate) admin: bool,
    /// Sessions ended to make room for this one (close their sockets).
    pub(crate) ended: Vec<TokenHash>,
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) user: UserName,
    pub(crate) token: TokenHash,
}

/// Where a request came from: recorded as the session's last use.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) addr: IpAddr,
    pub(crate) user_agent: Option<String>,
}

impl Seen {
    /// A request from `addr` with this `User-Agent` (cut to a bounded length).
    pub(crate) fn new(addr: IpAddr, user_agent: Option<&str>) -> Seen {
        let user_agent = user_agent.map(|ua| {
            let mut end = ua.len().min(MAX_USER_AGENT_BYTES);
            while !ua.is_char_boundary(end) {
                end -= 1;
            }
            ua[..end].to_owned()
        });
        Seen { addr: addr.to_canonical(), user_agent }
    }

    fn meta(&self, at: Timestamp) -> SessionMeta {
        SessionMeta::seen(at, Some(self.addr.to_string()), self.user_agent.clone())
    }
}

/// The account system.
pub(crate) struct Accounts {
    pub(crate) store: Arc<dyn AccountStore>,
    pub(crate) pool: PasswordPool,
    per_addr: Throttle<IpAddr>,
    pub(crate) failures: Backoff<(UserName, IpAddr)>,
    ttl: Duration,
    /// Latest use of sessions since the last flush.
    uses: Mutex<HashMap<TokenHash, SessionMeta>>,
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
            uses: Mutex::new(HashMap::new()),
        }
    }

    /// The registration mode in force (stored by an administrator, else open).
    pub(crate) fn registration(&self) -> Result<Registration, AuthError> {
        Ok(self.store.registration()?.unwrap_or_default())
    }

    /// Creates an account under the registration policy, and a session for it.
    pub(crate) async fn register(
        &self,
        seen: &Seen,
        username: &str,
        password: String,
        invite: Option<&str>,
    ) -> Result<Issued, AuthError> {
        let code = match self.registration()? {
            Registration::Open => None,
            Registration::Invite => Some(invite.and_then(code_hash).ok_or(AuthError::InvalidInvite)?),
            Registration::Closed => return Err(AuthError::RegistrationClosed),
        };
        self.create(seen, username, password, code).await
    }

    /// Creates an account whatever the policy (an administrator's `POST /api/admin/users`), or
    /// spending `invite` (already checked against the policy).
    pub(crate) async fn create(
        &self,
        seen: &Seen,
        username: &str,
        password: String,
        invite: Option<[u8; 32]>,
    ) -> Result<Issued, AuthError> {
        // New names follow the stricter new-name rules; stored ones keep working at login.
        let user = UserName::parse_new(username)?;
        check_password(&password)?;
        if !self.per_addr.hit(Instant::now(), &seen.addr) {
            return Err(AuthError::Throttled);
        }
        if self.store.account(&user)?.is_some() {
            return Err(AuthError::NameTaken);
        }
        let hash = self.pool.hash(password).await?;
        let outcome = {
            let (store, user) = (self.store.clone(), user.clone());
            blocking(move || {
                let new = NewAccount::new(&user, &hash, now_ms());
                store.register(&match invite {
                    Some(code) => new.with_invite(code),
                    None => new,
                })
            })
            .await?
        };
        let admin = match outcome {
            Registered::Created { admin } => admin,
            Registered::InvalidInvite => return Err(AuthError::InvalidInvite),
            _ => return Err(AuthError::NameTaken),
        };
        if admin {
            tracing::info!(%user, "the first account of this database is an administrator");
        }
        let mut issued = self.issue(user, seen).await?;
        issued.created = true;
        issued.admin = admin;
        Ok(issued)
    }

    /// Checks a password and opens a session.
    pub(crate) async fn login(&self, seen: &Seen, username: &str, password: String) -> Result<Issued, AuthError> {
        let user = parse_user(username).map_err(|_| AuthError::BadCredentials)?;
        self.check_password_of(&user, seen.addr, password, AuthError::BadCredentials).await?;
        let account = self.store.account(&user)?.ok_or(AuthError::BadCredentials)?;
        if !account.is_active() {
            return Err(AuthError::AccountDisabled);
        }
        self.issue(user, seen).await
    }

    /// Verifies `user`'s password under the login throttles; `wrong` when it does not match.
    pub(crate) async fn check_password_of(
        &self,
        user: &UserName,
        addr: IpAddr,
        password: String,
        wrong: AuthError,
    ) -> Result<(), AuthError> {
        let now = Instant::now();
        let key = (user.clone(), addr.to_canonical());
        if let Some(wait) = self.failures.wait(now, &key) {
            return Err(AuthError::Delayed(wait));
        }
        if !self.per_addr.hit(now, &addr) {
            return Err(AuthError::Throttled);
        }
        if password.chars().count() > crate::password::MAX_PASSWORD_CHARS {
            return Err(wrong);
        }
        // A deleted account keeps an empty hash: it verifies nothing (the dummy hash runs).
        let stored = self.store.account(user)?.map(|a| a.password_hash).filter(|h| !h.is_empty());
        if self.pool.verify(password, stored).await? {
            self.failures.clear(&key);
            Ok(())
        } else {
            self.failures.fail(Instant::now(), &key);
            Err(wrong)
        }
    }

    /// The first-frame `register` of a WebSocket: sign up when the name is free (under the
    /// registration policy, without an invite), else log in.
    pub(crate) async fn sign_in(&self, seen: &Seen, username: &str, password: String) -> Result<Issued, AuthError> {
        let user = parse_user(username)?;
        if self.store.account(&user)?.is_some() {
            return self.login(seen, username, password).await;
        }
        match self.register(seen, username, password.clone(), None).await {
            // Lost a race with another sign-up of the same name.
            Err(AuthError::NameTaken) => self.login(seen, username, password).await,
            other => other,
        }
    }

    /// The caller a token belongs to, if it is valid, not expired, and its account is active;
    /// records the use.
    pub(crate) fn authenticate(&self, token: &str, seen: &Seen) -> Result<Caller, AuthError> {
        let hash = token_hash(token).ok_or(AuthError::Unauthorized)?;
        let info = self.store.token(&hash)?.ok_or(AuthError::Unauthorized)?;
        let now = now_ms();
        if info.expires <= now {
            let _ = self.store.delete_token(&hash);
            return Err(AuthError::Unauthorized);
        }
        let mut uses = self.uses.lock().unwrap_or_else(PoisonError::into_inner);
        let full = uses.len() >= MAX_PENDING_USES;
        match uses.get_mut(&hash) {
            Some(pending) => *pending = seen.meta(now).over(pending),
            None if !full => {
                uses.insert(hash, seen.meta(now));
            }
            None => {}
        }
        Ok(Caller { user: info.user, token: hash })
    }

    /// The recorded-but-unwritten use of a session.
    pub(crate) fn pending_use(&self, hash: &TokenHash) -> Option<SessionMeta> {
        self.uses.lock().unwrap_or_else(PoisonError::into_inner).get(hash).cloned()
    }

    /// Writes the recorded session uses (one transaction).
    pub(crate) async fn flush_uses(&self) -> Result<usize, AuthError> {
        let batch: Vec<(TokenHash, SessionMeta)> =
            std::mem::take(&mut *self.uses.lock().unwrap_or_else(PoisonError::into_inner)).into_iter().collect();
        if batch.is_empty() {
            return Ok(0);
        }
        let n = batch.len();
        let store = self.store.clone();
        blocking(move || store.touch_sessions(&batch)).await?;
        Ok(n)
    }

    /// Ends a session: deletes the token.
    pub(crate) async fn logout(&self, token: &TokenHash) -> Result<(), AuthError> {
        let (store, token) = (self.store.clone(), *token);
        blocking(move || store.delete_token(&token)).await
    }

    /// Deletes every expired token and spent invite (tokens are also checked, and deleted, when
    /// presented; this removes the ones never presented again). Returns how many tokens.
    pub(crate) async fn sweep_expired(&self) -> Result<usize, AuthError> {
        let store = self.store.clone();
        blocking(move || store.delete_expired(now_ms())).await
    }

    pub(crate) async fn issue(&self, user: UserName, seen: &Seen) -> Result<Issued, AuthError> {
        let token = random_hex()?;
        let hash: TokenHash = Sha256::digest(token.as_bytes()).into();
        let created = now_ms();
        let expires = created.plus_millis(self.ttl.as_millis().try_into().unwrap_or(u64::MAX));
        let info = TokenInfo { user: user.clone(), created, expires };
        let (store, meta) = (self.store.clone(), seen.meta(created));
        let ended = blocking(move || store.put_session(hash, &info, &meta, MAX_SESSIONS_PER_USER)).await?;
        Ok(Issued { user, token, hash, created: false, admin: false, ended })
    }
}

/// 32 random bytes as 64 hex digits (tokens).
pub(crate) fn random_hex() -> Result<String, AuthError> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(AuthError::Random)?;
    Ok(hex::encode(bytes))
}

/// 16 random bytes as 32 hex digits (invite and reset codes), with their hash.
pub(crate) fn random_code() -> Result<(String, [u8; 32]), AuthError> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).map_err(AuthError::Random)?;
    let code = hex::encode(bytes);
    let hash = code_hash(&code).ok_or(AuthError::Invalid("code"))?;
    Ok((code, hash))
}

/// The stored hash of an invite or reset code, if it has a code's shape (32 hex digits;
/// surrounding spaces and case do not matter).
pub(crate) fn code_hash(code: &str) -> Option<[u8; 32]> {
    let code = code.trim();
    if code.len() != 32 || !code.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(Sha256::digest(code.to_ascii_lowercase().as_bytes()).into())
}

/// Runs a store write (a durable commit: an fsync) on the blocking pool, off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(
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

pub(crate) fn parse_user(username: &str) -> Result<UserName, AuthError> {
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

    pub(crate) fn accounts() -> Accounts {
        let limits = Limits {
            password_cost: PasswordCost::TESTING,
            login_failures_before_delay: 3,
            login_failure_delay: Duration::from_secs(600),
            ..Limits::default()
        };
        Accounts::new(Arc::new(chat_store::Store::in_memory().unwrap()), &limits)
    }

    const ADDR: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn seen() -> Seen {
        Seen::new(ADDR, Some("test"))
    }

    #[tokio::test]
    async fn register_login_logout() {
        let a = accounts();
        let issued = a.register(&seen(), "Alice", "password1".into(), None).await.unwrap();
        assert_eq!(issued.user.as_str(), "alice");
        assert_eq!(issued.token.len(), 64);
        assert_eq!(a.authenticate(&issued.token, &seen()).unwrap().user.as_str(), "alice");
        assert!(matches!(a.register(&seen(), "alice", "password2".into(), None).await, Err(AuthError::NameTaken)));
        assert!(matches!(a.login(&seen(), "alice", "password2".into()).await, Err(AuthError::BadCredentials)));
        let second = a.login(&seen(), "ALICE", "password1".into()).await.unwrap();
        assert_ne!(second.token, issued.token);
        a.logout(&token_hash(&second.token).unwrap()).await.unwrap();
        assert!(a.authenticate(&second.token, &seen()).is_err());
        assert!(a.authenticate(&issued.token, &seen()).is_ok());
    }

    #[tokio::test]
    async fn failed_logins_delay_that_address_only() {
        let a = accounts();
        a.register(&seen(), "bob", "password1".into(), None).await.unwrap();
        for _ in 0..3 {
            assert!(matches!(a.login(&seen(), "bob", "nope-nope".into()).await, Err(AuthError::BadCredentials)));
        }
        // The guessing address waits, even with the right password.
        assert!(matches!(a.login(&seen(), "bob", "password1".into()).await, Err(AuthError::Delayed(_))));
        // The owner elsewhere is not locked out.
        let home = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 7));
        assert!(a.login(&Seen::new(home, None), "bob", "password1".into()).await.is_ok());
    }

    #[tokio::test]
    async fn sign_in_registers_then_logs_in() {
        let a = accounts();
        assert!(a.sign_in(&seen(), "carol", "password1".into()).await.unwrap().created);
        assert!(!a.sign_in(&seen(), "carol", "password1".into()).await.unwrap().created);
        assert!(matches!(a.sign_in(&seen(), "carol", "password2".into()).await, Err(AuthError::BadCredentials)));
    }

    #[tokio::test]
    async fn the_first_account_is_admin_and_the_policy_applies() {
        let a = accounts();
        let first = a.register(&seen(), "root", "password1".into(), None).await.unwrap();
        assert!(first.admin);
        assert!(!a.register(&seen(), "user1", "password1".into(), None).await.unwrap().admin);
        a.store.set_registration(Registration::Invite).unwrap();
        assert!(matches!(a.register(&seen(), "user2", "password1".into(), None).await, Err(AuthError::InvalidInvite)));
        let bogus = Some("0123456789abcdef0123456789abcdef");
        assert!(matches!(a.register(&seen(), "user2", "password1".into(), bogus).await, Err(AuthError::InvalidInvite)));
        assert!(matches!(a.sign_in(&seen(), "user2", "password1".into()).await, Err(AuthError::InvalidInvite)));
        // Existing accounts still log in over the first frame.
        assert!(a.sign_in(&seen(), "user1", "password1".into()).await.is_ok());
        a.store.set_registration(Registration::Closed).unwrap();
        assert!(matches!(
            a.register(&seen(), "user2", "password1".into(), bogus).await,
            Err(AuthError::RegistrationClosed)
        ));
    }

    #[tokio::test]
    async fn an_expired_invite_admits_nobody() {
        let a = accounts();
        a.register(&seen(), "root", "password1".into(), None).await.unwrap();
        a.store.set_registration(Registration::Invite).unwrap();
        let (code, hash) = random_code().unwrap();
        let now = now_ms();
        let expired = crate::account_store::Invite::new("root".parse().unwrap(), now, 5, Some(now));
        assert!(a.store.create_invite(hash, &expired, 10).unwrap());
        let r = a.register(&seen(), "late", "password1".into(), Some(&code)).await;
        assert!(matches!(r, Err(AuthError::InvalidInvite)), "{r:?}");
        // The same code, unexpired, works (and its case and spaces do not matter).
        let fresh = crate::account_store::Invite::new("root".parse().unwrap(), now, 5, None);
        assert!(a.store.create_invite(hash, &fresh, 10).unwrap());
        let spaced = format!("  {}  ", code.to_ascii_uppercase());
        assert!(a.register(&seen(), "late", "password1".into(), Some(&spaced)).await.is_ok());
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let a = accounts();
        assert!(token_hash("abc").is_none());
        assert!(matches!(a.authenticate(&"z".repeat(64), &seen()), Err(AuthError::Unauthorized)));
        assert!(matches!(a.authenticate(&"0".repeat(64), &seen()), Err(AuthError::Unauthorized)));
    }
}
