//! Password hashing with argon2id, off the async threads and bounded: at most
//! `max_concurrent_hashes` hashes run at once (on the blocking pool) and at most `max_hash_queue`
//! requests wait for a slot, so a login flood gets 503s instead of starving the chat.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

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

/// A bounded pool for argon2id work.
#[derive(Debug, Clone)]
pub(crate) struct PasswordPool {
    slots: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    max_waiting: usize,
    cost: PasswordCost,
}

impl PasswordPool {
    pub(crate) fn new(concurrent: usize, max_waiting: usize, cost: PasswordCost) -> PasswordPool {
        PasswordPool {
            slots: Arc::new(Semaphore::new(concurrent.max(1))),
            waiting: Arc::new(AtomicUsize::new(0)),
            max_waiting,
            cost,
        }
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
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting + self.slots.available_permits() {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(HashError::Busy);
        }
        let permit = self.slots.clone().acquire_owned().await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        let permit = permit.map_err(|_| HashError::Task)?;
        let result = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await;
        result.map_err(|_| HashError::Task)?
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
        let pool = PasswordPool::new(1, 0, PasswordCost::TESTING);
        // Every slot taken and no room to wait: refused without hashing.
        let held = pool.slots.clone().acquire_owned().await.unwrap();
        assert!(matches!(pool.hash("password1".into()).await, Err(HashError::Busy)));
        assert!(matches!(pool.verify("password1".into(), None).await, Err(HashError::Busy)));
        drop(held);
        assert!(pool.hash("password1".into()).await.is_ok());
    }

    #[test]
    fn password_length_rules() {
        assert!(check_password("short").is_err());
        assert!(check_password("12345678").is_ok());
        assert!(check_password(&"x".repeat(129)).is_err());
    }
}
