//! Password hashing with argon2id, off the async threads and bounded: `max_concurrent_hashes`
//! dedicated threads hash, and at most `max_hash_queue` requests wait for one, so a login flood
//! gets 503s instead of starving the chat.
//!
//! Dedicated long-lived threads rather than tokio's blocking pool: each argon2id hash allocates
//! its memory cost (19 MiB) and the allocator keeps a per-thread arena, so hashing on whichever
//! of up to 512 blocking threads happens to be free grows the resident set by tens of MiB per
//! thread. A fixed set of threads bounds that to `threads × memory cost`.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::oneshot;

use crate::config::PasswordCost;

/// Shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted, in characters.
pub const MAX_PASSWORD_CHARS: usize = 128;

/// Why hashing or verifying did not produce an answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HashError {
    /// Too many hashes are queued; try again later.
    #[error("too many password checks in progress")]
    Busy,
    /// argon2 failed (bad parameters or a corrupt stored hash).
    #[error("password hashing failed: {0}")]
    Argon2(String),
    /// The blocking task failed.
    #[error("password hashing task failed")]
    Task,
}

type Job = Box<dyn FnOnce() + Send>;

/// A bounded pool for argon2id work.
#[derive(Debug, Clone)]
pub(crate) struct PasswordPool {
    jobs: SyncSender<Job>,
    cost: PasswordCost,
}

impl PasswordPool {
    /// Starts `threads` hashing threads with a queue of `max_waiting` jobs. The threads end
    /// when the last clone of the pool is dropped.
    pub(crate) fn new(threads: usize, max_waiting: usize, cost: PasswordCost) -> PasswordPool {
        let (jobs, queue) = sync_channel::<Job>(max_waiting);
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads.max(1) {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new().name(format!("chat-password-{i}")).spawn(move || work(&queue));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        PasswordPool { jobs, cost }
    }

    /// A PHC string (`$argon2id$v=19$m=…`) for `password` with a fresh random salt.
    pub(crate) async fn hash(&self, password: String) -> Result<String, HashError> {
        let cost = self.cost;
        self.run(move || {
            let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
            hasher(cost)?
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| HashError::Argon2(e.to_string()))
        })
        .await
    }

    /// Whether `password` matches the stored PHC string. `None` as the stored hash burns the same
    /// work against a throwaway hash and answers `false`.
    pub(crate) async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, HashError> {
        let cost = self.cost;
        self.run(move || {
            let stored = match stored {
                Some(stored) => stored,
                None => {
                    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
                    let _ = hasher(cost)?.hash_password(password.as_bytes(), &salt);
                    return Ok(false);
                }
            };
            let parsed = PasswordHash::new(&stored).map_err(|e| HashError::Argon2(e.to_string()))?;
            // The stored hash carries its own parameters.
            Ok(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, HashError> + Send + 'static,
    ) -> Result<T, HashError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(work());
        });
        match self.jobs.try_send(job) {
            Ok(()) => rx.await.map_err(|_| HashError::Task)?,
            Err(TrySendError::Full(_)) => Err(HashError::Busy),
            Err(TrySendError::Disconnected(_)) => Err(HashError::Task),
        }
    }
}

/// A hashing thread: runs jobs until every sender is gone.
fn work(queue: &Mutex<Receiver<Job>>) {
    loop {
        // Hold the lock only to take a job, not while running it.
        let job = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

fn hasher(cost: PasswordCost) -> Result<Argon2<'static>, HashError> {
    let params =
        Params::new(cost.memory_kib, cost.iterations, 1, None).map_err(|e| HashError::Argon2(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Checks the password rules: 8–128 characters.
pub(crate) fn check_password(password: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        Err(format!("password must be at least {MIN_PASSWORD_CHARS} characters"))
    } else if chars > MAX_PASSWORD_CHARS {
        Err(format!("password must be at most {MAX_PASSWORD_CHARS} characters"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_then_verify() {
        let pool = PasswordPool::new(1, 4, PasswordCost::TESTING);
        let stored = pool.hash("correct horse".into()).await.unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(pool.verify("correct horse".into(), Some(stored.clone())).await.unwrap());
        assert!(!pool.verify("wrong horse".into(), Some(stored)).await.unwrap());
        assert!(!pool.verify("anything".into(), None).await.unwrap());
    }

    #[tokio::test]
    async fn a_full_queue_answers_busy_at_once() {
        let pool = PasswordPool::new(1, 1, PasswordCost::TESTING);
        // Occupy the only thread until told to stop.
        let (started_tx, started) = oneshot::channel();
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let busy = tokio::spawn({
            let pool = pool.clone();
            async move {
                pool.run(move || {
                    let _ = started_tx.send(());
                    let _ = wait.recv();
                    Ok(())
                })
                .await
            }
        });
        started.await.unwrap();
        // One job fits in the queue; beyond it requests are refused at once, without hashing.
        let queued = tokio::spawn({
            let pool = pool.clone();
            async move { pool.hash("password1".into()).await }
        });
        // Fill the queue (the spawned hash may or may not have taken the place already).
        while pool.jobs.try_send(Box::new(|| {})).is_ok() {}
        assert!(matches!(pool.hash("password1".into()).await, Err(HashError::Busy)));
        assert!(matches!(pool.verify("password1".into(), None).await, Err(HashError::Busy)));
        release.send(()).unwrap();
        busy.await.unwrap().unwrap();
        // Whatever was queued still completes (or was refused if the filler took its place).
        let _ = queued.await.unwrap();
        // Once the thread has drained the queue (the filler may still sit in it for a moment),
        // hashing works again.
        let mut result = pool.hash("password1".into()).await;
        for _ in 0..500 {
            if !matches!(result, Err(HashError::Busy)) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            result = pool.hash("password1".into()).await;
        }
        assert!(result.is_ok(), "{result:?}");
    }

    #[test]
    fn password_length_rules() {
        assert!(check_password("short").is_err());
        assert!(check_password("12345678").is_ok());
        assert!(check_password(&"x".repeat(129)).is_err());
    }
}
