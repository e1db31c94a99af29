//! `chat-bench`: a WebSocket load generator for the chat engine.
//!
//! It opens N clients (each registers itself with a first-frame `register`), puts them in R
//! rooms of N/R members, sends at a fixed rate per client or as fast as a window of unacknowledged
//! sends allows, embeds the send time in every message, and reports delivered/s, loss,
//! duplicates and send→receive latency percentiles. `--idle K` instead opens K idle connections
//! and reports the server's resident memory per connection.
//!
//! ```text
//! # against a running server (rate limits raised for the bench):
//! cargo run --release -p examples --example chat_bench -- --url ws://127.0.0.1:7812/ws
//! # no server needed: a hub + accept loop in this process:
//! cargo run --release -p examples --example chat_bench -- --in-process --clients 1000 --rooms 20 --rate 1
//! # idle memory (raise the fd limit first: `ulimit -n 65536`):
//! cargo run --release -p examples --example chat_bench -- --in-process --idle 10000
//! ```
//!
//! Loopback only: it is a measuring tool, not a stress tool for other people's servers.

use std::collections::HashMap;
use std::io::BufRead;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use chat_core::{ClientMsg, Codec, MemoryJournal, RoomRef, ServerMsg, UserName};
use chat_ws::{
    Auth, AuthRefusal, Authenticated, Authenticator, ClientAuthMsg, HubConfig, HubHandle, Register, ServerAuthMsg,
    WsErrorCode, negotiate_subprotocol, serve_socket, spawn_hub,
};
use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Bytes, Message};

const HELP: &str = "\
chat-bench: WebSocket load generator for the chat engine (loopback only)

USAGE:
    chat_bench [OPTIONS]

TARGET:
    --url URL              server WebSocket URL [default: ws://127.0.0.1:7812/ws]
    --in-process           start a hub + accept loop here instead (no server needed)
    --journal KIND         in-process journal: memory | store (chat-store in a temp dir) [default: memory]
    --serve ADDR           only run the in-process server on ADDR (prints 'listening on ADDR')

LOAD MODE:
    --clients N            WebSocket clients [default: 1000]
    --rooms R              rooms; clients are spread evenly (N/R members each) [default: 20]
    --rate X               messages per second per client; 0 = as fast as --window allows [default: 1]
    --window W             unacknowledged sends per client when --rate 0 [default: 4]
    --size BYTES           message content size (at least the timestamp) [default: 64]
    --duration SECS        measured sending time [default: 10]
    --warmup SECS          sending before measuring starts [default: 2]
    --drain SECS           time to wait for deliveries after sending stops [default: 3]
    --codec json|msgpack   subprotocol [default: json]
    --user-prefix P        user names are P0, P1, ... [default: bench]
    --password PW          password used to register/log in [default: bench-password-1]
    --connect-concurrency C  connections opened at once [default: 50]
    --queue Q              in-process: per-session outbound queue [default: 256]
    --threads T            tokio worker threads [default: 2]

IDLE MODE:
    --idle K               open K idle connections and report server RSS per connection
    --server-pid PID       the server's pid (to read /proc/PID/status); with --in-process the
                           server runs as a child process and is measured automatically
    --hold SECS            keep the idle connections open this long before measuring [default: 3]

    -h, --help             this text
";

#[derive(Debug, Clone)]
struct Args {
    url: String,
    in_process: bool,
    journal: String,
    serve: Option<String>,
    clients: usize,
    rooms: usize,
    rate: f64,
    window: usize,
    size: usize,
    duration: f64,
    warmup: f64,
    drain: f64,
    codec: Codec,
    user_prefix: String,
    password: String,
    connect_concurrency: usize,
    queue: usize,
    threads: usize,
    idle: Option<usize>,
    server_pid: Option<u32>,
    hold: f64,
}

impl Default for Args {
    fn default() -> Args {
        Args {
            url: "ws://127.0.0.1:7812/ws".into(),
            in_process: false,
            journal: "memory".into(),
            serve: None,
            clients: 1000,
            rooms: 20,
            rate: 1.0,
            window: 4,
            size: 64,
            duration: 10.0,
            warmup: 2.0,
            drain: 3.0,
            codec: Codec::Json,
            user_prefix: "bench".into(),
            password: "bench-password-1".into(),
            connect_concurrency: 50,
            queue: 256,
            threads: 2,
            idle: None,
            server_pid: None,
            hold: 3.0,
        }
    }
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        fn num<T: std::str::FromStr>(flag: &str, v: String) -> Result<T, String> {
            v.parse().map_err(|_| format!("{flag}: not a number: {v}"))
        }
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--url" => args.url = value()?,
            "--in-process" => args.in_process = true,
            "--journal" => args.journal = value()?,
            "--serve" => args.serve = Some(value()?),
            "--clients" => args.clients = num(&flag, value()?)?,
            "--rooms" => args.rooms = num(&flag, value()?)?,
            "--rate" => args.rate = num(&flag, value()?)?,
            "--window" => args.window = num(&flag, value()?)?,
            "--size" => args.size = num(&flag, value()?)?,
            "--duration" => args.duration = num(&flag, value()?.trim_end_matches('s').to_string())?,
            "--warmup" => args.warmup = num(&flag, value()?.trim_end_matches('s').to_string())?,
            "--drain" => args.drain = num(&flag, value()?.trim_end_matches('s').to_string())?,
            "--codec" => {
                args.codec = match value()?.as_str() {
                    "json" => Codec::Json,
                    "msgpack" => Codec::MsgPack,
                    other => return Err(format!("--codec: json or msgpack, not {other}")),
                }
            }
            "--user-prefix" => args.user_prefix = value()?,
            "--password" => args.password = value()?,
            "--connect-concurrency" => args.connect_concurrency = num(&flag, value()?)?,
            "--queue" => args.queue = num(&flag, value()?)?,
            "--threads" => args.threads = num(&flag, value()?)?,
            "--idle" => args.idle = Some(num(&flag, value()?)?),
            "--server-pid" => args.server_pid = Some(num(&flag, value()?)?),
            "--hold" => args.hold = num(&flag, value()?.trim_end_matches('s').to_string())?,
            other => return Err(format!("unknown option {other} (see --help)")),
        }
    }
    if args.clients == 0 || args.rooms == 0 || args.rooms > args.clients {
        return Err("need 1 <= --rooms <= --clients".into());
    }
    if args.rate < 0.0 || args.duration <= 0.0 || args.window == 0 {
        return Err("--rate must be >= 0, --duration > 0, --window > 0".into());
    }
    if !matches!(args.journal.as_str(), "memory" | "store") {
        return Err("--journal: memory or store".into());
    }
    Ok(Some(args))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(args)) => args,
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("chat-bench: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(args.threads.max(1)).enable_all().build();
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("chat-bench: cannot start tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        if let Some(listen) = args.serve.clone() {
            serve_forever(&listen, &args).await
        } else if let Some(k) = args.idle {
            idle(k, &args).await
        } else {
            load(&args).await
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chat-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

// ---- the in-process server ------------------------------------------------------------------

/// Accepts every valid user name (the bench measures the chat path, not password hashing).
struct OpenAuth;

impl Authenticator for OpenAuth {
    fn authenticate(
        &self,
        register: Register,
    ) -> futures::future::BoxFuture<'static, Result<Authenticated, AuthRefusal>> {
        let result = register
            .username
            .ok_or_else(|| AuthRefusal::new(WsErrorCode::BadCredentials, "username required"))
            .and_then(|name| {
                name.parse::<UserName>()
                    .map_err(|e| AuthRefusal::new(chat_core::ErrorCode::InvalidUsername, e.to_string()))
            })
            .map(Authenticated::new);
        Box::pin(async move { result })
    }
}

/// A hub with limits raised for benchmarking, and an accept loop on `listen`.
async fn start_server(listen: &str, args: &Args) -> Result<(SocketAddr, HubHandle), String> {
    let mut config = HubConfig::default();
    config.chat.send_rate_per_sec = 1_000_000;
    config.chat.send_burst = 1_000_000;
    config.chat.op_rate_per_sec = 1_000_000;
    config.chat.op_burst = 1_000_000;
    config.chat.max_room_members = 1_000_000;
    config.session_queue = args.queue.max(1);
    let ws_config = chat_ws::websocket_config(&config.limits);
    let hub = match args.journal.as_str() {
        "store" => {
            let dir = std::env::temp_dir().join(format!("chat-bench-{}", std::process::id()));
            std::fs::create_dir_all(&dir).map_err(|e| format!("temp dir: {e}"))?;
            let store = chat_store::Store::open(dir.join("bench.redb")).map_err(|e| format!("store: {e}"))?;
            spawn_hub(config, store).map_err(|e| format!("store snapshot: {e}"))?.0
        }
        _ => spawn_hub(config, MemoryJournal::new()).map_err(|e| format!("journal: {e}"))?.0,
    };
    let listener = TcpListener::bind(listen).await.map_err(|e| format!("bind {listen}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let accept_hub = hub.clone();
    tokio::spawn(async move {
        let auth: Arc<dyn Authenticator> = Arc::new(OpenAuth);
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                // Out of file descriptors, most likely: back off a little.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let (hub, auth) = (accept_hub.clone(), auth.clone());
            tokio::spawn(async move {
                let mut codec = Codec::Json;
                #[allow(clippy::result_large_err)] // tungstenite's callback signature
                let pick = |req: &Request, mut resp: Response| {
                    let offered = req.headers().get("sec-websocket-protocol").and_then(|v| v.to_str().ok());
                    if let Some(c) = offered.and_then(negotiate_subprotocol) {
                        codec = c;
                        resp.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static(c.subprotocol()));
                    }
                    Ok(resp)
                };
                if let Ok(ws) = tokio_tungstenite::accept_hdr_async_with_config(tcp, pick, Some(ws_config)).await {
                    serve_socket(hub, ws, codec, Auth::FirstFrame(auth)).await;
                }
            });
        }
    });
    Ok((addr, hub))
}

async fn serve_forever(listen: &str, args: &Args) -> Result<(), String> {
    let (addr, _hub) = start_server(listen, args).await?;
    println!("listening on {addr}");
    // Run until Ctrl-C (or killed by the parent in idle mode).
    tokio::signal::ctrl_c().await.map_err(|e| e.to_string())
}

// ---- clients ----------------------------------------------------------------------------------

type Ws = WebSocketStream<TcpStream>;

/// Nanoseconds since the bench started (a shared monotonic clock for send/receive times).
fn now_ns() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    u64::try_from(BASE.get_or_init(Instant::now).elapsed().as_nanos()).unwrap_or(u64::MAX)
}

fn client_config(read_buffer: usize) -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(read_buffer).write_buffer_size(0)
}

/// Opens a connection, registers `user` with the first frame, waits for `connected`.
async fn open_client(url: &str, user: &str, args: &Args, read_buffer: usize) -> Result<Ws, String> {
    let mut request = url.into_client_request().map_err(|e| format!("bad url {url}: {e}"))?;
    if request.uri().scheme_str() != Some("ws") {
        return Err("only ws:// URLs (loopback) are supported".into());
    }
    let host = request.uri().host().unwrap_or("127.0.0.1").to_string();
    let port = request.uri().port_u16().unwrap_or(80);
    request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static(args.codec.subprotocol()));
    let tcp = TcpStream::connect((host.as_str(), port)).await.map_err(|e| format!("connect {url}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(request, tcp, Some(client_config(read_buffer)))
        .await
        .map_err(|e| format!("upgrade {url}: {e}"))?;
    let register = ClientAuthMsg::Register(Register::password(user.to_string(), args.password.clone()));
    let bytes = register.encode(args.codec).map_err(|e| e.to_string())?;
    let frame = match args.codec {
        Codec::Json => Message::Text(String::from_utf8(bytes).map_err(|e| e.to_string())?.into()),
        Codec::MsgPack => Message::Binary(Bytes::from(bytes)),
    };
    ws.send(frame).await.map_err(|e| format!("send: {e}"))?;
    // The handshake answer is chat-ws's frame, not the core's.
    loop {
        let Some(bytes) = payload(ws.next().await)? else { continue };
        match ServerAuthMsg::decode(args.codec, &bytes).map_err(|e| format!("decode: {e}"))? {
            ServerAuthMsg::Registered { .. } => break,
            ServerAuthMsg::Error { code, message } => return Err(format!("register {user}: {code}: {message}")),
            _ => {}
        }
    }
    loop {
        match recv(&mut ws, args.codec).await? {
            ServerMsg::Connected { .. } => return Ok(ws),
            ServerMsg::Error { code, message, .. } => return Err(format!("register {user}: {code}: {message}")),
            _ => {}
        }
    }
}

fn encode(codec: Codec, msg: &ClientMsg) -> Result<Message, String> {
    let bytes = codec.encode_client(msg).map_err(|e| e.to_string())?;
    Ok(match codec {
        Codec::Json => Message::Text(String::from_utf8(bytes).map_err(|e| e.to_string())?.into()),
        Codec::MsgPack => Message::Binary(Bytes::from(bytes)),
    })
}

async fn send(ws: &mut Ws, codec: Codec, msg: &ClientMsg) -> Result<(), String> {
    ws.send(encode(codec, msg)?).await.map_err(|e| format!("send: {e}"))
}

/// The next event (pings are answered by tungstenite on the next write).
async fn recv(ws: &mut Ws, codec: Codec) -> Result<ServerMsg, String> {
    loop {
        if let Some(bytes) = payload(ws.next().await)? {
            return codec.decode_server(&bytes).map_err(|e| format!("decode: {e}"));
        }
    }
}

/// A frame's payload; `None` for control frames (ping/pong), an error when the socket ended.
fn payload(frame: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>) -> Result<Option<Bytes>, String> {
    match frame {
        Some(Ok(Message::Text(t))) => Ok(Some(Bytes::from(t))),
        Some(Ok(Message::Binary(b))) => Ok(Some(b)),
        Some(Ok(Message::Close(frame))) => Err(format!("closed by server: {frame:?}")),
        Some(Ok(_)) => Ok(None),
        Some(Err(e)) => Err(format!("read: {e}")),
        None => Err("connection ended".into()),
    }
}

fn room_ref(room: usize) -> RoomRef {
    RoomRef { room: Some(format!("group:bench-r{room}")), ..Default::default() }
}

/// What one client saw.
#[derive(Debug, Default)]
struct Stats {
    room: usize,
    sent: u64,
    acked_in_window: u64,
    errors: u64,
    received_in_window: u64,
    duplicates: u64,
    gaps: u64,
    latencies_us: Vec<u32>,
    failed: Option<String>,
}

/// Timing shared by every client.
#[derive(Debug, Clone, Copy)]
struct Plan {
    start_ns: u64,
    window_start_ns: u64,
    window_end_ns: u64,
    stop_ns: u64,
}

impl Plan {
    fn in_window(&self, ns: u64) -> bool {
        ns >= self.window_start_ns && ns < self.window_end_ns
    }
}

fn instant_at(ns: u64) -> tokio::time::Instant {
    let now = now_ns();
    tokio::time::Instant::now() + Duration::from_nanos(ns.saturating_sub(now))
}

async fn run_client(mut ws: Ws, index: usize, room: usize, plan: Plan, args: Arc<Args>) -> Stats {
    let mut stats = Stats { room, ..Stats::default() };
    if let Err(e) = client_loop(&mut ws, index, &plan, &args, &mut stats).await {
        stats.failed = Some(e);
    }
    stats
}

async fn client_loop(ws: &mut Ws, index: usize, plan: &Plan, args: &Args, stats: &mut Stats) -> Result<(), String> {
    let codec = args.codec;
    let rate_mode = args.rate > 0.0;
    let interval_ns = if rate_mode { (1e9 / args.rate) as u64 } else { 0 };
    // Spread the clients' first sends over one interval.
    let mut next_send = plan.start_ns + interval_ns * index as u64 / args.clients.max(1) as u64;
    let mut outstanding: std::collections::VecDeque<u64> = std::collections::VecDeque::new();
    let mut last_seq = 0u64;
    let room = room_ref(stats.room);
    let padding = "x".repeat(args.size.saturating_sub(21));
    let stop = tokio::time::sleep_until(instant_at(plan.stop_ns));
    tokio::pin!(stop);
    loop {
        // Window mode: keep `window` sends in flight while sending is on.
        if !rate_mode && now_ns() < plan.window_end_ns {
            let mut fed = false;
            while outstanding.len() < args.window {
                let ns = now_ns();
                let content = format!("{ns:020} {padding}");
                let msg = ClientMsg::SendMessage {
                    attachments: Vec::new(),
                    room: room.clone(),
                    content,
                    client_id: None,
                    reply_to: None,
                };
                ws.feed(encode(codec, &msg)?).await.map_err(|e| format!("send: {e}"))?;
                outstanding.push_back(ns);
                stats.sent += 1;
                fed = true;
            }
            if fed {
                ws.flush().await.map_err(|e| format!("flush: {e}"))?;
            }
        }
        let sending = rate_mode && next_send < plan.window_end_ns;
        tokio::select! {
            biased;
            () = &mut stop => return Ok(()),
            frame = ws.next() => {
                let Some(bytes) = payload(frame)? else { continue };
                let now = now_ns();
                match classify(codec, &bytes)? {
                    Event::Message { seq, sent_ns } => {
                        if seq <= last_seq {
                            stats.duplicates += 1;
                            continue;
                        }
                        stats.gaps += seq - last_seq - 1;
                        last_seq = seq;
                        if plan.in_window(sent_ns) {
                            stats.received_in_window += 1;
                            let us = now.saturating_sub(sent_ns) / 1_000;
                            stats.latencies_us.push(u32::try_from(us).unwrap_or(u32::MAX));
                        }
                    }
                    Event::Ack => {
                        let acked = outstanding.pop_front();
                        stats.acked_in_window += u64::from(acked.is_some_and(|sent_ns| plan.in_window(sent_ns)));
                    }
                    Event::Error => {
                        stats.errors += 1;
                        outstanding.pop_front();
                    }
                    Event::Other => {}
                }
            }
            () = tokio::time::sleep_until(instant_at(next_send)), if sending => {
                let ns = now_ns();
                let content = format!("{ns:020} {padding}");
                let msg = ClientMsg::SendMessage { attachments: Vec::new(), room: room.clone(), content, client_id: None, reply_to: None };
                send(ws, codec, &msg).await?;
                outstanding.push_back(ns);
                stats.sent += 1;
                next_send += interval_ns;
                // Fell behind (overloaded)? Skip rather than burst.
                if next_send + 10 * interval_ns < ns {
                    next_send = ns;
                }
            }
        }
    }
}

/// What the load loop needs from a server frame.
enum Event {
    Message { seq: u64, sent_ns: u64 },
    Ack,
    Error,
    Other,
}

/// Classifies a frame. JSON `message` and `ack` frames (nearly all of the traffic) are read with
/// a byte scan instead of a full decode, to leave the shared CPU to the server; anything the
/// scan does not recognise is decoded properly.
fn classify(codec: Codec, bytes: &[u8]) -> Result<Event, String> {
    if codec == Codec::Json {
        if bytes.starts_with(br#"{"type":"ack""#) {
            return Ok(Event::Ack);
        }
        if bytes.starts_with(br#"{"type":"message""#) {
            let number = |key: &[u8]| -> Option<u64> {
                let at = bytes.windows(key.len()).position(|w| w == key)? + key.len();
                let digits = bytes[at..].iter().take_while(|b| b.is_ascii_digit()).count();
                std::str::from_utf8(&bytes[at..at + digits]).ok()?.parse().ok()
            };
            if let (Some(seq), Some(sent_ns)) = (number(br#""seq":"#), number(br#""content":""#)) {
                return Ok(Event::Message { seq, sent_ns });
            }
        }
    }
    Ok(match codec.decode_server(bytes).map_err(|e| format!("decode: {e}"))? {
        ServerMsg::Message(m) => {
            Event::Message { seq: m.seq, sent_ns: m.content.get(..20).and_then(|s| s.parse().ok()).unwrap_or(0) }
        }
        ServerMsg::Ack { .. } => Event::Ack,
        ServerMsg::Error { .. } => Event::Error,
        _ => Event::Other,
    })
}

/// Connects every client (bounded concurrency) and joins its room.
async fn connect_all(url: &str, args: &Args, read_buffer: usize) -> Result<Vec<(usize, usize, Ws)>, String> {
    let members = args.clients / args.rooms;
    let opened = futures::stream::iter(0..args.clients)
        .map(|i| {
            let user = format!("{}{i}", args.user_prefix);
            let room = (i / members.max(1)).min(args.rooms - 1);
            async move {
                let mut ws = open_client(url, &user, args, read_buffer).await?;
                send(&mut ws, args.codec, &ClientMsg::JoinRoom { room: room_ref(room) }).await?;
                loop {
                    match recv(&mut ws, args.codec).await? {
                        ServerMsg::RoomJoined(_) => break,
                        ServerMsg::Error { code, message, .. } => return Err(format!("join: {code}: {message}")),
                        _ => {}
                    }
                }
                Ok::<_, String>((i, room, ws))
            }
        })
        .buffer_unordered(args.connect_concurrency.max(1))
        .collect::<Vec<_>>()
        .await;
    opened.into_iter().collect()
}

async fn load(args: &Args) -> Result<(), String> {
    let (url, hub) = if args.in_process {
        let (addr, hub) = start_server("127.0.0.1:0", args).await?;
        (format!("ws://{addr}/ws"), Some(hub))
    } else {
        (args.url.clone(), None)
    };
    let members = args.clients / args.rooms;
    println!(
        "chat-bench: {} clients, {} rooms of ~{members}, {} per client, {}s (+{}s warm-up), {:?}, {} B messages, {}",
        args.clients,
        args.rooms,
        if args.rate > 0.0 { format!("{} msg/s", args.rate) } else { format!("window {}", args.window) },
        args.duration,
        args.warmup,
        args.codec,
        args.size,
        if args.in_process { format!("in-process ({} journal)", args.journal) } else { url.clone() },
    );
    let t = Instant::now();
    let clients = connect_all(&url, args, 8 * 1024).await?;
    println!("connected and joined in {:.2}s", t.elapsed().as_secs_f64());

    // Let the join/presence traffic settle before starting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let start_ns = now_ns() + 100_000_000;
    let window_start_ns = start_ns + (args.warmup * 1e9) as u64;
    let window_end_ns = window_start_ns + (args.duration * 1e9) as u64;
    let plan = Plan { start_ns, window_start_ns, window_end_ns, stop_ns: window_end_ns + (args.drain * 1e9) as u64 };
    let shared = Arc::new(args.clone());
    let metrics_before = hub.as_ref().map(|h| h.metrics());
    let tasks: Vec<_> =
        clients.into_iter().map(|(i, room, ws)| tokio::spawn(run_client(ws, i, room, plan, shared.clone()))).collect();
    let cpu_before = cpu_seconds();
    let mut all = Vec::with_capacity(tasks.len());
    for task in tasks {
        all.push(task.await.map_err(|e| e.to_string())?);
    }
    report(args, &all, plan);
    if let (Some(before), Some(after)) = (cpu_before, cpu_seconds()) {
        let wall = (plan.stop_ns - plan.start_ns) as f64 / 1e9;
        println!(
            "this process: {:.1} CPU-seconds over {wall:.1}s ({:.0}% of one core){}",
            after - before,
            100.0 * (after - before) / wall,
            if args.in_process { ", server and clients together" } else { ", clients only" }
        );
    }
    if let (Some(hub), Some(before)) = (hub, metrics_before) {
        let m = hub.metrics();
        let batches = m.commit_batches - before.commit_batches;
        let entries = m.committed_entries - before.committed_entries;
        let sum_us = m.commit_latency_sum_us - before.commit_latency_sum_us;
        println!(
            "server: {} commits ({:.1} entries/commit, mean {:.0} µs, max {} µs), {} slow consumers closed",
            batches,
            entries as f64 / batches.max(1) as f64,
            sum_us as f64 / batches.max(1) as f64,
            m.commit_latency_max_us,
            m.slow_consumers_closed - before.slow_consumers_closed,
        );
    }
    Ok(())
}

fn report(args: &Args, all: &[Stats], plan: Plan) {
    let mut members: HashMap<usize, u64> = HashMap::new();
    for s in all {
        *members.entry(s.room).or_default() += 1;
    }
    let expected: u64 = all.iter().map(|s| s.acked_in_window * members[&s.room]).sum();
    let received: u64 = all.iter().map(|s| s.received_in_window).sum();
    let sent: u64 = all.iter().map(|s| s.sent).sum();
    let acked: u64 = all.iter().map(|s| s.acked_in_window).sum();
    let errors: u64 = all.iter().map(|s| s.errors).sum();
    let duplicates: u64 = all.iter().map(|s| s.duplicates).sum();
    let gaps: u64 = all.iter().map(|s| s.gaps).sum();
    let failed: Vec<&String> = all.iter().filter_map(|s| s.failed.as_ref()).collect();
    let mut lat: Vec<u32> = all.iter().flat_map(|s| s.latencies_us.iter().copied()).collect();
    lat.sort_unstable();
    let pct = |p: f64| -> f64 {
        if lat.is_empty() {
            return f64::NAN;
        }
        let i = ((lat.len() as f64 - 1.0) * p).round() as usize;
        f64::from(lat[i]) / 1000.0
    };
    let secs = (plan.window_end_ns - plan.window_start_ns) as f64 / 1e9;
    let loss = expected.saturating_sub(received);
    println!("sent {sent} messages ({acked} acked in the window, {errors} refused)");
    println!(
        "delivered {received} of {expected} expected in the window: {:.0} deliveries/s, {:.0} msgs/s accepted",
        received as f64 / secs,
        acked as f64 / secs
    );
    println!(
        "loss {loss} ({:.4}%), duplicates {duplicates}, seq gaps {gaps}, failed clients {}",
        100.0 * loss as f64 / expected.max(1) as f64,
        failed.len()
    );
    println!(
        "latency send→receive (ms): p50 {:.2}  p95 {:.2}  p99 {:.2}  max {:.2}  (n={})",
        pct(0.50),
        pct(0.95),
        pct(0.99),
        pct(1.0),
        lat.len()
    );
    if let Some(first) = failed.first() {
        println!("first client failure: {first}");
    }
    let _ = args;
}

/// User + system CPU time of this process, from `/proc/self/stat` (clock ticks of 1/100 s).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

// ---- idle mode --------------------------------------------------------------------------------

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn idle(k: usize, args: &Args) -> Result<(), String> {
    let mut child = None;
    let (url, pid) = if args.in_process {
        // The server runs in a child process so its RSS excludes these clients.
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut cmd = std::process::Command::new(exe);
        cmd.args(["--serve", "127.0.0.1:0", "--journal", &args.journal, "--threads", &args.threads.to_string()]);
        cmd.stdout(std::process::Stdio::piped());
        let mut c = cmd.spawn().map_err(|e| format!("spawn server: {e}"))?;
        let stdout = c.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line).map_err(|e| e.to_string())?;
        let addr = line.trim().strip_prefix("listening on ").ok_or_else(|| format!("server said {line:?}"))?;
        let url = format!("ws://{addr}/ws");
        let pid = c.id();
        child = Some(c);
        (url, Some(pid))
    } else {
        (args.url.clone(), args.server_pid)
    };
    let result = idle_connections(k, &url, pid, args).await;
    if let Some(mut c) = child {
        let _ = c.kill();
        let _ = c.wait();
    }
    result
}

async fn idle_connections(k: usize, url: &str, pid: Option<u32>, args: &Args) -> Result<(), String> {
    // One connection first, so one-time allocations are not counted per connection.
    let warm = open_client(url, &format!("{}idle-warm", args.user_prefix), args, 1024).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = pid.and_then(rss_kib);
    let t = Instant::now();
    let opened = futures::stream::iter(0..k)
        .map(|i| {
            let user = format!("{}idle{i}", args.user_prefix);
            async move { open_client(url, &user, args, 1024).await }
        })
        .buffer_unordered(args.connect_concurrency.max(1))
        .collect::<Vec<_>>()
        .await;
    let failures = opened.iter().filter(|r| r.is_err()).count();
    let first_error = opened.iter().find_map(|r| r.as_ref().err()).cloned();
    let conns: Vec<Ws> = opened.into_iter().filter_map(Result::ok).collect();
    println!("opened {} idle connections in {:.2}s ({failures} failed)", conns.len(), t.elapsed().as_secs_f64());
    if let Some(e) = first_error {
        println!("first failure: {e} (raise `ulimit -n`?)");
    }
    tokio::time::sleep(Duration::from_secs_f64(args.hold)).await;
    match (before, pid.and_then(rss_kib)) {
        (Some(before), Some(after)) => {
            let delta = after.saturating_sub(before) * 1024;
            println!(
                "server RSS: {before} KiB -> {after} KiB; {:.0} bytes ({:.2} KiB) per idle connection",
                delta as f64 / conns.len().max(1) as f64,
                delta as f64 / 1024.0 / conns.len().max(1) as f64
            );
        }
        _ => println!("server RSS unknown (pass --server-pid, or use --in-process)"),
    }
    drop(conns);
    drop(warm);
    Ok(())
}
