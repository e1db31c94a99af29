//! The `chat-ws` hub over a transport that is not WebSocket: line-delimited JSON on TCP.
//!
//! Every line is one frame of the normal protocol (`docs/protocol.md`), JSON-encoded. The first
//! line names the user: `{"type":"register","username":"alice"}`. **This demo trusts that name**
//! (no password): a real server authenticates here, as `chat-server` does.
//!
//! ```text
//! cargo run -p examples --example custom_transport -- --demo           # server + two scripted clients
//! cargo run -p examples --example custom_transport -- --listen 127.0.0.1:7813
//! nc 127.0.0.1 7813
//! {"type":"register","username":"alice"}
//! {"type":"join_room","room":"group:lobby"}
//! {"type":"send_message","room":"group:lobby","content":"hi @bob"}
//! ```

use std::time::Duration;

use chat_core::{ClientMsg, Codec, MemoryJournal, RoomRef, ServerMsg, UserName};
use chat_ws::{
    AuthDecodeError, ClientAuthMsg, HubConfig, HubHandle, Register, ServerAuthMsg, SessionEvent, SessionLink,
    WsErrorCode, spawn_hub,
};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};

/// Longest accepted line (one frame), in bytes.
const MAX_LINE: usize = 64 * 1024;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let demo = args.iter().any(|a| a == "--demo");
    let listen = match args.iter().position(|a| a == "--listen") {
        Some(i) => args.get(i + 1).ok_or("--listen needs an address")?.clone(),
        None if demo => "127.0.0.1:0".to_owned(),
        None => "127.0.0.1:7813".to_owned(),
    };

    let (hub, _task) = spawn_hub(HubConfig::default(), MemoryJournal::new())?;
    let listener = TcpListener::bind(&listen).await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(accept_loop(listener, hub.clone()));
    if !demo {
        println!("line-JSON chat on {addr}; try: nc {addr}");
        return Ok(server.await?);
    }
    tokio::time::timeout(Duration::from_secs(20), run_demo(addr)).await.map_err(|_| "demo timed out")??;
    hub.shutdown().await;
    Ok(())
}

async fn accept_loop(listener: TcpListener, hub: HubHandle) {
    loop {
        match listener.accept().await {
            Ok((tcp, _)) => {
                let hub = hub.clone();
                tokio::spawn(async move {
                    if let Err(e) = serve(hub, tcp).await {
                        eprintln!("connection ended: {e}");
                    }
                });
            }
            Err(e) => eprintln!("accept failed: {e}"),
        }
    }
}

/// Appends the rest of one line (at most `MAX_LINE` bytes, newline dropped) to `line`. `None` at
/// end of input. Cancel-safe: bytes read before a cancellation stay in `line`, so the caller
/// clears `line` only after handling a complete one.
async fn read_line(reader: &mut (impl AsyncBufRead + Unpin), line: &mut Vec<u8>) -> Result<Option<()>, Error> {
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(if line.is_empty() { None } else { Some(()) });
        }
        let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..i], Some(i + 1)),
            None => (available, None),
        };
        if line.len() + chunk.len() > MAX_LINE {
            return Err("line too long".into());
        }
        line.extend_from_slice(chunk);
        let used = done.unwrap_or(chunk.len());
        reader.consume(used);
        if done.is_some() {
            return Ok(Some(()));
        }
    }
}

async fn write_auth(out: &mut OwnedWriteHalf, msg: &ServerAuthMsg) -> Result<(), Error> {
    let mut bytes = msg.encode(Codec::Json)?;
    bytes.push(b'\n');
    Ok(out.write_all(&bytes).await?)
}

async fn write_msg(out: &mut OwnedWriteHalf, msg: &ServerMsg) -> Result<(), Error> {
    let mut bytes = Codec::Json.encode_server(msg)?;
    bytes.push(b'\n');
    Ok(out.write_all(&bytes).await?)
}

/// One connection: the `register` line, then frames in both directions until either side ends.
async fn serve(hub: HubHandle, tcp: TcpStream) -> Result<(), Error> {
    let (read, mut out) = tcp.into_split();
    let mut reader = BufReader::new(read);
    let mut line = Vec::new();
    let user = loop {
        if read_line(&mut reader, &mut line).await?.is_none() {
            return Ok(());
        }
        // The handshake frames are chat-ws's (`register` is not a core frame).
        let name = match ClientAuthMsg::decode(Codec::Json, &line) {
            Ok(ClientAuthMsg::Register(Register { username: Some(name), .. })) => {
                UserName::new(&name).map_err(|e| e.to_string())
            }
            Ok(_) => Err("register needs a username".to_owned()),
            Err(AuthDecodeError::Invalid(message)) => Err(message),
            Err(_) => Err("first send {\"type\":\"register\",\"username\":\"...\"}".to_owned()),
        };
        line.clear();
        match name {
            Ok(user) => break user,
            Err(message) => write_auth(&mut out, &ServerAuthMsg::error(WsErrorCode::Unauthorized, message)).await?,
        }
    };
    write_auth(&mut out, &ServerAuthMsg::Registered { username: user.clone(), token: None }).await?;
    let mut link: SessionLink = hub.connect(user).await?;
    loop {
        tokio::select! {
            event = link.recv() => match event {
                SessionEvent::Frame(frame) => {
                    let mut bytes = frame.bytes(Codec::Json).ok_or("unencodable event")?.to_vec();
                    bytes.push(b'\n');
                    out.write_all(&bytes).await?;
                }
                // The hub ended the session (shutdown, slow reader, flooding): hang up.
                SessionEvent::Close(notice) => return Err(notice.reason.into()),
                _ => {}
            },
            read = read_line(&mut reader, &mut line) => {
                if read?.is_none() {
                    return Ok(()); // dropping `link` disconnects the session
                }
                let decoded = Codec::Json.decode_client(&line);
                line.clear();
                match decoded {
                    Ok(msg) => link.send(msg).await?,
                    Err(e) => write_msg(&mut out, &ServerMsg::error(e.code, e.message)).await?,
                }
            }
        }
    }
}

/// A scripted client of the line protocol.
struct Client {
    name: &'static str,
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    out: OwnedWriteHalf,
}

impl Client {
    async fn connect(addr: std::net::SocketAddr, name: &'static str) -> Result<Client, Error> {
        let (read, out) = TcpStream::connect(addr).await?.into_split();
        let mut client = Client { name, reader: BufReader::new(read), out };
        let mut register = ClientAuthMsg::Register(Register::username(name)).encode(Codec::Json)?;
        register.push(b'\n');
        client.out.write_all(&register).await?;
        let mut line = Vec::new();
        read_line(&mut client.reader, &mut line).await?.ok_or("server hung up")?;
        match ServerAuthMsg::decode(Codec::Json, &line)? {
            ServerAuthMsg::Registered { .. } => {}
            other => return Err(format!("{name}: not registered: {other:?}").into()),
        }
        client.wait_for(|m| matches!(m, ServerMsg::Connected { .. })).await?;
        Ok(client)
    }

    async fn send(&mut self, msg: &ClientMsg) -> Result<(), Error> {
        let mut bytes = Codec::Json.encode_client(msg)?;
        bytes.push(b'\n');
        Ok(self.out.write_all(&bytes).await?)
    }

    /// Reads events until one matches, printing the interesting ones.
    async fn wait_for(&mut self, mut want: impl FnMut(&ServerMsg) -> bool) -> Result<ServerMsg, Error> {
        let mut line = Vec::new();
        loop {
            read_line(&mut self.reader, &mut line).await?.ok_or("server hung up")?;
            let msg = Codec::Json.decode_server(&line)?;
            line.clear();
            match &msg {
                ServerMsg::Message(m) => println!("[{}] {} in {}: {}", self.name, m.sender, m.room, m.content),
                ServerMsg::MentionNotification(n) => println!("[{}] mentioned by {}", self.name, n.sender),
                ServerMsg::Error { code, message, .. } => println!("[{}] error {code}: {message}", self.name),
                _ => {}
            }
            if want(&msg) {
                return Ok(msg);
            }
        }
    }
}

async fn run_demo(addr: std::net::SocketAddr) -> Result<(), Error> {
    let lobby = RoomRef { room: Some("group:lobby".into()), ..RoomRef::default() };
    let mut alice = Client::connect(addr, "alice").await?;
    let mut bob = Client::connect(addr, "bob").await?;
    for client in [&mut alice, &mut bob] {
        client.send(&ClientMsg::JoinRoom { room: lobby.clone() }).await?;
        client.wait_for(|m| matches!(m, ServerMsg::RoomJoined(_))).await?;
    }
    let say = |content: &str| ClientMsg::SendMessage {
        attachments: Vec::new(),
        room: lobby.clone(),
        content: content.into(),
        client_id: None,
        reply_to: None,
    };
    alice.send(&say("hi @bob, this is plain TCP")).await?;
    bob.wait_for(|m| matches!(m, ServerMsg::MentionNotification(_))).await?;
    bob.send(&say("hello @alice, no WebSocket in sight")).await?;
    alice.wait_for(|m| matches!(m, ServerMsg::Message(m) if m.sender.as_str() == "bob")).await?;
    bob.send(&ClientMsg::MarkRead { room: lobby.clone(), seq: None }).await?;
    let read = bob.wait_for(|m| matches!(m, ServerMsg::ReadState { .. })).await?;
    println!("[bob] {read:?}");
    Ok(())
}
