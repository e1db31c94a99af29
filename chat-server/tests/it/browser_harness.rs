//! The harness of the browser tests: the real server in-process on a temp database, Debian's
//! `chromedriver` on a free port, one headless Chromium per simulated user (each with a fresh
//! profile, so each has its own session cookie), and polling helpers with deadlines.

use std::future::Future;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chat_server::{Database, RunningServer, Server, ServerConfig};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::{Mutex, MutexGuard};

/// How long any condition may take to become true. Generous: the machine is shared and
/// Chromium is slow to start; the polls return as soon as the condition holds.
pub const DEADLINE: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(100);
const CHROMIUM: &str = "/usr/bin/chromium";

/// The two programs the tests drive.
#[derive(Debug, Clone)]
pub struct Tools {
    chromium: PathBuf,
    chromedriver: PathBuf,
}

/// Finds Chromium and chromedriver. Missing tools fail the test with an install hint, unless
/// `CHAT_SKIP_BROWSER_TESTS=1`, which skips it with a loud banner (never silently).
pub fn tools() -> Option<Tools> {
    let chromium = std::env::var_os("CHAT_CHROMIUM").map_or_else(|| PathBuf::from(CHROMIUM), PathBuf::from);
    let chromedriver = std::env::var_os("CHAT_CHROMEDRIVER")
        .map(PathBuf::from)
        .or_else(|| find_in_path("chromedriver"))
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromedriver"));
    if chromium.is_file() && chromedriver.is_file() {
        return Some(Tools { chromium, chromedriver });
    }
    let missing = format!(
        "{} or {} is missing. Install them with:\n    apt-get update && apt-get install -y chromium chromium-driver\n\
         (or set CHAT_CHROMIUM / CHAT_CHROMEDRIVER), or skip with CHAT_SKIP_BROWSER_TESTS=1",
        chromium.display(),
        chromedriver.display()
    );
    if std::env::var("CHAT_SKIP_BROWSER_TESTS").as_deref() == Ok("1") {
        // Straight to the process's stderr: the test harness captures `eprintln!`, and a skip
        // must never pass silently.
        let banner = "*".repeat(72);
        let _ = writeln!(
            std::io::stderr(),
            "\n{banner}\n*** BROWSER TESTS SKIPPED (CHAT_SKIP_BROWSER_TESTS=1) ***\n{missing}\n{banner}\n"
        );
        return None;
    }
    panic!("browser tests need Chromium and chromedriver: {missing}");
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(name)).find(|p| p.is_file())
}

/// One browser test at a time: each starts two Chromiums, and the machine has two cores.
pub async fn serial() -> MutexGuard<'static, ()> {
    // A tokio mutex: held across awaits, shared by the tests' separate runtimes, never poisoned
    // by a failed test.
    static LOCK: Mutex<()> = Mutex::const_new(());
    LOCK.lock().await
}

// ---- the server ---------------------------------------------------------------------------

/// The real server on `127.0.0.1`, a redb file in a temp dir, restartable on the same port.
pub struct TestServer {
    running: Option<RunningServer>,
    port: u16,
    db: PathBuf,
    _dir: TempDir,
}

impl TestServer {
    /// Starts on a free port with a fresh database.
    pub async fn start() -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("chat.redb");
        let running = Server::start(config(&db, 0)).await.expect("server starts");
        let port = running.local_addr().port();
        TestServer { running: Some(running), port, db, _dir: dir }
    }

    /// The address it listens on (`127.0.0.1:<port>`).
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Shuts the server down (connections drop; the database is closed).
    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
    }

    /// Starts again on the same database file and the same port (retrying while the port is
    /// still being released).
    pub async fn restart(&mut self) {
        self.stop().await;
        let started = Instant::now();
        loop {
            match Server::start(config(&self.db, self.port)).await {
                Ok(running) => {
                    assert_eq!(running.local_addr().port(), self.port);
                    self.running = Some(running);
                    return;
                }
                Err(e) if started.elapsed() < DEADLINE => {
                    eprintln!("restart on port {} not yet possible: {e}", self.port);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("server did not restart on port {}: {e}", self.port),
            }
        }
    }
}

fn config(db: &Path, port: u16) -> ServerConfig {
    let mut config = ServerConfig::ephemeral();
    config.port = port;
    config.database = Database::File(db.to_path_buf());
    // Tests seed rooms in bulk through REST (e.g. 120 messages for paging); the default
    // per-user REST rates (send burst 20, other requests 100 per 2 s window) are not what they
    // exercise.
    config.chat.send_burst = 1_000;
    config.chat.send_rate_per_sec = 1_000;
    config.chat.op_burst = 10_000;
    config.chat.op_rate_per_sec = 10_000;
    config
}

// ---- chromedriver and pages -----------------------------------------------------------------

/// A running chromedriver; killed on drop.
pub struct Driver {
    child: Child,
    port: u16,
    tools: Tools,
    profiles: Vec<TempDir>,
}

impl Driver {
    /// Spawns `chromedriver --port=<free port>` and waits until it accepts connections.
    pub async fn start(tools: Tools) -> Driver {
        let port = free_port();
        let child = Command::new(&tools.chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", tools.chromedriver.display()));
        let driver = Driver { child, port, tools, profiles: Vec::new() };
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let listening = || async { TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() };
        crate::support::wait_until(&format!("chromedriver to listen on port {port}"), listening, |up| *up).await;
        driver
    }

    /// A new headless Chromium with a fresh profile.
    pub async fn page(&mut self, name: &str) -> Page {
        let profile = tempfile::tempdir().expect("profile dir");
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--window-size=1100,720".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert("goog:chromeOptions".into(), json!({ "binary": self.tools.chromium, "args": args }));
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let url = format!("http://127.0.0.1:{}", self.port);
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&url)
            .await
            .unwrap_or_else(|e| panic!("cannot start Chromium through chromedriver: {e}"));
        self.profiles.push(profile);
        Page { c: client, name: name.to_owned() }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

/// Runs `scenario` with `n` browser pages and a fresh server, then closes the browsers even
/// when the scenario panicked (and re-raises the panic).
pub async fn run<F, Fut>(tools: Tools, names: &[&str], scenario: F)
where
    F: FnOnce(Vec<Page>, TestServer) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let server = TestServer::start().await;
    let mut driver = Driver::start(tools).await;
    let mut pages = Vec::new();
    for name in names {
        pages.push(driver.page(name).await);
    }
    let clients: Vec<Client> = pages.iter().map(|p| p.c.clone()).collect();
    let outcome = tokio::spawn(scenario(pages, server)).await;
    for c in clients {
        let _ = c.close().await;
    }
    drop(driver);
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("scenario did not finish: {e}"),
        }
    }
}

/// One user's browser.
#[derive(Clone)]
pub struct Page {
    /// The WebDriver session.
    pub c: Client,
    /// The user's name (for messages).
    pub name: String,
}

impl Page {
    /// Runs `js` (a function body; `arguments` holds `args`) and returns its value.
    pub async fn js(&self, js: &str, args: Vec<Value>) -> Value {
        self.c.execute(js, args).await.unwrap_or_else(|e| panic!("[{}] script failed: {e}\n{js}", self.name))
    }

    /// Polls `js` until it returns something truthy; panics with `what` and the last value
    /// after the deadline.
    pub async fn wait(&self, what: &str, js: &str, args: Vec<Value>) -> Value {
        let started = Instant::now();
        loop {
            let v = self.js(js, args.clone()).await;
            let truthy = match &v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                Value::Array(a) => !a.is_empty(),
                Value::Object(_) => true,
            };
            if truthy {
                return v;
            }
            if started.elapsed() > DEADLINE {
                let state = self.js(DUMP, vec![]).await;
                panic!("[{}] timed out waiting for: {what}\nlast value: {v}\npage: {state}", self.name);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until `selector` matches an element.
    pub async fn wait_for(&self, what: &str, selector: &str) {
        self.wait(what, "return document.querySelector(arguments[0]) !== null;", vec![json!(selector)]).await;
    }

    /// Opens the page.
    pub async fn open(&self, base: &str) {
        self.c.goto(base).await.unwrap_or_else(|e| panic!("[{}] cannot open {base}: {e}", self.name));
        self.wait_for("the sign-in form", "#auth-form").await;
    }

    /// Types into the element at `selector` (after clearing it).
    pub async fn fill(&self, selector: &str, text: &str) {
        let el =
            self.c.find(Locator::Css(selector)).await.unwrap_or_else(|e| panic!("[{}] no {selector}: {e}", self.name));
        el.clear().await.unwrap_or_else(|e| panic!("[{}] cannot clear {selector}: {e}", self.name));
        el.send_keys(text).await.unwrap_or_else(|e| panic!("[{}] cannot type into {selector}: {e}", self.name));
    }

    /// Types keys without clearing first.
    pub async fn keys(&self, selector: &str, keys: &str) {
        let el =
            self.c.find(Locator::Css(selector)).await.unwrap_or_else(|e| panic!("[{}] no {selector}: {e}", self.name));
        el.send_keys(keys).await.unwrap_or_else(|e| panic!("[{}] cannot type into {selector}: {e}", self.name));
    }

    /// Clicks the element at `selector` once it exists.
    pub async fn click(&self, selector: &str) {
        self.wait_for(&format!("{selector} to click"), selector).await;
        let el =
            self.c.find(Locator::Css(selector)).await.unwrap_or_else(|e| panic!("[{}] no {selector}: {e}", self.name));
        el.click().await.unwrap_or_else(|e| panic!("[{}] cannot click {selector}: {e}", self.name));
    }

    /// Signs up through the form and waits for the live connection.
    pub async fn sign_up(&self, password: &str) {
        self.fill("#auth-username", &self.name.clone()).await;
        self.fill("#auth-password", password).await;
        self.click("#signup-btn").await;
        self.wait_online().await;
    }

    /// Logs in through the form (an existing account) and waits for the live connection.
    pub async fn log_in(&self, password: &str) {
        self.fill("#auth-username", &self.name.clone()).await;
        self.fill("#auth-password", password).await;
        self.click("#login-btn").await;
        self.wait_online().await;
    }

    /// Waits for the connection status to say online.
    pub async fn wait_online(&self) {
        self.wait(
            "connection online",
            // Null-safe: the page may still be navigating (from settings.html to the chat).
            "const e = document.querySelector('#conn-status'); return e !== null && e.dataset.state === 'online';",
            vec![],
        )
        .await;
    }

    /// Joins (or creates) a public room through the sidebar form; waits until it is open.
    pub async fn join(&self, room: &str) {
        self.fill("#join-input", room).await;
        self.click("#join-btn").await;
        self.wait_current(&format!("group:{room}")).await;
    }

    /// Waits until `room` is the open room.
    pub async fn wait_current(&self, room: &str) {
        self.wait(
            &format!("{room} to be the open room"),
            "return document.querySelector('.room-item.current')?.dataset.room === arguments[0];",
            vec![json!(room)],
        )
        .await;
    }

    /// Sends a message in the open room by typing and pressing the Send button.
    pub async fn say(&self, text: &str) {
        self.fill("#composer", text).await;
        self.click("#send-btn").await;
    }

    /// `[seq, sender, content]` of every message shown in the open room, in page order.
    pub async fn messages(&self) -> Vec<(u64, String, String)> {
        let v = self.js(MESSAGES, vec![]).await;
        serde_json::from_value(v).expect("message triples")
    }

    /// Waits until a message with exactly `content` is shown in the open room.
    pub async fn wait_message(&self, content: &str) {
        self.wait(
            &format!("message {content:?}"),
            "return [...document.querySelectorAll('#messages li.msg .content')].some(e => e.textContent === arguments[0]);",
            vec![json!(content)],
        )
        .await;
    }

    /// Waits until the sidebar entry of `room` shows `selector` with text `want` ("" = absent).
    pub async fn wait_badge(&self, room: &str, selector: &str, want: &str) {
        self.wait(
            &format!("{selector} of {room} to read {want:?}"),
            "const b = document.querySelector(`.room-item[data-room=\"${arguments[0]}\"]`);\
             if (!b) return false; const e = b.querySelector(arguments[1]);\
             return (e ? e.textContent : '') === arguments[2];",
            vec![json!(room), json!(selector), json!(want)],
        )
        .await;
    }

    /// Waits until the bell shows `n` unread notifications.
    pub async fn wait_bell(&self, n: u32) {
        self.wait(
            &format!("bell count {n}"),
            "return document.querySelector('#bell-count').dataset.count === arguments[0];",
            vec![json!(n.to_string())],
        )
        .await;
    }
}

const MESSAGES: &str = "return [...document.querySelectorAll('#messages li.msg')].map(li => \
    [Number(li.dataset.seq), li.dataset.sender, li.querySelector('.content').textContent]);";

const DUMP: &str = "return { status: document.querySelector('#conn-status')?.textContent, \
    current: document.querySelector('.room-item.current')?.dataset.room, \
    rooms: [...document.querySelectorAll('.room-item')].map(b => b.textContent), \
    messages: [...document.querySelectorAll('#messages li.msg, #pending li')].map(li => li.textContent), \
    bell: document.querySelector('#bell-count')?.textContent, \
    toast: document.querySelector('#toast')?.textContent, \
    authError: document.querySelector('#auth-error')?.textContent };";
