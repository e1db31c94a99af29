//! The replicated log: one JetStream stream with one subject, one record per group commit (or
//! per part of one, see [`MAX_RECORD_BYTES`]), and the fold of the stream into a local store.
//!
//! The stream has a single subject, so a record's stream sequence is its subject sequence and a
//! publisher that states `Nats-Expected-Last-Subject-Sequence: p` appends at `p + 1` or not at
//! all: the fence. `Nats-Msg-Id` (`node:epoch:position`) makes a retried publish of the same
//! record a no-op that answers with the sequence it got the first time.

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::context::{Context, PublishErrorKind};
use async_nats::jetstream::stream::{self, Stream};
use chat_core::LogEntry;
use chat_store::Store;
use futures::{FutureExt, StreamExt};
use serde::{Deserialize, Serialize};

use super::{ClusterError, Names, SharedCounters};
use crate::SearchSeam;
use crate::search::Searches;

/// The settings key under which a store keeps how much of the log it folded (big-endian u64),
/// written in the same transaction as the entries ([`Store::append_with_meta`]).
pub(crate) const POSITION_KEY: &str = "cluster.log_position";

/// A record's payload stays under this (NATS refuses messages over `max_payload`, 1 MiB by
/// default); a bigger group commit is split into several records, published in order, and
/// acknowledged only when all are in.
pub(crate) const MAX_RECORD_BYTES: usize = 512 * 1024;

/// How long a publish is retried (same id, same fence) before the leader gives up and steps
/// down.
const PUBLISH_PATIENCE: Duration = Duration::from_secs(5);

/// One record of the log.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Record {
    /// The epoch of the leader that wrote it.
    pub(crate) epoch: u64,
    /// That leader's node id.
    pub(crate) node: String,
    /// The entries, in order (none for the record that opens an epoch).
    pub(crate) entries: Vec<LogEntry>,
}

impl Record {
    fn encode(&self) -> Result<Vec<u8>, ClusterError> {
        rmp_serde::to_vec_named(self).map_err(|e| ClusterError::Record(e.to_string()))
    }

    fn decode(bytes: &[u8]) -> Result<Record, ClusterError> {
        rmp_serde::from_slice(bytes).map_err(|e| ClusterError::Record(e.to_string()))
    }
}

/// The stream, created if missing.
pub(crate) async fn ensure_stream(js: &Context, names: &Names, replicas: usize) -> Result<Stream, ClusterError> {
    let config = stream::Config {
        name: names.stream(),
        subjects: vec![names.log_subject()],
        storage: stream::StorageType::File,
        num_replicas: replicas,
        duplicate_window: Duration::from_secs(120),
        allow_direct: true,
        ..Default::default()
    };
    js.get_or_create_stream(config).await.map_err(ClusterError::nats)
}

/// The stream's last sequence.
pub(crate) async fn log_end(stream: &Stream) -> Result<u64, ClusterError> {
    Ok(stream.get_info().await.map_err(ClusterError::nats)?.state.last_sequence)
}

/// How much of the log `store` folded.
pub(crate) fn position(store: &Store) -> Result<u64, ClusterError> {
    Ok(match store.meta(POSITION_KEY)? {
        Some(bytes) => {
            u64::from_be_bytes(bytes.as_slice().try_into().map_err(|_| ClusterError::Record("bad position".into()))?)
        }
        None => 0,
    })
}

/// Appends `entries` to `store` and records `position`, in one transaction.
pub(crate) fn fold_into(store: &mut Store, entries: &[LogEntry], position: u64) -> Result<(), ClusterError> {
    Ok(store.append_with_meta(entries, POSITION_KEY, &position.to_be_bytes())?)
}

/// Splits a batch into records of at most [`MAX_RECORD_BYTES`] (each entry is far smaller).
pub(crate) fn records(epoch: u64, node: &str, entries: &[LogEntry]) -> Result<Vec<Vec<u8>>, ClusterError> {
    let record = Record { epoch, node: node.to_owned(), entries: entries.to_vec() };
    let bytes = record.encode()?;
    if bytes.len() <= MAX_RECORD_BYTES || entries.len() <= 1 {
        return Ok(vec![bytes]);
    }
    let (a, b) = entries.split_at(entries.len() / 2);
    let mut out = records(epoch, node, a)?;
    out.extend(records(epoch, node, b)?);
    Ok(out)
}

/// Publishes one record at `expected + 1`. `Err(Deposed)` when the log has moved on (another
/// leader appended): the fence. Transient failures (timeouts, a NATS reconnect) are retried with
/// the same message id for [`PUBLISH_PATIENCE`]; a retry of a record that did land is answered
/// as a duplicate with its sequence.
pub(crate) async fn publish(
    js: &Context,
    names: &Names,
    node: &str,
    epoch: u64,
    expected: u64,
    payload: Vec<u8>,
) -> Result<u64, ClusterError> {
    let mut headers = HeaderMap::new();
    headers.insert(async_nats::header::NATS_MESSAGE_ID, format!("{node}:{epoch}:{}", expected + 1).as_str());
    headers.insert(async_nats::header::NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, expected.to_string().as_str());
    let payload = bytes::Bytes::from(payload);
    let deadline = tokio::time::Instant::now() + PUBLISH_PATIENCE;
    loop {
        let attempt =
            async { js.publish_with_headers(names.log_subject(), headers.clone(), payload.clone()).await?.await };
        let error = match attempt.await {
            Ok(ack) if ack.sequence == expected + 1 => return Ok(ack.sequence),
            // A duplicate of an older record with the same id: not ours to claim.
            Ok(_) => return Err(ClusterError::Deposed),
            Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => return Err(ClusterError::Deposed),
            Err(e) => e,
        };
        if tokio::time::Instant::now() >= deadline {
            return Err(ClusterError::nats(error));
        }
        tracing::warn!(error = %error, "log publish failed; retrying");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Folds the stream into `store` from its position on, until `until` (when given) is reached or
/// `stop` resolves. Returns the position reached. Records arriving together are folded in one
/// transaction, and then given to the search index (as a leader's hub gives its commits), so a
/// follower that takes over has indexed what it folded.
pub(crate) async fn follow(
    stream: &Stream,
    store: &Store,
    counters: &SharedCounters,
    index: &Option<SearchSeam>,
    until: Option<u64>,
    stop: impl std::future::Future<Output = ()>,
) -> Result<u64, ClusterError> {
    let mut at = position(store)?;
    counters.positioned(at);
    if until.is_some_and(|u| at >= u) {
        return Ok(at);
    }
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig {
            deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: at + 1 },
            ..Default::default()
        })
        .await
        .map_err(ClusterError::nats)?;
    let mut messages = consumer.messages().await.map_err(ClusterError::nats)?;
    tokio::pin!(stop);
    loop {
        let first = tokio::select! {
            () = &mut stop => return Ok(at),
            next = messages.next() => next,
        };
        let mut batch = vec![first];
        while batch.len() < 256 {
            match messages.next().now_or_never() {
                Some(next) => batch.push(next),
                None => break,
            }
        }
        let mut entries = Vec::new();
        let mut next_at = at;
        for next in batch {
            let message = match next {
                None => return Err(ClusterError::Record("the log consumer ended".into())),
                Some(Err(e)) => return Err(ClusterError::nats(e)),
                Some(Ok(message)) => message,
            };
            let seq = message.info().map_err(|e| ClusterError::Record(e.to_string()))?.stream_sequence;
            if seq != next_at + 1 {
                return Err(ClusterError::Gap { expected: next_at + 1, got: seq });
            }
            entries.extend(Record::decode(&message.payload)?.entries);
            next_at = seq;
        }
        let mut writer = store.clone();
        let entries = tokio::task::spawn_blocking(move || fold_into(&mut writer, &entries, next_at).map(|()| entries))
            .await
            .map_err(|e| ClusterError::Record(e.to_string()))??;
        if index.is_some() && !entries.is_empty() {
            Searches::new(index.clone(), 1).committed(&entries);
        }
        at = next_at;
        counters.positioned(at);
        if until.is_some_and(|u| at >= u) {
            return Ok(at);
        }
    }
}
