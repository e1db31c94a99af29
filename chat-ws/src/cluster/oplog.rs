//! An operation log: a replicated state machine for state that lives beside the chat (the
//! server's accounts, sessions and invites), on its own JetStream stream.
//!
//! Any node appends an operation (no leader is involved: the stream orders concurrent appends);
//! every node applies every operation, in stream order, to its own copy of the state. When the
//! operations are deterministic functions of that state, every copy goes through the same
//! states, so "two nodes register the same name at once" has one winner everywhere: the
//! operation the stream holds first. [`OpLog::append`] returns once this node has applied the
//! operation, so the caller can read its outcome locally.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use async_nats::HeaderMap;
use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::context::Context;
use async_nats::jetstream::stream::{self, Stream};
use futures::{FutureExt, StreamExt};
use tokio::sync::watch;

use super::{ClusterConfig, ClusterError};

/// How long [`OpLog::append`] and [`OpLog::sync`] wait for this node to apply the log.
const APPLY_PATIENCE: Duration = Duration::from_secs(10);
/// The largest operation accepted (NATS's default `max_payload` is 1 MiB).
pub const MAX_OP_BYTES: usize = 512 * 1024;

/// Why applying an operation failed (the node retries it: the local copy must not skip one).
pub type ApplyError = Box<dyn std::error::Error + Send + Sync>;

/// Applies the operation at a stream sequence to this node's copy of the state. It must
/// record the sequence durably with (or after) the operation's effect, and be given that
/// sequence back as `from` when the node starts again.
pub type Apply = Box<dyn FnMut(u64, &[u8]) -> Result<(), ApplyError> + Send + 'static>;

/// A node's handle on one operation log (cheap to clone).
#[derive(Clone)]
pub struct OpLog {
    inner: Arc<Inner>,
}

struct Inner {
    js: Context,
    stream: Stream,
    subject: String,
    /// `node:process-start-nanos`, the prefix of this handle's message ids (a retried publish
    /// keeps its id, so JetStream stores it once).
    origin: String,
    next_id: AtomicU64,
    applied: watch::Receiver<u64>,
}

impl std::fmt::Debug for OpLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpLog").field("subject", &self.inner.subject).field("applied", &self.applied()).finish()
    }
}

impl OpLog {
    /// Opens the log `name` (1–32 of `a-z 0-9 _`) of the cluster, creating its stream if
    /// missing, and applies it with `apply` from the operation after `from` on, in the
    /// background, until `stop` turns true.
    pub(crate) async fn open(
        js: &Context,
        cluster: &ClusterConfig,
        name: &str,
        from: u64,
        apply: Apply,
        stop: watch::Receiver<bool>,
    ) -> Result<OpLog, ClusterError> {
        if name.is_empty()
            || name.len() > 32
            || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(ClusterError::Config("an operation log's name must be 1-32 of a-z 0-9 _"));
        }
        let (prefix, node) = (&cluster.prefix, &cluster.node_id);
        let subject = format!("{prefix}.ops.{name}");
        let config = stream::Config {
            name: format!("{prefix}_ops_{name}"),
            subjects: vec![subject.clone()],
            storage: stream::StorageType::File,
            num_replicas: cluster.replicas,
            duplicate_window: Duration::from_secs(120),
            max_message_size: MAX_OP_BYTES as i32,
            allow_direct: true,
            ..Default::default()
        };
        let stream = js.get_or_create_stream(config).await.map_err(ClusterError::nats)?;
        let (applied_tx, applied) = watch::channel(from);
        tokio::spawn(apply_forever(stream.clone(), from, Arc::new(Mutex::new(apply)), applied_tx, stop));
        let started = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let origin = format!("{node}:{}:{started}", std::process::id());
        let inner = Inner { js: js.clone(), stream, subject, origin, next_id: AtomicU64::new(1), applied };
        Ok(OpLog { inner: Arc::new(inner) })
    }

    /// The stream sequence of the last operation this node applied.
    pub fn applied(&self) -> u64 {
        *self.inner.applied.borrow()
    }

    /// Appends `op` and waits until this node has applied it (and so every operation before
    /// it); its stream sequence. A publish that times out is retried with the same message id.
    pub async fn append(&self, op: Vec<u8>) -> Result<u64, ClusterError> {
        if op.len() > MAX_OP_BYTES {
            return Err(ClusterError::Record(format!("an operation of {} bytes is too big", op.len())));
        }
        let id = format!("{}:{}", self.inner.origin, self.inner.next_id.fetch_add(1, Relaxed));
        let mut headers = HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, id.as_str());
        let payload = bytes::Bytes::from(op);
        let deadline = tokio::time::Instant::now() + APPLY_PATIENCE;
        let seq = loop {
            let js = &self.inner.js;
            let attempt = async {
                js.publish_with_headers(self.inner.subject.clone(), headers.clone(), payload.clone()).await?.await
            };
            match attempt.await {
                Ok(ack) => break ack.sequence,
                Err(e) if tokio::time::Instant::now() >= deadline => return Err(ClusterError::nats(e)),
                Err(e) => {
                    tracing::warn!(error = %e, "operation publish failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        self.applied_through(seq).await?;
        Ok(seq)
    }

    /// Waits until this node has applied every operation the log held when called (a read
    /// after it sees every append that returned before it, on any node); the log's end.
    pub async fn sync(&self) -> Result<u64, ClusterError> {
        let end = self.inner.stream.get_info().await.map_err(ClusterError::nats)?.state.last_sequence;
        self.applied_through(end).await?;
        Ok(end)
    }

    async fn applied_through(&self, seq: u64) -> Result<(), ClusterError> {
        let mut applied = self.inner.applied.clone();
        match tokio::time::timeout(APPLY_PATIENCE, applied.wait_for(|at| *at >= seq)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(ClusterError::NotApplied(seq)),
        }
    }
}

/// Applies the stream from `from + 1` on, starting again (at the first unapplied operation)
/// after an error, until `stop`.
async fn apply_forever(
    stream: Stream,
    mut at: u64,
    apply: Arc<Mutex<Apply>>,
    applied: watch::Sender<u64>,
    mut stop: watch::Receiver<bool>,
) {
    while !*stop.borrow() {
        let result = tokio::select! {
            _ = stop.changed() => return,
            result = apply_from(&stream, &mut at, &apply, &applied) => result,
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, at, "applying the operation log failed; starting again");
        }
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

async fn apply_from(
    stream: &Stream,
    at: &mut u64,
    apply: &Arc<Mutex<Apply>>,
    applied: &watch::Sender<u64>,
) -> Result<(), ClusterError> {
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig {
            deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: *at + 1 },
            ..Default::default()
        })
        .await
        .map_err(ClusterError::nats)?;
    let mut messages = consumer.messages().await.map_err(ClusterError::nats)?;
    loop {
        let mut batch = vec![messages.next().await];
        while batch.len() < 256 {
            match messages.next().now_or_never() {
                Some(next) => batch.push(next),
                None => break,
            }
        }
        let mut ops = Vec::with_capacity(batch.len());
        for next in batch {
            let message = match next {
                None => return Err(ClusterError::Record("the operation consumer ended".into())),
                Some(Err(e)) => return Err(ClusterError::nats(e)),
                Some(Ok(message)) => message,
            };
            let seq = message.info().map_err(|e| ClusterError::Record(e.to_string()))?.stream_sequence;
            ops.push((seq, message.payload.clone()));
        }
        let apply = apply.clone();
        let from = *at;
        // Applied on a blocking thread (store writes); the sequence it reached, and the error
        // that stopped it.
        let (reached, error) = tokio::task::spawn_blocking(move || {
            let mut apply = apply.lock().unwrap_or_else(PoisonError::into_inner);
            let mut reached = from;
            for (seq, payload) in ops {
                if seq <= reached {
                    continue;
                }
                if let Err(e) = apply(seq, &payload) {
                    return (reached, Some(e));
                }
                reached = seq;
            }
            (reached, None)
        })
        .await
        .map_err(|e| ClusterError::Record(e.to_string()))?;
        *at = reached;
        applied.send_replace(reached);
        if let Some(e) = error {
            return Err(ClusterError::Apply(e));
        }
    }
}
