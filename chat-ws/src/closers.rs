//! [`Closers`]: the close signal of every live session, by session and by login, shared by the
//! hub task and its handles so `kick` and `close_login` need no queue.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use chat_core::SessionId;

use crate::auth::LoginId;
use crate::frame::CloseNotice;
use crate::session::CloseSignal;

/// How long a closed login stays remembered: a socket that authenticated with it just before
/// the logout but connects after `close_login` is closed too. Authentication to connect takes
/// one trip through the hub's inbox, far less than this.
const REVOKED_FOR: Duration = Duration::from_secs(60);

/// Invariant: a session is in `by_login[l]` exactly when it is in `sessions` with login `l`;
/// no `by_login` entry is empty. `revoked` holds logins closed in the last `REVOKED_FOR`.
#[derive(Debug, Default)]
struct Inner {
    sessions: HashMap<SessionId, (Arc<CloseSignal>, Option<LoginId>)>,
    by_login: HashMap<LoginId, Vec<SessionId>>,
    revoked: HashMap<LoginId, Instant>,
}

/// The close signals of live sessions (one lock; taken per connect, disconnect and close).
#[derive(Debug, Default)]
pub(crate) struct Closers(Mutex<Inner>);

impl Closers {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a new session; `closed` is the notice it gets at once if its login was closed
    /// meanwhile.
    pub(crate) fn insert(
        &self,
        session: SessionId,
        signal: Arc<CloseSignal>,
        login: Option<LoginId>,
        closed: CloseNotice,
    ) {
        let mut inner = self.lock();
        if let Some(login) = &login {
            if inner.revoked.get(login).is_some_and(|at| at.elapsed() < REVOKED_FOR) {
                signal.close(closed);
            }
            inner.by_login.entry(login.clone()).or_default().push(session);
        }
        inner.sessions.insert(session, (signal, login));
    }

    pub(crate) fn remove(&self, session: SessionId) {
        let mut inner = self.lock();
        let Some((_, Some(login))) = inner.sessions.remove(&session) else { return };
        if let Some(list) = inner.by_login.get_mut(&login) {
            list.retain(|s| *s != session);
            if list.is_empty() {
                inner.by_login.remove(&login);
            }
        }
    }

    /// Signals one session; `false` if it is not live.
    pub(crate) fn close(&self, session: SessionId, notice: CloseNotice) -> bool {
        let inner = self.lock();
        match inner.sessions.get(&session) {
            Some((signal, _)) => {
                signal.close(notice);
                true
            }
            None => false,
        }
    }

    /// Signals every session of `login`; how many there were.
    pub(crate) fn close_login(&self, login: &LoginId, notice: CloseNotice) -> usize {
        let mut inner = self.lock();
        let now = Instant::now();
        inner.revoked.retain(|_, at| now.duration_since(*at) < REVOKED_FOR);
        inner.revoked.insert(login.clone(), now);
        let Some(list) = inner.by_login.get(login) else { return 0 };
        for session in list {
            if let Some((signal, _)) = inner.sessions.get(session) {
                signal.close(notice);
            }
        }
        list.len()
    }
}
