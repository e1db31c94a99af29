//! What a cluster node shows over HTTP: `/healthz` as JSON and its lines of `/metrics`.

use std::fmt::Write as _;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chat_ws::cluster::{ClusterStatus, Role};

/// `{"role", "epoch", "leader", "node", "position", "log_end", "lag"}`: 200 for a leader or a
/// follower (a load balancer keeps sending clients to both: followers forward to the leader),
/// 503 while the node is between roles (an election, a step-down).
pub(crate) fn health(status: &ClusterStatus) -> Response {
    let body = serde_json::json!({
        "role": status.role.as_str(),
        "epoch": status.epoch,
        "leader": status.leader,
        "node": status.node_id,
        "position": status.position,
        "log_end": status.log_end,
        "lag": status.lag(),
    });
    let code = match status.role {
        Role::Leader | Role::Follower => StatusCode::OK,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    (code, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// Appends the node's gauges and counters (Prometheus text).
pub(crate) fn render_metrics(status: &ClusterStatus, out: &mut String) {
    let role = match status.role {
        Role::Leader => 2,
        Role::Follower => 1,
        _ => 0,
    };
    let gauges = [
        ("chat_cluster_role", "2 leader, 1 follower, 0 between roles", role),
        ("chat_cluster_epoch", "epoch of the leader this node is or follows", status.epoch),
        ("chat_cluster_log_position", "log records folded into the local store", status.position),
        ("chat_cluster_log_lag", "log records not yet folded into the local store", status.lag()),
        ("chat_cluster_remote_sessions", "sessions of other nodes served by this leader", status.remote_sessions),
    ];
    for (name, help, value) in gauges {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
    }
    let counters = [
        ("chat_cluster_forwarded_total", "inputs forwarded to the leader", status.forwarded),
        ("chat_cluster_elections_won_total", "times this node became leader", status.elections_won),
        ("chat_cluster_step_downs_total", "times this node stopped leading", status.step_downs),
    ];
    for (name, help, value) in counters {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
    }
}
