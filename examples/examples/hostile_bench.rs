//! `hostile_bench`: measures what heavy and hostile users cost a running `chat-server`, over
//! its public WebSocket protocol only (JSON frames), at the server's default limits.
//!
//! ```text
//! cargo run --release -p chat-server -- --db /tmp/hb.redb --port 7812 &
//! cargo run --release -p examples --example hostile_bench -- rooms --rooms 1000
//! cargo run --release -p examples --example hostile_bench -- presence --members 1000
//! cargo run --release -p examples --example hostile_bench -- flood --sessions 20 --duration 10
//! cargo run --release -p examples --example hostile_bench -- flood --directory 20000
//! ```
//!
//! - `rooms`: one user joins N rooms (backing off on `rate_limited`), then reconnects with its
//!   token five times; reports the time from the `register` frame to the last connect-time frame
//!   (`connected` plus every `room_summaries` page) and the bytes and frames received.
//! - `presence`: M users in one room, all online; one of them reconnects; reports the bytes the
//!   other M − 1 receive because of it.
//! - `flood`: one user's S sessions send `list_rooms` as fast as the server reads them while
//!   another user sends a message every 50 ms; reports that user's send→ack p50/p99/max.
//!   `--directory N` first fills the public directory with N rooms (made by N/1,000 builder
//!   users, the per-user room cap), so `list_rooms` runs against a large directory.
//!
//! Clients spread over the loopback addresses 127.0.1.1–127.0.1.250 so per-address limits apply
//! as they would to many machines. Loopback only: a measuring tool, not a stress tool.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Ws = WebSocketStream<TcpStream>;

const HELP: &str = "\
hostile_bench MODE [--url ws://127.0.0.1:7812/ws] [--password PW] [--prefix P]
  rooms    [--rooms N]      (default 1000)
  presence [--members M]    (default 1000)
  flood    [--sessions S] [--duration SECS] [--directory N]   (defaults 20, 10, 0)
";

struct Args {
    mode: String,
    url: String,
    password: String,
    prefix: String,
    count: usize,
    duration: f64,
    directory: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mode = it.next().ok_or("missing MODE")?;
    if mode == "-h" || mode == "--help" {
        return Err(String::new());
    }
    let pid = std::process::id();
    let mut args = Args {
        count: if mode == "flood" { 20 } else { 1000 },
        mode,
        url: "ws://127.0.0.1:7812/ws".into(),
        password: "hostile-bench-pw".into(),
        prefix: format!("hb{pid}"),
        duration: 10.0,
        directory: 0,
    };
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |e: std::num::ParseIntError| format!("{flag}: {e}");
        match flag.as_str() {
            "--url" => args.url = value,
            "--password" => args.password = value,
            "--prefix" => args.prefix = value,
            "--rooms" | "--members" | "--sessions" => args.count = value.parse().map_err(bad)?,
            "--directory" => args.directory = value.parse().map_err(bad)?,
            "--duration" => args.duration = value.parse().map_err(|e| format!("{flag}: {e}"))?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(args)
}

/// The `n`-th client address: 127.0.1.1 ..= 127.0.1.250, round robin.
fn client_ip(n: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 1, (n % 250) as u8 + 1))
}

/// A connection and the bytes/frames it has received.
struct Client {
    ws: Ws,
    bytes: u64,
    frames: u64,
}

impl Client {
    async fn open(url: &str, from: IpAddr) -> Result<Client, String> {
        let request = url.into_client_request().map_err(|e| format!("bad url {url}: {e}"))?;
        let host = request.uri().host().unwrap_or("127.0.0.1");
        let port = request.uri().port_u16().unwrap_or(80);
        let addr: SocketAddr = format!("{host}:{port}").parse().map_err(|e| format!("{host}:{port}: {e}"))?;
        let socket = TcpSocket::new_v4().map_err(|e| e.to_string())?;
        socket.bind(SocketAddr::new(from, 0)).map_err(|e| format!("bind {from}: {e}"))?;
        let tcp = socket.connect(addr).await.map_err(|e| format!("connect {addr}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let (ws, _) = tokio_tungstenite::client_async(request, tcp).await.map_err(|e| format!("upgrade: {e}"))?;
        Ok(Client { ws, bytes: 0, frames: 0 })
    }

    async fn send(&mut self, frame: Value) -> Result<(), String> {
        self.ws.send(Message::Text(frame.to_string().into())).await.map_err(|e| format!("send: {e}"))
    }

    /// The next event, or `None` when nothing arrives within `wait`.
    async fn recv_within(&mut self, wait: Duration) -> Result<Option<Value>, String> {
        loop {
            let frame = match tokio::time::timeout(wait, self.ws.next()).await {
                Err(_) => return Ok(None),
                Ok(frame) => frame,
            };
            match frame {
                Some(Ok(Message::Text(t))) => {
                    self.bytes += t.len() as u64;
                    self.frames += 1;
                    return serde_json::from_str(&t).map(Some).map_err(|e| format!("decode: {e}"));
                }
                Some(Ok(Message::Close(c))) => return Err(format!("closed by server: {c:?}")),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(format!("read: {e}")),
                None => return Err("connection ended".into()),
            }
        }
    }

    async fn recv(&mut self) -> Result<Value, String> {
        self.recv_within(Duration::from_secs(30)).await?.ok_or_else(|| "no answer in 30 s".into())
    }

    /// Signs in with the first frame; returns the token from `registered` once `connected`
    /// arrived, and whether `connected` said more room pages follow.
    async fn register(&mut self, auth: Value) -> Result<(Option<String>, bool), String> {
        self.send(auth).await?;
        let mut token = None;
        loop {
            let event = self.recv().await?;
            match event["type"].as_str() {
                Some("registered") => token = event["token"].as_str().map(str::to_string),
                Some("connected") => return Ok((token, event["more_rooms"].as_bool().unwrap_or(false))),
                Some("error") => return Err(format!("register: {event}")),
                _ => {}
            }
        }
    }

    /// Sends `frame` until it is not refused with `rate_limited`; returns the first other answer
    /// of one of the `want` types (or an error event).
    async fn call(&mut self, frame: Value, want: &[&str]) -> Result<Value, String> {
        loop {
            self.send(frame.clone()).await?;
            loop {
                let event = self.recv().await?;
                let kind = event["type"].as_str().unwrap_or_default();
                if kind == "error" && event["code"] == "rate_limited" {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    break;
                }
                if kind == "error" || want.contains(&kind) {
                    return Ok(event);
                }
            }
        }
    }
}

fn login(user: &str, password: &str) -> Value {
    json!({"type": "register", "username": user, "password": password})
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn rooms(args: &Args) -> Result<(), String> {
    let user = format!("{}owner", args.prefix);
    let mut c = Client::open(&args.url, client_ip(0)).await?;
    let (token, _) = c.register(login(&user, &args.password)).await?;
    let token = token.ok_or("the server sent no token")?;
    let started = Instant::now();
    for i in 0..args.count {
        let room = format!("group:{}r{i}", args.prefix);
        let answer = c.call(json!({"type": "join_room", "room": room}), &["room_joined"]).await?;
        if answer["type"] == "error" {
            return Err(format!("join {room}: {answer}"));
        }
    }
    println!("joined {} rooms in {:.1} s", args.count, started.elapsed().as_secs_f64());
    drop(c);
    let mut times = Vec::new();
    for run in 0..5 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut c = Client::open(&args.url, client_ip(1 + run)).await?;
        let t0 = Instant::now();
        let (_, mut more) = c.register(json!({"type": "register", "token": token})).await?;
        let mut summaries = 0;
        while more {
            let event = c.recv().await?;
            if event["type"] == "room_summaries" {
                summaries += event["rooms"].as_array().map_or(0, Vec::len);
                more = event["more"].as_bool().unwrap_or(false);
            }
        }
        let elapsed = t0.elapsed().as_secs_f64() * 1e3;
        times.push(elapsed);
        println!(
            "connect {run}: {elapsed:.1} ms until the last room page; {} frames, {} bytes ({summaries} rooms in room_summaries)",
            c.frames, c.bytes
        );
    }
    times.sort_by(f64::total_cmp);
    println!("connect with {} rooms: median {:.1} ms, max {:.1} ms", args.count, percentile(&times, 0.5), times[4]);
    Ok(())
}

async fn presence(args: &Args) -> Result<(), String> {
    let room = format!("group:{}pres", args.prefix);
    let mut clients = Vec::with_capacity(args.count);
    let mut tokens = Vec::with_capacity(args.count);
    for i in 0..args.count {
        let mut c = Client::open(&args.url, client_ip(i)).await?;
        let (token, _) = c.register(login(&format!("{}p{i}", args.prefix), &args.password)).await?;
        tokens.push(token.ok_or("the server sent no token")?);
        let answer = c.call(json!({"type": "join_room", "room": room}), &["room_joined"]).await?;
        if answer["type"] == "error" {
            return Err(format!("join: {answer}"));
        }
        clients.push(c);
        if (i + 1) % 100 == 0 {
            println!("{} members online", i + 1);
        }
    }
    // Let every join's events arrive, then count from zero.
    let quiet = Duration::from_millis(300);
    for c in &mut clients {
        while c.recv_within(quiet / 10).await?.is_some() {}
    }
    let first = clients.remove(0);
    drop(first);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut disconnect_bytes = 0;
    for c in &mut clients {
        c.bytes = 0;
        while c.recv_within(quiet / 10).await?.is_some() {}
        disconnect_bytes += c.bytes;
        c.bytes = 0;
        c.frames = 0;
    }
    let mut back = Client::open(&args.url, client_ip(0)).await?;
    back.register(json!({"type": "register", "token": tokens[0]})).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (mut bytes, mut frames) = (0, 0);
    for c in &mut clients {
        while c.recv_within(quiet / 10).await?.is_some() {}
        bytes += c.bytes;
        frames += c.frames;
    }
    println!(
        "presence, {} members online: one reconnect sent {bytes} bytes in {frames} frames to the other {} \
         ({:.0} bytes each); the disconnect before it {disconnect_bytes} bytes",
        args.count,
        clients.len(),
        bytes as f64 / clients.len() as f64
    );
    Ok(())
}

/// Fills the public directory with `n` rooms: builder users of 1,000 rooms each (the per-user
/// cap) join them in parallel, backing off on `rate_limited`.
async fn build_directory(args: &Args, n: usize) -> Result<(), String> {
    let started = Instant::now();
    let mut builders = Vec::new();
    for b in 0..n.div_ceil(1000) {
        let (url, password, prefix) = (args.url.clone(), args.password.clone(), args.prefix.clone());
        builders.push(tokio::spawn(async move {
            let mut c = Client::open(&url, client_ip(100 + b)).await?;
            c.register(login(&format!("{prefix}builder{b}"), &password)).await?;
            for i in b * 1000..((b + 1) * 1000).min(n) {
                let room = format!("group:{prefix}d{i:05}");
                let answer = c.call(json!({"type": "join_room", "room": room}), &["room_joined"]).await?;
                if answer["type"] == "error" {
                    return Err(format!("join {room}: {answer}"));
                }
            }
            Ok::<(), String>(())
        }));
    }
    for b in builders {
        b.await.map_err(|e| e.to_string())??;
    }
    println!("built a directory of {n} rooms in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

async fn flood(args: &Args) -> Result<(), String> {
    if args.directory > 0 {
        build_directory(args, args.directory).await?;
    }
    let room = format!("group:{}flood", args.prefix);
    let victim_name = format!("{}victim", args.prefix);
    let mut victim = Client::open(&args.url, client_ip(0)).await?;
    victim.register(login(&victim_name, &args.password)).await?;
    victim.call(json!({"type": "join_room", "room": room}), &["room_joined"]).await?;
    let flooder = format!("{}flooder", args.prefix);
    let mut tasks = Vec::new();
    let stop = Instant::now() + Duration::from_secs_f64(args.duration + 1.0);
    for s in 0..args.count {
        let mut c = Client::open(&args.url, client_ip(1 + s)).await?;
        c.register(login(&flooder, &args.password)).await.map_err(|e| format!("flooder session {s}: {e}"))?;
        let (mut tx, mut rx) = c.ws.split();
        tasks.push(tokio::spawn(async move {
            let reader = async {
                let mut limited = 0u64;
                while let Some(Ok(m)) = rx.next().await {
                    if let Message::Text(t) = m {
                        limited += u64::from(t.contains("\"rate_limited\""));
                    }
                }
                limited
            };
            let writer = async {
                let frame = Message::Text(json!({"type": "list_rooms"}).to_string().into());
                let mut sent = 0u64;
                while Instant::now() < stop && tx.send(frame.clone()).await.is_ok() {
                    sent += 1;
                }
                let _ = tx.close().await;
                sent
            };
            let (limited, sent) = tokio::join!(reader, writer);
            (sent, limited)
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut latencies = Vec::new();
    let end = Instant::now() + Duration::from_secs_f64(args.duration);
    let mut n = 0u64;
    while Instant::now() < end {
        n += 1;
        let t0 = Instant::now();
        let frame = json!({"type": "send_message", "room": room, "content": format!("ping {n}"), "client_id": format!("hb{n}")});
        let answer = victim.call(frame, &["ack"]).await?;
        if answer["type"] == "ack" {
            latencies.push(t0.elapsed().as_secs_f64() * 1e3);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (mut sent, mut limited) = (0, 0);
    for t in tasks {
        let (s, l) = t.await.map_err(|e| e.to_string())?;
        sent += s;
        limited += l;
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "victim send→ack over {} sends while {} sessions of one user sent {sent} list_rooms ({limited} refused rate_limited): \
         p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        args.count,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN)
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("hostile_bench: {e}");
            }
            eprint!("{HELP}");
            return if e.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE };
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hostile_bench: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match args.mode.as_str() {
            "rooms" => rooms(&args).await,
            "presence" => presence(&args).await,
            "flood" => flood(&args).await,
            other => Err(format!("unknown mode {other}")),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hostile_bench: {e}");
            ExitCode::FAILURE
        }
    }
}
