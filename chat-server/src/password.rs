//! Password hashing with argon2id, off the async threads and bounded: `max_concurrent_hashes`
//! dedicated threads hash, and at most `max_hash_queue` requests wait for one, so a login flood
//! gets 503s instead of starving the chat.
//!
//! Dedicated long-lived threads rather than tokio's blocking pool, and each thread owns one
//! argon2 memory block that every hash on it reuses (`hash_password_into_with_memory`):
//! allocating 19 MiB per hash let glibc's arenas keep freed blocks (its mmap threshold rises
//! after the first free), so the resident set grew with every registration. Now it is bounded
//! by `threads × memory cost`, allocated once.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
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
    /// argon2 failed (bad parameters).
    #[error("argon2 failed")]
    Argon2(#[from] argon2::Error),
    /// A PHC string could not be read or written (a corrupt stored hash).
    #[error("bad password hash string")]
    Phc(#[from] argon2::password_hash::Error),
    /// The blocking task failed.
    #[error("password hashing task failed")]
    Task,
}

type Job = Box<dyn FnOnce(&mut Memory) + Send>;

/// A hashing thread's argon2 memory, reused by every hash on that thread (grown, never shrunk,
/// to the largest memory cost seen: the configured one, or a stored hash's own).
#[derive(Default)]
pub(crate) struct Memory(Vec<Block>);

impl Memory {
    /// argon2 of `password` and `salt` into `out`, in this memory.
    fn hash_into(
        &mut self,
        algorithm: Algorithm,
        version: Version,
        params: Params,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> Result<(), HashError> {
        let blocks = params.block_count();
        if self.0.len() < blocks {
            self.0.resize(blocks, Block::default());
        }
        Argon2::new(algorithm, version, params)
            .hash_password_into_with_memory(password, salt, out, &mut self.0[..blocks])
            .map_err(HashError::Argon2)
    }

    /// A PHC string (`$argon2id$v=19$m=…`) for `password` with a fresh random salt.
    fn hash(&mut self, cost: PasswordCost, password: &[u8]) -> Result<String, HashError> {
        let params = params(cost)?;
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        let mut salt_bytes = [0u8; 64];
        let salt_bytes = salt.as_salt().decode_b64(&mut salt_bytes)?;
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        self.hash_into(Algorithm::Argon2id, Version::V0x13, params.clone(), password, salt_bytes, &mut out)?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params)?,
            salt: Some(salt.as_salt()),
            hash: Some(Output::new(&out)?),
        };
        Ok(phc.to_string())
    }

    /// Whether `password` matches the PHC string `stored` (which carries its own parameters).
    fn verify(&mut self, password: &[u8], stored: &str) -> Result<bool, HashError> {
        let parsed = PasswordHash::new(stored)?;
        let algorithm = Algorithm::try_from(parsed.algorithm)?;
        let version = parsed.version.map(Version::try_from).transpose()?.unwrap_or_default();
        let params = Params::try_from(&parsed)?;
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return Err(HashError::Phc(argon2::password_hash::Error::PhcStringField));
        };
        let mut salt_bytes = [0u8; 64];
        let salt_bytes = salt.decode_b64(&mut salt_bytes)?;
        let mut out = vec![0u8; expected.len()];
        self.hash_into(algorithm, version, params, password, salt_bytes, &mut out)?;
        // `Output` compares in constant time.
        Ok(Output::new(&out)? == expected)
    }
}

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
        self.run(move |memory| memory.hash(cost, password.as_bytes())).await
    }

    /// Whether `password` matches the stored PHC string. `None` as the stored hash burns the same
    /// work against a throwaway hash and answers `false`.
    pub(crate) async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, HashError> {
        let cost = self.cost;
        self.run(move |memory| match stored {
            Some(stored) => memory.verify(password.as_bytes(), &stored),
            None => {
                let _ = memory.hash(cost, password.as_bytes());
                Ok(false)
            }
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Memory) -> Result<T, HashError> + Send + 'static,
    ) -> Result<T, HashError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |memory| {
            let _ = tx.send(work(memory));
        });
        match self.jobs.try_send(job) {
            Ok(()) => rx.await.map_err(|_| HashError::Task)?,
            Err(TrySendError::Full(_)) => Err(HashError::Busy),
            Err(TrySendError::Disconnected(_)) => Err(HashError::Task),
        }
    }
}

/// A hashing thread: runs jobs, in its one reused memory block, until every sender is gone.
fn work(queue: &Mutex<Receiver<Job>>) {
    let mut memory = Memory::default();
    loop {
        // Hold the lock only to take a job, not while running it.
        let job = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(&mut memory),
            Err(_) => return,
        }
    }
}

fn params(cost: PasswordCost) -> Result<Params, HashError> {
    Ok(Params::new(cost.memory_kib, cost.iterations, 1, None)?)
}

/// A password rule a new password breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum PasswordRule {
    /// Fewer than [`MIN_PASSWORD_CHARS`] characters.
    #[error("password must be at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    /// More than [`MAX_PASSWORD_CHARS`] characters.
    #[error("password must be at most {MAX_PASSWORD_CHARS} characters")]
    TooLong,
}

/// Checks the password rules: 8–128 characters.
pub(crate) fn check_password(password: &str) -> Result<(), PasswordRule> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        Err(PasswordRule::TooShort)
    } else if chars > MAX_PASSWORD_CHARS {
        Err(PasswordRule::TooLong)
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
                pool.run(move |_| {
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
        while pool.jobs.try_send(Box::new(|_| {})).is_ok() {}
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

    #[tokio::test]
    async fn hashes_are_standard_phc_strings() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let pool = PasswordPool::new(1, 4, PasswordCost::TESTING);
        // Ours verify with the reference implementation, and the reference's verify with ours.
        let ours = pool.hash("correct horse".into()).await.unwrap();
        assert!(ours.starts_with("$argon2id$v=19$m=256,t=1,p=1$"), "{ours}");
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default().verify_password(b"correct horse", &parsed).is_ok());
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(512, 2, 1, None).unwrap())
            .hash_password(b"battery staple", &salt)
            .unwrap()
            .to_string();
        assert!(pool.verify("battery staple".into(), Some(theirs.clone())).await.unwrap());
        assert!(!pool.verify("battery stapler".into(), Some(theirs)).await.unwrap());
        assert!(pool.verify("x".into(), Some("not a hash".into())).await.is_err());
    }

    #[test]
    fn password_length_rules() {
        assert!(check_password("short").is_err());
        assert!(check_password("12345678").is_ok());
        assert!(check_password(&"x".repeat(129)).is_err());
    }
}
