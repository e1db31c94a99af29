//! A real `nats-server -js` and real `chat-server` processes for the cluster tests, each on a
//! free 127.0.0.1 port with its own directory. A missing `nats-server` fails the test with an
//! install hint (never a silent skip).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chat_core::{HistoryQuery, HistoryRange, Journal, Message};
use serde_json::Value;

use crate::support::get;

/// A free port on 127.0.0.1 (bound, read, released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn nats_binary() -> PathBuf {
    let candidates = ["nats-server", "/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"];
    for c in candidates {
        if Command::new(c).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok() {
            return PathBuf::from(c);
        }
    }
    panic!(
        "the cluster tests need nats-server (with JetStream) on PATH: `apt-get install -y nats-server` \
         (Debian's 2.9 is enough); .ci/run installs it"
    );
}

/// A nats-server with JetStream, killed on drop.
pub struct Nats {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl Nats {
    pub fn start(dir: &Path) -> Nats {
        let mut nats = Nats { port: free_port(), dir: dir.join("nats"), child: None };
        nats.spawn();
        nats
    }

    fn spawn(&mut self) {
        std::fs::create_dir_all(&self.dir).unwrap();
        let child = Command::new(nats_binary())
            .args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string(), "-sd"])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not start on port {}", self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// `kill -9`, then start again on the same port and store directory.
    pub fn kill_and_restart(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.spawn();
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The chat-server binary of this build, copied once per test run (so a concurrent build that
/// replaces `target/debug/chat-server` cannot swap it under a running test), checked to have
/// cluster mode.
fn chat_server_binary() -> &'static Path {
    static BINARY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BINARY.get_or_init(|| {
        let built = PathBuf::from(env!("CARGO_BIN_EXE_chat-server"));
        let copy = std::env::temp_dir().join(format!("chat-server-cluster-test-{}", std::process::id()));
        std::fs::copy(&built, &copy).expect("copy the chat-server binary");
        let help = Command::new(&copy).arg("--help").output().expect("run chat-server --help");
        assert!(
            String::from_utf8_lossy(&help.stdout).contains("--cluster"),
            "{} was built without the `cluster` feature (chat-server's tests enable it; rebuild them)",
            built.display()
        );
        copy
    })
}

/// One `chat-server --cluster` process.
pub struct Node {
    pub id: String,
    pub addr: SocketAddr,
    pub db: PathBuf,
    /// `None`: a single node without `--cluster` (for comparisons).
    nats_url: Option<String>,
    /// More flags (benchmarks lift the per-address limits).
    pub extra: Vec<String>,
    child: Option<Child>,
}

/// How long a lease lasts in these tests (a dead leader is replaced after about this long);
/// `CHAT_CLUSTER_TEST_LEASE_MS` overrides it (to measure failover with the default 3 s).
pub fn lease_ms() -> u64 {
    std::env::var("CHAT_CLUSTER_TEST_LEASE_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_500)
}

impl Node {
    pub fn start(dir: &Path, nats: &Nats, id: &str) -> Node {
        Node::start_with(dir, Some(nats), id, &[])
    }

    /// A node with more flags; without `nats`, a single node (no `--cluster`).
    pub fn start_with(dir: &Path, nats: Option<&Nats>, id: &str, extra: &[&str]) -> Node {
        let port = free_port();
        let mut node = Node {
            id: id.to_owned(),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            db: dir.join(format!("{id}.redb")),
            nats_url: nats.map(Nats::url),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            child: None,
        };
        node.spawn();
        node
    }

    pub fn spawn(&mut self) {
        let log = std::fs::File::create(self.db.with_extension("log")).unwrap();
        let child = Command::new(chat_server_binary())
            .args(["--bind", "127.0.0.1", "--port", &self.addr.port().to_string()])
            .arg("--db")
            .arg(&self.db)
            .args(match &self.nats_url {
                Some(url) => vec!["--cluster".to_owned(), url.clone(), "--node-id".to_owned(), self.id.clone()],
                None => Vec::new(),
            })
            .args(match &self.nats_url {
                Some(_) => vec!["--cluster-lease-ms".to_owned(), lease_ms().to_string()],
                None => Vec::new(),
            })
            .args(["--send-rate", "10000", "--send-burst", "10000", "--log", "info"])
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start chat-server");
        self.child = Some(child);
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill").args([&format!("-{signal}"), &self.pid().to_string()]).status().unwrap();
        assert!(status.success(), "kill -{signal}");
    }

    /// `kill -9`.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait (a graceful shutdown).
    pub fn stop(&mut self) {
        if self.child.is_some() {
            self.signal("TERM");
            let _ = self.child.take().unwrap().wait();
        }
    }

    /// `/healthz` as JSON, or `None` when the node does not answer (yet).
    pub async fn health(&self) -> Option<Value> {
        let probe = tokio::time::timeout(Duration::from_secs(2), async {
            let stream = tokio::net::TcpStream::connect(self.addr).await.ok()?;
            drop(stream);
            Some(get(self.addr, "/healthz", None).await)
        });
        let resp = probe.await.ok()??;
        serde_json::from_slice(&resp.body).ok()
    }

    /// Every message of `room` in this node's own store (the node must be stopped).
    pub fn stored_history(&self, room: &str) -> Vec<Message> {
        let store = chat_store::Store::open(&self.db).expect("open the node's store");
        let query = HistoryQuery { room: room.parse().unwrap(), range: HistoryRange::After(0), limit: u32::MAX };
        store.history(&query).expect("history")
    }
}

impl Node {
    /// `user`'s read cursor and unread count in `room` by this node's own store (stopped), and
    /// a naive recount from the same store's history: the messages of others after the cursor.
    pub fn stored_unread(&self, user: &str, room: &str) -> (u64, u64, u64) {
        let store = chat_store::Store::open(&self.db).expect("open the node's store");
        let snapshot = store.snapshot().expect("snapshot");
        let (user, room): (chat_core::UserName, chat_core::RoomKey) = (user.parse().unwrap(), room.parse().unwrap());
        let unread = snapshot.unread(&user, &room).expect("a member");
        let query = HistoryQuery { room, range: HistoryRange::After(0), limit: u32::MAX };
        let history = store.history(&query).expect("history");
        let recount = history.iter().filter(|m| m.seq > unread.read_seq && m.sender != user).count() as u64;
        (unread.read_seq, unread.unread, recount)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `check` every 100 ms until it gives a value (a 30 s deadline, naming `what`).
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The index of the node that leads, once every running node agrees on a leader.
pub async fn leader(nodes: &[&Node]) -> usize {
    eventually("a leader every node knows", || async {
        let mut leader = None;
        let mut epoch = None;
        for (i, node) in nodes.iter().enumerate() {
            let health = node.health().await?;
            let role = health["role"].as_str()?;
            if role == "leader" {
                leader = Some(i);
            } else if role != "follower" {
                return None;
            }
            match epoch {
                None => epoch = Some(health["epoch"].clone()),
                Some(ref e) if *e != health["epoch"] => return None,
                Some(_) => {}
            }
        }
        leader
    })
    .await
}

/// Logs `name` (registered by `support::register`, on any node) in on the node at `addr`; the
/// token.
pub async fn login(addr: SocketAddr, name: &str) -> String {
    let body = serde_json::json!({"username": name, "password": format!("password-{name}")});
    let r = crate::support::post(addr, "/api/login", None, body).await;
    assert_eq!(r.status, 200, "login {name}: {:?}", String::from_utf8_lossy(&r.body));
    r.json()["token"].as_str().unwrap().to_owned()
}

/// The log position a node reports.
pub async fn position(node: &Node) -> Option<u64> {
    node.health().await?["position"].as_u64()
}

/// Waits until `node` has folded the log up to `target`.
pub async fn caught_up(node: &Node, target: u64) {
    eventually(&format!("{} at log position {target}", node.id), || async {
        (position(node).await? >= target).then_some(())
    })
    .await
}
