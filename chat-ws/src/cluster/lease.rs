//! The leader lease: one key in a JetStream KV bucket whose entries expire after the lease's
//! time to live (the bucket's `max_age`, so no node compares clocks). Taking the lease is a
//! `create` (only when the key is absent); its revision is the leader's **epoch**, strictly
//! greater than every earlier one. Renewing is an `update` expecting the last revision, so it
//! fails once anyone else holds the key.

use std::time::Duration;

use async_nats::jetstream::context::Context;
use async_nats::jetstream::kv::{self, CreateErrorKind, Operation};
use serde::{Deserialize, Serialize};

use super::{ClusterError, Names};

const KEY: &str = "leader";

/// What the lease key holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Holder {
    pub(crate) node: String,
    /// The epoch (0 in the `create` itself, which cannot know its own revision; the first
    /// renewal writes it).
    pub(crate) epoch: u64,
    pub(crate) advertise: Option<String>,
}

/// A node's handle on the lease bucket.
#[derive(Debug, Clone)]
pub(crate) struct Lease {
    kv: kv::Store,
    node: String,
    advertise: Option<String>,
}

impl Lease {
    pub(crate) async fn open(
        js: &Context,
        names: &Names,
        node: &str,
        advertise: Option<String>,
        ttl: Duration,
        replicas: usize,
    ) -> Result<Lease, ClusterError> {
        // The bucket's stream is created here rather than with `create_key_value`, which first
        // reads the account's info and cannot parse a 2.9 server's answer (async-nats 0.51);
        // the settings are the ones `create_key_value` uses for a bucket with history 1.
        let bucket = names.lease_bucket();
        let config = async_nats::jetstream::stream::Config {
            name: format!("KV_{bucket}"),
            subjects: vec![format!("$KV.{bucket}.>")],
            max_messages_per_subject: 1,
            max_age: ttl,
            storage: async_nats::jetstream::stream::StorageType::File,
            num_replicas: replicas,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            discard: async_nats::jetstream::stream::DiscardPolicy::New,
            ..Default::default()
        };
        js.get_or_create_stream(config).await.map_err(ClusterError::nats)?;
        let kv = js.get_key_value(bucket).await.map_err(ClusterError::nats)?;
        Ok(Lease { kv, node: node.to_owned(), advertise })
    }

    /// Who holds the lease now, and its epoch; `None` when it is free (expired or released).
    pub(crate) async fn holder(&self) -> Result<Option<Holder>, ClusterError> {
        let entry = self.kv.entry(KEY).await.map_err(ClusterError::nats)?;
        Ok(entry.and_then(|entry| {
            if entry.operation != Operation::Put {
                return None;
            }
            let mut holder: Holder = serde_json::from_slice(&entry.value).ok()?;
            if holder.epoch == 0 {
                holder.epoch = entry.revision;
            }
            Some(holder)
        }))
    }

    fn value(&self, epoch: u64) -> bytes::Bytes {
        let holder = Holder { node: self.node.clone(), epoch, advertise: self.advertise.clone() };
        serde_json::to_vec(&holder).unwrap_or_default().into()
    }

    /// Takes the lease if it is free: `Some(epoch)`.
    pub(crate) async fn try_acquire(&self) -> Result<Option<u64>, ClusterError> {
        match self.kv.create(KEY, self.value(0)).await {
            Ok(revision) => Ok(Some(revision)),
            Err(e) if e.kind() == CreateErrorKind::AlreadyExists => Ok(None),
            Err(e) => Err(ClusterError::nats(e)),
        }
    }

    /// Renews the lease held at `revision`; the new revision. Fails once someone else holds
    /// it.
    pub(crate) async fn renew(&self, epoch: u64, revision: u64) -> Result<u64, ClusterError> {
        self.kv.update(KEY, self.value(epoch), revision).await.map_err(ClusterError::nats)
    }

    /// Gives the lease up (a graceful step-down), if it is still ours at `revision`.
    pub(crate) async fn release(&self, revision: u64) {
        let _ = self.kv.delete_expect_revision(KEY, Some(revision)).await;
    }
}
