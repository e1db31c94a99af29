//! Counters of the hub and its connections.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// A snapshot of the hub's counters (monotonic totals unless noted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HubMetrics {
    /// Live sessions now (a gauge).
    pub sessions: u64,
    /// Sessions connected since start.
    pub connections: u64,
    /// Chat messages committed.
    pub messages: u64,
    /// Events queued to sessions (one per recipient).
    pub deliveries: u64,
    /// Journal commits (one per drain with something to persist).
    pub commit_batches: u64,
    /// Log entries committed.
    pub committed_entries: u64,
    /// Journal commits that failed (each restored the core and closed every session).
    pub commit_failures: u64,
    /// Sum of commit latencies, µs.
    pub commit_latency_sum_us: u64,
    /// Largest commit latency, µs.
    pub commit_latency_max_us: u64,
    /// Sessions closed because their outbound queue was full.
    pub slow_consumers_closed: u64,
    /// Times the hub held back new input until a reader caught up (back-pressure on senders).
    pub input_paused: u64,
    /// Readers the hub stopped waiting for after `HubConfig::reader_grace` (not slowed again).
    pub readers_waited_out: u64,
    /// Inbound frames after which a connection paused reading because its shared
    /// [`FrameBudget`](crate::FrameBudget) was in debt.
    pub frames_throttled: u64,
    /// Frames received from clients (data frames).
    pub frames_in: u64,
    /// Frames written to clients (data frames).
    pub frames_out: u64,
}

/// The live counters, shared by the hub task and the connections.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    pub(crate) sessions: AtomicU64,
    pub(crate) connections: AtomicU64,
    pub(crate) messages: AtomicU64,
    pub(crate) deliveries: AtomicU64,
    pub(crate) commit_batches: AtomicU64,
    pub(crate) committed_entries: AtomicU64,
    pub(crate) commit_failures: AtomicU64,
    pub(crate) commit_latency_sum_us: AtomicU64,
    pub(crate) commit_latency_max_us: AtomicU64,
    pub(crate) slow_consumers_closed: AtomicU64,
    pub(crate) input_paused: AtomicU64,
    pub(crate) readers_waited_out: AtomicU64,
    pub(crate) frames_throttled: AtomicU64,
    pub(crate) frames_in: AtomicU64,
    pub(crate) frames_out: AtomicU64,
}

impl Metrics {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub(crate) fn commit(&self, entries: usize, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        Metrics::add(&self.commit_batches, 1);
        Metrics::add(&self.committed_entries, entries as u64);
        Metrics::add(&self.commit_latency_sum_us, us);
        self.commit_latency_max_us.fetch_max(us, Relaxed);
    }

    pub(crate) fn snapshot(&self) -> HubMetrics {
        HubMetrics {
            sessions: self.sessions.load(Relaxed),
            connections: self.connections.load(Relaxed),
            messages: self.messages.load(Relaxed),
            deliveries: self.deliveries.load(Relaxed),
            commit_batches: self.commit_batches.load(Relaxed),
            committed_entries: self.committed_entries.load(Relaxed),
            commit_failures: self.commit_failures.load(Relaxed),
            commit_latency_sum_us: self.commit_latency_sum_us.load(Relaxed),
            commit_latency_max_us: self.commit_latency_max_us.load(Relaxed),
            slow_consumers_closed: self.slow_consumers_closed.load(Relaxed),
            input_paused: self.input_paused.load(Relaxed),
            readers_waited_out: self.readers_waited_out.load(Relaxed),
            frames_throttled: self.frames_throttled.load(Relaxed),
            frames_in: self.frames_in.load(Relaxed),
            frames_out: self.frames_out.load(Relaxed),
        }
    }
}
