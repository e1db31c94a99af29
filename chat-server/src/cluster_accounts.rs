//! Cluster-wide accounts (feature `cluster`): an [`AccountStore`] whose every write is an
//! operation on the cluster's `accounts` [`OpLog`], applied by every node, in the log's order,
//! to its own chat-store. Reads are local.
//!
//! - A write publishes its operation and returns once this node has applied it, with the
//!   outcome this node's store computed. Every store method is a deterministic function of the
//!   store and its arguments (times are taken by the caller and travel in the operation), so
//!   every node computes the same outcome: of two registrations of one name on two nodes, the
//!   one the log holds first wins on every node, and the other is `NameTaken` everywhere.
//! - Another node's operation that ends sessions (a logout, a password change, a disabled or
//!   deleted account, an eviction) closes this node's sockets of those sessions when applied.
//! - A read that finds no token or no account first waits until this node has applied the whole
//!   log (one JetStream request), then reads again: a token issued on another node a moment ago
//!   works on the next request anywhere. A revocation takes effect on another node when that
//!   node applies it (milliseconds on a healthy cluster).
//! - The applied position is stored (`cluster.accounts_position`) after each operation, in its
//!   own transaction: a crash between the two re-applies one operation on restart, which every
//!   operation tolerates (a second registration is `NameTaken`; at worst one audit entry twice).
//!
//! `docs/scaling.md` has the reasons for this design.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use chat_core::{Timestamp, UserName};
use chat_ws::cluster::{ApplyError, ClusterError, ClusterNode, OpLog};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use crate::account_store::{Account, AuditEntry, REGISTRATION_KEY, Session};
use crate::account_store::{
    AccountStore, AccountStoreError, Hash, Invite, NewAccount, Redeemed, Registered, ResetCode, SessionMeta, TokenInfo,
};
use crate::config::Registration;

/// The settings key of the last operation applied to this store.
const POSITION_KEY: &str = "cluster.accounts_position";
/// Session uses per touch operation (an operation stays far below the log's size limit).
const TOUCHES_PER_OP: usize = 1_000;

/// One write, as the log carries it.
#[derive(Debug, Serialize, Deserialize)]
enum Op {
    Register { user: UserName, password_hash: String, now: Timestamp, invite: Option<Hash> },
    SetDisabled { user: UserName, disabled: bool },
    SetPassword { user: UserName, hash: String, keep: Option<Hash> },
    DeleteAccount { user: UserName, now: Timestamp },
    PutSession { hash: Hash, user: UserName, created: Timestamp, expires: Timestamp, meta: SessionMeta, max: usize },
    DeleteToken { hash: Hash },
    DeleteSessions { user: UserName, keep: Option<Hash> },
    TouchSessions { uses: Vec<(Hash, SessionMeta)> },
    DeleteExpired { now: Timestamp },
    CreateInvite { hash: Hash, invite: Invite, max_live: usize },
    RevokeInvite { prefix: Vec<u8> },
    PutReset { user: UserName, code: ResetCode },
    RedeemReset { user: UserName, code: Hash, password_hash: String, now: Timestamp },
    AppendAudit { entry: AuditEntry, keep: usize },
    SetRegistration { mode: String },
}

/// An operation and who is waiting for its outcome.
#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    /// The appending process (`node:pid:start`), so only it picks up the outcome.
    origin: String,
    id: u64,
    op: Op,
}

/// `enum Outcome` with one variant per type an operation's outcome can have (each variant
/// carries a different type), and [`FromOutcome`] for each of those types.
macro_rules! outcomes {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        /// What applying an operation gave.
        #[derive(Debug)]
        enum Outcome {
            $($variant($ty),)*
        }

        $(impl FromOutcome for $ty {
            fn from_outcome(outcome: Outcome) -> Result<$ty, Outcome> {
                match outcome {
                    Outcome::$variant(value) => Ok(value),
                    other => Err(other),
                }
            }
        })*
    };
}

outcomes!(
    Registered(Registered),
    Ended(Option<Vec<Hash>>),
    Evicted(Vec<Hash>),
    Redeemed(Redeemed),
    Count(usize),
    Done(bool),
    AuditId(u64),
    Unit(()),
);

/// An [`Outcome`] as the value an [`AccountStore`] method returns: the method's return type
/// says which variant its operation must give (another one is a bug, returned as an error).
trait FromOutcome: Sized {
    fn from_outcome(outcome: Outcome) -> Result<Self, Outcome>;
}

/// Closes this node's sockets of sessions another node ended.
pub(crate) type OnEnded = Box<dyn Fn(&[Hash]) + Send + Sync>;

type Waiters = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Outcome, chat_store::StoreError>>>>>;

/// The accounts of a cluster node.
pub(crate) struct ClusterAccounts {
    local: chat_store::Store,
    log: OpLog,
    origin: String,
    next_id: AtomicU64,
    waiters: Waiters,
    runtime: tokio::runtime::Handle,
}

impl ClusterAccounts {
    /// Joins the `accounts` log of `node`'s cluster and applies it to `local` from where `local`
    /// is; returns once `local` has caught up with the log (or after the log's patience).
    /// `on_ended` is set by the caller once the server's sockets exist.
    pub(crate) async fn start(
        node: &ClusterNode,
        local: chat_store::Store,
        on_ended: Arc<OnceLock<OnEnded>>,
    ) -> Result<ClusterAccounts, ClusterError> {
        let from = match local.meta(POSITION_KEY)? {
            Some(bytes) => u64::from_be_bytes(bytes.as_slice().try_into().unwrap_or_default()),
            None => 0,
        };
        let started = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let origin = format!("{}:{}:{}", node.status().node_id, std::process::id(), started.as_nanos());
        let waiters: Waiters = Arc::default();
        let applier = Applier { store: local.clone(), origin: origin.clone(), waiters: waiters.clone(), on_ended };
        let log = node.op_log("accounts", from, Box::new(move |seq, bytes| applier.apply(seq, bytes))).await?;
        if let Err(e) = log.sync().await {
            tracing::warn!(error = %e, "the accounts log is not caught up yet; serving from the local copy");
        }
        Ok(ClusterAccounts {
            local,
            log,
            origin,
            next_id: AtomicU64::new(1),
            waiters,
            runtime: tokio::runtime::Handle::current(),
        })
    }

    /// Runs `future` to its end from synchronous code: the store's methods are called on
    /// blocking threads, and sometimes on a worker of the (multi-threaded) runtime.
    fn wait<T>(&self, future: impl std::future::Future<Output = T>) -> T {
        tokio::task::block_in_place(|| self.runtime.block_on(future))
    }

    /// Appends `op`, waits until it is applied here, and returns its outcome as the type the
    /// caller's method returns (see [`FromOutcome`]).
    fn write<T: FromOutcome>(&self, op: Op) -> Result<T, AccountStoreError> {
        let id = self.next_id.fetch_add(1, Relaxed);
        let (tx, mut rx) = oneshot::channel();
        self.waiters.lock().unwrap_or_else(PoisonError::into_inner).insert(id, tx);
        let envelope = Envelope { origin: self.origin.clone(), id, op };
        let appended = rmp_serde::to_vec_named(&envelope)
            .map_err(|e| ClusterError::Record(e.to_string()))
            .and_then(|bytes| self.wait(self.log.append(bytes)));
        self.waiters.lock().unwrap_or_else(PoisonError::into_inner).remove(&id);
        appended.map_err(AccountStoreError::Cluster)?;
        let outcome = match rx.try_recv() {
            Ok(outcome) => outcome?,
            Err(_) => return Err(AccountStoreError::Cluster(ClusterError::Record("no outcome".into()))),
        };
        T::from_outcome(outcome)
            .map_err(|other| AccountStoreError::Cluster(ClusterError::Record(format!("unexpected outcome {other:?}"))))
    }

    /// A read that finds nothing here waits until this node has applied the whole log, then
    /// reads again (a token or account made on another node a moment ago).
    fn read_synced<T>(
        &self,
        read: impl Fn(&chat_store::Store) -> Result<Option<T>, AccountStoreError>,
    ) -> Result<Option<T>, AccountStoreError> {
        if let Some(found) = read(&self.local)? {
            return Ok(Some(found));
        }
        self.sync()?;
        read(&self.local)
    }

    /// Waits until this node has applied the whole log (a read that missed tries again after).
    fn sync(&self) -> Result<(), AccountStoreError> {
        self.wait(self.log.sync()).map(drop).map_err(AccountStoreError::Cluster)
    }
}

/// Applies the log to this node's store (on the log's blocking thread).
struct Applier {
    store: chat_store::Store,
    origin: String,
    waiters: Waiters,
    on_ended: Arc<OnceLock<OnEnded>>,
}

impl Applier {
    fn apply(&self, seq: u64, bytes: &[u8]) -> Result<(), ApplyError> {
        let Ok(envelope) = rmp_serde::from_slice::<Envelope>(bytes) else {
            // From a newer node: this one cannot apply it, and must not stop at it.
            tracing::error!(seq, "an accounts operation does not decode; skipped");
            self.store.put_meta(POSITION_KEY, &seq.to_be_bytes())?;
            return Ok(());
        };
        let outcome = self.run(envelope.op);
        let failed = matches!(&outcome, Err(e) if is_io(e));
        if envelope.origin == self.origin {
            if let Some(waiter) = self.waiters.lock().unwrap_or_else(PoisonError::into_inner).remove(&envelope.id) {
                let _ = waiter.send(outcome);
            }
        } else if let Ok(outcome) = &outcome {
            let ended: &[Hash] = match outcome {
                Outcome::Ended(Some(tokens)) | Outcome::Evicted(tokens) | Outcome::Redeemed(Redeemed::Done(tokens)) => {
                    tokens
                }
                _ => &[],
            };
            if let (false, Some(close)) = (ended.is_empty(), self.on_ended.get()) {
                close(ended);
            }
        }
        if failed {
            // The store could not write: apply this operation again rather than skip it.
            return Err("the local store failed".into());
        }
        self.store.put_meta(POSITION_KEY, &seq.to_be_bytes())?;
        Ok(())
    }

    fn run(&self, op: Op) -> Result<Outcome, chat_store::StoreError> {
        let s = &self.store;
        Ok(match op {
            Op::Register { user, password_hash, now, invite } => {
                let new = NewAccount::new(&user, &password_hash, now);
                Outcome::Registered(s.register_account(&match invite {
                    Some(code) => new.with_invite(code),
                    None => new,
                })?)
            }
            Op::SetDisabled { user, disabled } => Outcome::Ended(s.set_disabled(&user, disabled)?),
            Op::SetPassword { user, hash, keep } => Outcome::Ended(s.set_password(&user, &hash, keep.as_ref())?),
            Op::DeleteAccount { user, now } => Outcome::Ended(s.delete_account(&user, now)?),
            Op::PutSession { hash, user, created, expires, meta, max } => {
                let record = chat_store::TokenRecord { user, created, expires };
                Outcome::Evicted(s.put_session(hash, &record, &meta, max)?)
            }
            Op::DeleteToken { hash } => {
                s.delete_token(&hash)?;
                Outcome::Ended(Some(vec![hash]))
            }
            Op::DeleteSessions { user, keep } => Outcome::Evicted(s.delete_sessions(&user, keep.as_ref())?),
            Op::TouchSessions { uses } => {
                s.touch_sessions(&uses)?;
                Outcome::Unit(())
            }
            Op::DeleteExpired { now } => {
                s.delete_spent_invites(now)?;
                Outcome::Count(s.delete_expired_tokens(now)?)
            }
            Op::CreateInvite { hash, invite, max_live } => Outcome::Done(s.create_invite(hash, &invite, max_live)?),
            Op::RevokeInvite { prefix } => Outcome::Count(s.revoke_invite(&prefix)?),
            Op::PutReset { user, code } => Outcome::Done(s.put_reset(&user, &code)?),
            Op::RedeemReset { user, code, password_hash, now } => {
                Outcome::Redeemed(s.redeem_reset(&user, &code, &password_hash, now)?)
            }
            Op::AppendAudit { entry, keep } => Outcome::AuditId(s.append_audit(&entry, keep)?),
            Op::SetRegistration { mode } => {
                s.put_meta(REGISTRATION_KEY, mode.as_bytes())?;
                Outcome::Unit(())
            }
        })
    }
}

/// Whether a store error is the store failing, so that applying again may succeed (a damaged
/// row fails the same way every time: the operation is skipped, as on a single node).
fn is_io(error: &chat_store::StoreError) -> bool {
    matches!(error, chat_store::StoreError::Storage(_) | chat_store::StoreError::Reopen(_))
}

impl AccountStore for ClusterAccounts {
    fn register(&self, new: &NewAccount<'_>) -> Result<Registered, AccountStoreError> {
        self.write(Op::Register {
            user: new.user.clone(),
            password_hash: new.password_hash.to_owned(),
            now: new.now,
            invite: new.invite,
        })
    }

    fn account(&self, user: &UserName) -> Result<Option<Account>, AccountStoreError> {
        self.read_synced(|local| AccountStore::account(local, user))
    }

    fn accounts(&self, after: Option<&UserName>, limit: usize) -> Result<Vec<Account>, AccountStoreError> {
        AccountStore::accounts(&self.local, after, limit)
    }

    fn set_disabled(&self, user: &UserName, disabled: bool) -> Result<Option<Vec<Hash>>, AccountStoreError> {
        self.write(Op::SetDisabled { user: user.clone(), disabled })
    }

    fn set_password(
        &self,
        user: &UserName,
        hash: &str,
        keep: Option<&Hash>,
    ) -> Result<Option<Vec<Hash>>, AccountStoreError> {
        self.write(Op::SetPassword { user: user.clone(), hash: hash.to_owned(), keep: keep.copied() })
    }

    fn delete_account(&self, user: &UserName, now: Timestamp) -> Result<Option<Vec<Hash>>, AccountStoreError> {
        self.write(Op::DeleteAccount { user: user.clone(), now })
    }

    fn put_session(
        &self,
        hash: Hash,
        info: &TokenInfo,
        meta: &SessionMeta,
        max_per_user: usize,
    ) -> Result<Vec<Hash>, AccountStoreError> {
        self.write(Op::PutSession {
            hash,
            user: info.user.clone(),
            created: info.created,
            expires: info.expires,
            meta: meta.clone(),
            max: max_per_user,
        })
    }

    fn token(&self, hash: &Hash) -> Result<Option<TokenInfo>, AccountStoreError> {
        self.read_synced(|local| AccountStore::token(local, hash))
    }

    fn sessions(&self, user: &UserName) -> Result<Vec<Session>, AccountStoreError> {
        AccountStore::sessions(&self.local, user)
    }

    fn delete_token(&self, hash: &Hash) -> Result<(), AccountStoreError> {
        // Its outcome names the ended session, for the other nodes (`Applier::apply`).
        self.write::<Option<Vec<Hash>>>(Op::DeleteToken { hash: *hash }).map(drop)
    }

    fn delete_sessions(&self, user: &UserName, keep: Option<&Hash>) -> Result<Vec<Hash>, AccountStoreError> {
        self.write(Op::DeleteSessions { user: user.clone(), keep: keep.copied() })
    }

    fn touch_sessions(&self, uses: &[(Hash, SessionMeta)]) -> Result<(), AccountStoreError> {
        for chunk in uses.chunks(TOUCHES_PER_OP) {
            self.write::<()>(Op::TouchSessions { uses: chunk.to_vec() })?;
        }
        Ok(())
    }

    fn delete_expired(&self, now: Timestamp) -> Result<usize, AccountStoreError> {
        self.write(Op::DeleteExpired { now })
    }

    fn create_invite(&self, hash: Hash, invite: &Invite, max_live: usize) -> Result<bool, AccountStoreError> {
        self.write(Op::CreateInvite { hash, invite: invite.clone(), max_live })
    }

    fn invites(&self) -> Result<Vec<(Hash, Invite)>, AccountStoreError> {
        AccountStore::invites(&self.local)
    }

    fn revoke_invite(&self, prefix: &[u8]) -> Result<usize, AccountStoreError> {
        self.write(Op::RevokeInvite { prefix: prefix.to_vec() })
    }

    fn put_reset(&self, user: &UserName, code: &ResetCode) -> Result<bool, AccountStoreError> {
        self.write(Op::PutReset { user: user.clone(), code: code.clone() })
    }

    fn redeem_reset(
        &self,
        user: &UserName,
        code: &Hash,
        password_hash: &str,
        now: Timestamp,
    ) -> Result<Redeemed, AccountStoreError> {
        self.write(Op::RedeemReset { user: user.clone(), code: *code, password_hash: password_hash.to_owned(), now })
    }

    fn append_audit(&self, entry: &AuditEntry, keep: usize) -> Result<u64, AccountStoreError> {
        self.write(Op::AppendAudit { entry: entry.clone(), keep })
    }

    fn audit(&self, before: Option<u64>, limit: usize) -> Result<Vec<AuditEntry>, AccountStoreError> {
        AccountStore::audit(&self.local, before, limit)
    }

    fn registration(&self) -> Result<Option<Registration>, AccountStoreError> {
        AccountStore::registration(&self.local)
    }

    fn set_registration(&self, mode: Registration) -> Result<(), AccountStoreError> {
        self.write(Op::SetRegistration { mode: mode.as_str().to_owned() })
    }
}
