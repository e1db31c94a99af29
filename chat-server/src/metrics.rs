//! `GET /metrics`: counters in the Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use chat_ws::HubMetrics;
use hyper::StatusCode;

/// The server's own counters (the hub keeps the chat ones).
#[derive(Debug, Default)]
pub(crate) struct ServerMetrics {
    /// Responses by status code. Bounded: the server only produces a handful of codes.
    http: Mutex<BTreeMap<u16, u64>>,
    pub(crate) connections_open: AtomicU64,
    pub(crate) connections_refused: AtomicU64,
    pub(crate) tls_handshake_failures: AtomicU64,
    pub(crate) registrations: AtomicU64,
    pub(crate) logins: AtomicU64,
    pub(crate) login_failures: AtomicU64,
    pub(crate) websocket_upgrades: AtomicU64,
    pub(crate) websocket_refused: AtomicU64,
}

impl ServerMetrics {
    pub(crate) fn response(&self, status: StatusCode) {
        *self.http.lock().unwrap_or_else(|e| e.into_inner()).entry(status.as_u16()).or_default() += 1;
    }

    /// The whole exposition.
    pub(crate) fn render(&self, hub: &HubMetrics) -> String {
        let mut out = String::with_capacity(4096);
        let mut counter = |name: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
        };
        counter("chat_messages_total", "Messages stored.", hub.messages);
        counter("chat_deliveries_total", "Events queued to sessions (one per recipient).", hub.deliveries);
        counter("chat_commit_batches_total", "Group commits of the journal.", hub.commit_batches);
        counter("chat_committed_entries_total", "Log entries committed.", hub.committed_entries);
        counter("chat_commit_failures_total", "Failed journal commits.", hub.commit_failures);
        counter("chat_commit_latency_microseconds_sum", "Total time spent committing.", hub.commit_latency_sum_us);
        counter(
            "chat_slow_consumers_closed_total",
            "Sessions closed for not reading fast enough.",
            hub.slow_consumers_closed,
        );
        counter("chat_input_paused_total", "Times the hub held back input until a reader caught up.", hub.input_paused);
        counter(
            "chat_readers_waited_out_total",
            "Readers the hub stopped waiting for after the grace period.",
            hub.readers_waited_out,
        );
        counter(
            "chat_frames_throttled_total",
            "Frames after which a connection paused reading: its address was over its frame budget.",
            hub.frames_throttled,
        );
        counter("chat_frames_in_total", "WebSocket frames received.", hub.frames_in);
        counter("chat_frames_out_total", "WebSocket frames sent.", hub.frames_out);
        counter(
            "chat_http_connections_refused_total",
            "Connections refused over the limit.",
            self.connections_refused.load(Relaxed),
        );
        counter(
            "chat_tls_handshake_failures_total",
            "Failed TLS handshakes.",
            self.tls_handshake_failures.load(Relaxed),
        );
        counter("chat_registrations_total", "Accounts created.", self.registrations.load(Relaxed));
        counter("chat_logins_total", "Successful logins.", self.logins.load(Relaxed));
        counter(
            "chat_login_failures_total",
            "Refused logins (bad credentials or throttled).",
            self.login_failures.load(Relaxed),
        );
        counter("chat_websocket_upgrades_total", "WebSocket upgrades accepted.", self.websocket_upgrades.load(Relaxed));
        counter("chat_websocket_refused_total", "WebSocket upgrades refused.", self.websocket_refused.load(Relaxed));
        counter("chat_sessions_opened_total", "Chat sessions connected since start.", hub.connections);
        let mut gauge = |name: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
        };
        gauge("chat_sessions", "Live chat sessions.", hub.sessions);
        gauge("chat_http_connections", "Open TCP connections.", self.connections_open.load(Relaxed));
        gauge("chat_commit_latency_microseconds_max", "Slowest commit so far.", hub.commit_latency_max_us);
        let mean = if hub.commit_batches == 0 { 0.0 } else { hub.committed_entries as f64 / hub.commit_batches as f64 };
        let _ = writeln!(
            out,
            "# HELP chat_commit_batch_size_mean Mean entries per group commit.\n# TYPE chat_commit_batch_size_mean gauge\nchat_commit_batch_size_mean {mean}"
        );
        let _ = writeln!(
            out,
            "# HELP chat_http_responses_total HTTP responses by status.\n# TYPE chat_http_responses_total counter"
        );
        for (status, count) in self.http.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(out, "chat_http_responses_total{{status=\"{status}\"}} {count}");
        }
        out
    }
}
