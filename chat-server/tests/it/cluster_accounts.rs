//! Cluster-wide accounts against a real `nats-server -js`: three `chat-server --cluster`
//! processes. Sign-ups, logins, logouts, password changes and disabled accounts take effect on
//! every node; one name registered on two nodes at once makes one account; a node restarted
//! later catches up with the accounts made meanwhile.

use std::time::Duration;

use serde_json::{Value, json};

use crate::cluster_harness::*;
use crate::support::*;

async fn ws_as(node: &Node, token: &str) -> Ws {
    let auth = format!("Bearer {token}");
    let (mut ws, _) = ws_connect(node.addr, &[("authorization", auth.as_str())]).await.expect("upgrade");
    tokio::time::timeout(Duration::from_secs(20), async { while ws_next(&mut ws).await["type"] != "connected" {} })
        .await
        .expect("connected");
    ws
}

/// `GET /api/me` with `token` on `node`: its status.
async fn me(node: &Node, token: &str) -> u16 {
    get(node.addr, "/api/me", Some(token)).await.status
}

/// Waits until `token` is refused (401) on `node`: a revocation another node made reaches it
/// when it applies the accounts log.
async fn refused_on(node: &Node, token: &str) {
    eventually(&format!("the token refused on {}", node.id), || async { (me(node, token).await == 401).then_some(()) })
        .await;
}

/// The close code of `ws`, which must close (within 20 s).
async fn closed(ws: &mut Ws) -> Option<u16> {
    tokio::time::timeout(Duration::from_secs(20), ws_closed(ws)).await.expect("the socket closes")
}

fn usernames(page: &Value) -> Vec<String> {
    page["users"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_logins_and_revocations_are_cluster_wide() {
    let dir = tempfile::tempdir().unwrap();
    let nats = Nats::start(dir.path());
    let mut nodes: Vec<Node> = ["a", "b", "c"].iter().map(|id| Node::start(dir.path(), &nats, id)).collect();
    leader(&nodes.iter().collect::<Vec<_>>()).await;

    // Registered on a (the cluster's first account: its administrator), logged in on b, the
    // token of a works on c at once.
    let root_a = register(nodes[0].addr, "root").await;
    let root_b = login(nodes[1].addr, "root").await;
    assert_eq!(me(&nodes[2], &root_a).await, 200);
    assert_eq!(get(nodes[2].addr, "/api/me", Some(&root_b)).await.json()["admin"], true);

    // Logout on b: that token stops on a and c, its socket on c closes; root's other session
    // keeps working.
    let mut socket_on_c = ws_as(&nodes[2], &root_b).await;
    assert_eq!(post(nodes[1].addr, "/api/logout", Some(&root_b), json!({})).await.status, 200);
    assert!(closed(&mut socket_on_c).await.is_some(), "the logged-out session's socket on c is closed");
    assert_eq!(me(&nodes[2], &root_b).await, 401);
    refused_on(&nodes[0], &root_b).await;
    assert_eq!(me(&nodes[1], &root_a).await, 200);

    // Disabled by the administrator through b: bob's sockets on a close, his tokens stop
    // everywhere, he cannot log in anywhere; enabled again, he can.
    let bob_c = register(nodes[2].addr, "bob").await;
    let mut bob_on_a = ws_as(&nodes[0], &bob_c).await;
    let r = post(nodes[1].addr, "/api/admin/users/disable", Some(&root_a), json!({"username": "bob"})).await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert!(closed(&mut bob_on_a).await.is_some(), "a disabled account's socket on a is closed");
    for node in &nodes {
        refused_on(node, &bob_c).await;
    }
    let creds = json!({"username": "bob", "password": "password-bob"});
    for node in &nodes {
        let r = post(node.addr, "/api/login", None, creds.clone()).await;
        assert_eq!(r.status, 403, "a disabled account logs in on {}: {:?}", node.id, r.json());
    }
    let r = post(nodes[0].addr, "/api/admin/users/enable", Some(&root_a), json!({"username": "bob"})).await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let bob_b = login(nodes[1].addr, "bob").await;
    assert_eq!(me(&nodes[2], &bob_b).await, 200);

    // A password change on c ends root's other sessions on every node; the new password works
    // on a.
    let root_c = login(nodes[2].addr, "root").await;
    let mut root_on_b = ws_as(&nodes[1], &root_a).await;
    let body = json!({"old_password": "password-root", "new_password": "another-password-root"});
    let r = post(nodes[2].addr, "/api/account/password", Some(&root_c), body).await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert!(closed(&mut root_on_b).await.is_some(), "the other session's socket on b is closed");
    for node in &nodes {
        refused_on(node, &root_a).await;
    }
    assert_eq!(me(&nodes[0], &root_c).await, 200);
    let r =
        post(nodes[0].addr, "/api/login", None, json!({"username": "root", "password": "another-password-root"})).await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let r = post(nodes[1].addr, "/api/login", None, json!({"username": "root", "password": "password-root"})).await;
    assert_eq!(r.status, 401, "the old password on b: {:?}", r.json());

    // c stops; accounts are made meanwhile; c comes back with them in its own store (the
    // admin listing reads the local copy only).
    nodes[2].stop();
    // If c led, the chat elects again first (a sign-up also adds the user to the chat).
    leader(&[&nodes[0], &nodes[1]]).await;
    for name in ["carol", "dave", "erin"] {
        register(nodes[0].addr, name).await;
    }
    nodes[2].spawn();
    eventually("c answers again", || async { nodes[2].health().await }).await;
    let page = get(nodes[2].addr, "/api/admin/users?limit=50", Some(&root_c)).await;
    assert_eq!(page.status, 200, "{:?}", page.json());
    let names = usernames(&page.json());
    for name in ["bob", "carol", "dave", "erin", "root"] {
        assert!(names.iter().any(|n| n == name), "{name} on the restarted c: {names:?}");
    }
    let carol = login(nodes[2].addr, "carol").await;
    assert_eq!(me(&nodes[1], &carol).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_name_registered_on_three_nodes_at_once_makes_one_account() {
    let dir = tempfile::tempdir().unwrap();
    let nats = Nats::start(dir.path());
    let nodes: Vec<Node> = ["r1", "r2", "r3"].iter().map(|id| Node::start(dir.path(), &nats, id)).collect();
    leader(&nodes.iter().collect::<Vec<_>>()).await;
    for round in 0..5 {
        let name = format!("twin{round}");
        let attempts: Vec<_> = nodes
            .iter()
            .enumerate()
            .map(|(i, node)| {
                let (addr, name) = (node.addr, name.clone());
                tokio::spawn(async move {
                    let body = json!({"username": name, "password": format!("password-{i}-{name}")});
                    post(addr, "/api/register", None, body).await.status
                })
            })
            .collect();
        let mut statuses = Vec::new();
        for attempt in attempts {
            statuses.push(attempt.await.unwrap());
        }
        let winners: Vec<usize> = (0..3).filter(|i| statuses[*i] == 201).collect();
        assert_eq!(winners.len(), 1, "{name}: {statuses:?}");
        assert!(statuses.iter().all(|s| *s == 201 || *s == 409), "{name}: {statuses:?}");
        // Every node agrees on whose password it is.
        for node in &nodes {
            for i in 0..3 {
                let body = json!({"username": name, "password": format!("password-{i}-{name}")});
                let status = post(node.addr, "/api/login", None, body).await.status;
                let expected = if i == winners[0] { 200 } else { 401 };
                assert_eq!(status, expected, "{name}, password of r{}, on {}", i + 1, node.id);
            }
        }
    }
}
