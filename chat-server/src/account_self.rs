//! Self-service: what a signed-in user may do to their own account — change the password
//! (ending every other session), list and end sessions, delete the account — and redeeming a
//! reset code an administrator made.

use chat_core::{Timestamp, UserName};
use serde::Serialize;

use crate::account_store::Redeemed;
use crate::accounts::{Accounts, AuthError, Caller, Issued, Seen, TokenHash, blocking, code_hash, now_ms, parse_user};
use crate::password::check_password;

/// A session as its owner sees it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SessionView {
    /// Names the session in `POST /api/account/sessions/revoke` (not the token, nor enough of
    /// its hash to find it without the owner's list).
    pub(crate) id: String,
    pub(crate) created: Timestamp,
    pub(crate) last_used: Option<Timestamp>,
    pub(crate) address: Option<String>,
    pub(crate) user_agent: Option<String>,
    /// The session of this request.
    pub(crate) current: bool,
}

/// The id of a session shown to its owner: the first 8 bytes of its token hash, in hex.
pub(crate) fn session_id(hash: &TokenHash) -> String {
    hex::encode(&hash[..8])
}

impl Accounts {
    /// Changes the caller's password (the old one must match) and ends every other session of
    /// theirs. Returns the ended sessions.
    pub(crate) async fn change_password(
        &self,
        caller: &Caller,
        seen: &Seen,
        old: String,
        new: String,
    ) -> Result<Vec<TokenHash>, AuthError> {
        check_password(&new)?;
        self.check_password_of(&caller.user, seen.addr, old, AuthError::WrongPassword).await?;
        let hash = self.pool.hash(new).await?;
        let (store, user, keep) = (self.store.clone(), caller.user.clone(), caller.token);
        let ended = blocking(move || store.set_password(&user, &hash, Some(&keep))).await?;
        ended.ok_or(AuthError::Unauthorized)
    }

    /// The caller's sessions, newest first (expired ones left out).
    pub(crate) fn sessions(&self, caller: &Caller) -> Result<Vec<SessionView>, AuthError> {
        let now = now_ms();
        let mut out: Vec<SessionView> = self
            .store
            .sessions(&caller.user)?
            .into_iter()
            .filter(|s| s.record.expires > now)
            .map(|s| {
                let meta = match self.pending_use(&s.token_hash) {
                    Some(pending) => pending.over(&s.meta),
                    None => s.meta,
                };
                SessionView {
                    id: session_id(&s.token_hash),
                    created: s.record.created,
                    last_used: meta.last_used,
                    address: meta.address,
                    user_agent: meta.user_agent,
                    current: s.token_hash == caller.token,
                }
            })
            .collect();
        out.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
        Ok(out)
    }

    /// Ends one of the caller's sessions, by the id [`sessions`](Accounts::sessions) showed.
    pub(crate) async fn revoke_session(&self, caller: &Caller, id: &str) -> Result<TokenHash, AuthError> {
        let id = id.trim().to_ascii_lowercase();
        let found = self.store.sessions(&caller.user)?.into_iter().find(|s| session_id(&s.token_hash) == id);
        let hash = found.ok_or(AuthError::UnknownSession)?.token_hash;
        self.logout(&hash).await?;
        Ok(hash)
    }

    /// Ends every session of the caller, this one included ("log out everywhere").
    pub(crate) async fn logout_all(&self, caller: &Caller) -> Result<Vec<TokenHash>, AuthError> {
        let (store, user) = (self.store.clone(), caller.user.clone());
        blocking(move || store.delete_sessions(&user, None)).await
    }

    /// Deletes the caller's account after checking the password: the name stays taken, every
    /// session ends. Returns the ended sessions.
    pub(crate) async fn delete_own(
        &self,
        caller: &Caller,
        seen: &Seen,
        password: String,
    ) -> Result<Vec<TokenHash>, AuthError> {
        self.check_password_of(&caller.user, seen.addr, password, AuthError::WrongPassword).await?;
        let (store, user) = (self.store.clone(), caller.user.clone());
        let ended = blocking(move || store.delete_account(&user, now_ms())).await?;
        ended.ok_or(AuthError::Unauthorized)
    }

    /// Redeems an administrator's reset code: sets the new password, ends every session of the
    /// user, and opens a new one. Returns the ended sessions and the new one.
    pub(crate) async fn redeem_reset(
        &self,
        seen: &Seen,
        username: &str,
        code: &str,
        new_password: String,
    ) -> Result<(Vec<TokenHash>, Issued), AuthError> {
        let user: UserName = parse_user(username).map_err(|_| AuthError::InvalidResetCode)?;
        check_password(&new_password)?;
        // The same throttles as a login: a code is a password for one use.
        let key = (user.clone(), seen.addr);
        if let Some(wait) = self.failures.wait(std::time::Instant::now(), &key) {
            return Err(AuthError::Delayed(wait));
        }
        let Some(code) = code_hash(code) else {
            self.failures.fail(std::time::Instant::now(), &key);
            return Err(AuthError::InvalidResetCode);
        };
        let hash = self.pool.hash(new_password).await?;
        let (store, u) = (self.store.clone(), user.clone());
        match blocking(move || store.redeem_reset(&u, &code, &hash, now_ms())).await? {
            Redeemed::Done(ended) => {
                self.failures.clear(&key);
                let account = self.store.account(&user)?.ok_or(AuthError::InvalidResetCode)?;
                if !account.is_active() {
                    return Err(AuthError::AccountDisabled);
                }
                let issued = self.issue(user, seen).await?;
                Ok((ended, issued))
            }
            _ => {
                self.failures.fail(std::time::Instant::now(), &key);
                Err(AuthError::InvalidResetCode)
            }
        }
    }
}
