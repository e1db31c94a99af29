//! Administration: what a server administrator may do — list accounts, disable and enable
//! them, make password reset codes, make and revoke invite codes, set the registration mode,
//! create accounts — each recorded in the audit log. Every method here checks nothing about
//! the caller: the REST layer's `Admin` extractor has (it calls [`Accounts::require_admin`]).

use std::time::Duration;

use chat_core::{Timestamp, UserName};
use serde::Serialize;

use crate::account_store::{AuditEntry, Invite, ResetCode};
use crate::accounts::{Accounts, AuthError, Issued, Seen, TokenHash, blocking, now_ms, parse_user, random_code};
use crate::config::Registration;

/// Audit entries kept (older ones are dropped).
pub(crate) const AUDIT_KEEP: usize = 10_000;
/// Invites stored at most (used-up and expired ones are swept hourly).
pub(crate) const MAX_INVITES: usize = 1_000;
/// Most sign-ups one invite may allow.
pub(crate) const MAX_INVITE_USES: u32 = 1_000;
/// An invite's default lifetime, and the longest allowed.
pub(crate) const DEFAULT_INVITE_HOURS: u32 = 7 * 24;
pub(crate) const MAX_INVITE_HOURS: u32 = 365 * 24;
/// How long a password reset code works.
pub(crate) const RESET_CODE_TTL: Duration = Duration::from_secs(24 * 3600);
/// Accounts per page of `GET /api/admin/users`.
pub(crate) const MAX_USERS_PAGE: usize = 200;

/// An account as administrators see it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct UserView {
    pub(crate) username: UserName,
    pub(crate) created: Timestamp,
    pub(crate) last_seen: Option<Timestamp>,
    pub(crate) admin: bool,
    pub(crate) disabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) deleted: Option<Timestamp>,
}

/// An invite as administrators see it (never its code, which only its creator saw once).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct InviteView {
    pub(crate) id: String,
    pub(crate) created_by: UserName,
    pub(crate) created: Timestamp,
    pub(crate) uses_left: u32,
    pub(crate) used: u32,
    pub(crate) expires: Option<Timestamp>,
}

/// A new invite: the code (shown once) and its id.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct NewInvite {
    pub(crate) code: String,
    pub(crate) id: String,
    pub(crate) uses: u32,
    pub(crate) expires: Option<Timestamp>,
}

fn invite_id(hash: &[u8; 32]) -> String {
    hex::encode(&hash[..8])
}

impl Accounts {
    /// `Ok` when `user` is an active administrator, else [`AuthError::Forbidden`].
    pub(crate) fn require_admin(&self, user: &UserName) -> Result<(), AuthError> {
        match self.store.account(user)? {
            Some(a) if a.admin && a.is_active() => Ok(()),
            _ => Err(AuthError::Forbidden),
        }
    }

    /// Appends to the audit log; a failure is logged (the action itself is done).
    pub(crate) async fn audit_action(
        &self,
        actor: Option<&UserName>,
        action: &'static str,
        target: Option<String>,
        detail: Option<String>,
    ) {
        let mut entry = AuditEntry::new(now_ms(), actor.cloned(), action, target);
        if let Some(detail) = detail {
            entry = entry.with_detail(detail);
        }
        tracing::info!(actor = ?actor.map(UserName::as_str), action, target = ?entry.target, "admin action");
        let store = self.store.clone();
        if let Err(e) = blocking(move || store.append_audit(&entry, AUDIT_KEEP)).await {
            tracing::error!(error = %crate::accounts::ErrorChain(&e), action, "could not write the audit log");
        }
    }

    /// A page of accounts after `after` (by name).
    pub(crate) fn users(&self, after: Option<&str>, limit: Option<usize>) -> Result<(Vec<UserView>, bool), AuthError> {
        let after = after.map(parse_user).transpose()?;
        let limit = limit.unwrap_or(MAX_USERS_PAGE).clamp(1, MAX_USERS_PAGE);
        let mut page = self.store.accounts(after.as_ref(), limit + 1)?;
        let more = page.len() > limit;
        page.truncate(limit);
        let views = page
            .into_iter()
            .map(|a| UserView {
                admin: a.admin && a.deleted.is_none(),
                disabled: a.disabled,
                deleted: a.deleted,
                created: a.created,
                last_seen: a.last_seen,
                username: a.user,
            })
            .collect();
        Ok((views, more))
    }

    /// Disables or enables `target` (not oneself). Disabling deletes its tokens: returned, so
    /// the caller closes their sockets.
    pub(crate) async fn set_disabled(
        &self,
        admin: &UserName,
        target: &str,
        disabled: bool,
    ) -> Result<Vec<TokenHash>, AuthError> {
        let user = parse_user(target).map_err(|_| AuthError::UnknownAccount)?;
        if &user == admin {
            return Err(AuthError::Invalid("administrators cannot disable or enable themselves"));
        }
        let (store, u) = (self.store.clone(), user.clone());
        let ended = blocking(move || store.set_disabled(&u, disabled)).await?.ok_or(AuthError::UnknownAccount)?;
        let action = if disabled { "disable" } else { "enable" };
        let detail = disabled.then(|| format!("{} sessions ended", ended.len()));
        self.audit_action(Some(admin), action, Some(user.to_string()), detail).await;
        Ok(ended)
    }

    /// Makes a one-time reset code for `target` (replacing an earlier one), valid for a day.
    pub(crate) async fn reset_password(
        &self,
        admin: &UserName,
        target: &str,
    ) -> Result<(String, Timestamp), AuthError> {
        let user = parse_user(target).map_err(|_| AuthError::UnknownAccount)?;
        let (code, hash) = random_code()?;
        let now = now_ms();
        let expires = now.plus_millis(RESET_CODE_TTL.as_millis() as u64);
        let reset = ResetCode::new(hash, admin.clone(), now, expires);
        let (store, u) = (self.store.clone(), user.clone());
        if !blocking(move || store.put_reset(&u, &reset)).await? {
            return Err(AuthError::UnknownAccount);
        }
        self.audit_action(Some(admin), "reset_password", Some(user.to_string()), None).await;
        Ok((code, expires))
    }

    /// Makes an invite for `uses` sign-ups (default 1) that expires after `hours` (default a
    /// week).
    pub(crate) async fn create_invite(
        &self,
        admin: &UserName,
        uses: Option<u32>,
        hours: Option<u32>,
    ) -> Result<NewInvite, AuthError> {
        let uses = uses.unwrap_or(1);
        if !(1..=MAX_INVITE_USES).contains(&uses) {
            return Err(AuthError::Invalid("uses must be between 1 and 1000"));
        }
        let hours = hours.unwrap_or(DEFAULT_INVITE_HOURS);
        if !(1..=MAX_INVITE_HOURS).contains(&hours) {
            return Err(AuthError::Invalid("expires_in_hours must be between 1 and 8760"));
        }
        let (code, hash) = random_code()?;
        let now = now_ms();
        let expires = Some(now.plus_millis(u64::from(hours) * 3_600_000));
        let invite = Invite::new(admin.clone(), now, uses, expires);
        let store = self.store.clone();
        if !blocking(move || store.create_invite(hash, &invite, MAX_INVITES)).await? {
            return Err(AuthError::Invalid("too many invites; revoke some first"));
        }
        let id = invite_id(&hash);
        let detail = format!("{uses} uses, {hours} hours");
        self.audit_action(Some(admin), "invite_create", Some(id.clone()), Some(detail)).await;
        Ok(NewInvite { code, id, uses, expires })
    }

    /// Every live invite.
    pub(crate) fn invites(&self) -> Result<Vec<InviteView>, AuthError> {
        let now = now_ms();
        let mut out: Vec<InviteView> = self
            .store
            .invites()?
            .into_iter()
            .filter(|(_, i)| i.usable(now))
            .map(|(hash, i)| InviteView {
                id: invite_id(&hash),
                created_by: i.created_by,
                created: i.created,
                uses_left: i.uses_left,
                used: i.used,
                expires: i.expires,
            })
            .collect();
        out.sort_by_key(|b| std::cmp::Reverse(b.created));
        Ok(out)
    }

    /// Revokes the invite with this id.
    pub(crate) async fn revoke_invite(&self, admin: &UserName, id: &str) -> Result<(), AuthError> {
        let id = id.trim().to_ascii_lowercase();
        let prefix = hex::decode(&id).ok().filter(|p| p.len() == 8).ok_or(AuthError::UnknownInvite)?;
        let store = self.store.clone();
        if blocking(move || store.revoke_invite(&prefix)).await? == 0 {
            return Err(AuthError::UnknownInvite);
        }
        self.audit_action(Some(admin), "invite_revoke", Some(id), None).await;
        Ok(())
    }

    /// The audit log, newest first.
    pub(crate) fn audit(&self, before: Option<u64>, limit: Option<usize>) -> Result<Vec<AuditEntry>, AuthError> {
        Ok(self.store.audit(before, limit.unwrap_or(100).clamp(1, 500))?)
    }

    /// Sets the registration mode (kept across restarts unless `--registration` is given).
    pub(crate) async fn set_registration(&self, admin: Option<&UserName>, mode: Registration) -> Result<(), AuthError> {
        let store = self.store.clone();
        blocking(move || store.set_registration(mode)).await?;
        self.audit_action(admin, "registration", Some(mode.as_str().to_owned()), None).await;
        Ok(())
    }

    /// Creates an account whatever the registration mode; opens no session for it.
    pub(crate) async fn create_user(
        &self,
        admin: &UserName,
        seen: &Seen,
        username: &str,
        password: String,
    ) -> Result<Issued, AuthError> {
        let issued = self.create(seen, username, password, None).await?;
        // The administrator does not keep the new user's session.
        self.logout(&issued.hash).await?;
        self.audit_action(Some(admin), "create_user", Some(issued.user.to_string()), None).await;
        Ok(issued)
    }
}
