//! A small interactive terminal chat client for the server's WebSocket API.
//!
//! ```text
//! cargo run -p chat-server                    # in another terminal (ws://127.0.0.1:7812/ws)
//! cargo run -p examples --example terminal_client -- --user alice --password 'alice password'
//! ```
//! Type a line to send it to the current room. Commands: `/join <room>`, `/dm <user>`,
//! `/history`, `/rooms`, `/read`, `/quit`. Flags: `--url` (default `ws://127.0.0.1:7812/ws`),
//! `--user`, `--password`, `--room` (joined at start, default `lobby`).

use chat_core::{ClientMsg, RoomRef, RoomType, ServerMsg};
use examples::ws_client::{self, DEFAULT_URL, Error, Flags, Ws, printable};
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let flags = Flags::from_env();
    let url = flags.get("url", DEFAULT_URL);
    let user = flags.get("user", "guest");
    let password = flags.get("password", "");
    let mut ws = ws_client::connect(&url, &user, &password).await?;
    println!("connected to {url} as {user}; /join <room>, /dm <user>, /history, /rooms, /read, /quit");

    let mut current = group(&flags.get("room", "lobby"));
    ws_client::send(&mut ws, &ClientMsg::JoinRoom { room: current.clone() }).await?;
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    loop {
        tokio::select! {
            line = stdin.next_line() => {
                let Some(line) = line? else { break };
                match command(&line, &mut current) {
                    Command::Send(msg) => ws_client::send(&mut ws, &msg).await?,
                    Command::Quit => break,
                    Command::Nothing => {}
                }
            }
            msg = ws_client::recv(&mut ws) => match msg? {
                Some(msg) => show(&msg),
                None => {
                    println!("the server closed the connection");
                    return Ok(());
                }
            },
        }
    }
    close(ws).await
}

enum Command {
    Send(ClientMsg),
    Quit,
    Nothing,
}

fn group(name: &str) -> RoomRef {
    RoomRef { room_type: Some(RoomType::Group), room_name: Some(name.to_owned()), ..RoomRef::default() }
}

/// What a typed line means. `/join` and `/dm` also switch the current room.
fn command(line: &str, current: &mut RoomRef) -> Command {
    let (word, arg) = line.trim().split_once(' ').unwrap_or((line.trim(), ""));
    let arg = arg.trim();
    let msg = match word {
        "" => return Command::Nothing,
        "/quit" => return Command::Quit,
        "/join" if !arg.is_empty() => {
            *current = group(arg);
            ClientMsg::JoinRoom { room: current.clone() }
        }
        "/dm" if !arg.is_empty() => {
            *current = RoomRef { room_type: Some(RoomType::Dm), target: Some(arg.to_owned()), ..RoomRef::default() };
            ClientMsg::JoinRoom { room: current.clone() }
        }
        "/history" => {
            ClientMsg::History { room: current.clone(), before: None, after: None, limit: Some(20), around: None }
        }
        "/rooms" => ClientMsg::ListRooms(Default::default()),
        "/read" => ClientMsg::MarkRead { room: current.clone(), seq: None },
        w if w.starts_with('/') => {
            println!("commands: /join <room>, /dm <user>, /history, /rooms, /read, /quit");
            return Command::Nothing;
        }
        _ => ClientMsg::SendMessage {
            attachments: Vec::new(),
            room: current.clone(),
            content: line.to_owned(),
            client_id: None,
            reply_to: None,
        },
    };
    Command::Send(msg)
}

fn show(msg: &ServerMsg) {
    let line = |m: &chat_core::Message| format!("[{}] {}: {}", m.room, m.sender, printable(&m.content));
    match msg {
        ServerMsg::Connected { rooms, unread_notifications, .. } => {
            println!("{} rooms, {unread_notifications} unread notifications", rooms.len());
            for r in rooms {
                println!("  {} ({} unread, {} for you)", r.room, r.unread, r.highlight);
            }
        }
        ServerMsg::RoomJoined(r) => println!("now in {} ({} unread)", r.room, r.unread),
        ServerMsg::RoomLeft { room, .. } => println!("left {room}"),
        ServerMsg::Message(m) => println!("{}", line(m)),
        ServerMsg::History { messages, .. } => messages.iter().for_each(|m| println!("{}", line(m))),
        ServerMsg::MentionNotification(n) => println!("*** {} mentioned you in {}", n.sender, n.room),
        ServerMsg::ReadState { room, unread, .. } => println!("{room}: {unread} unread"),
        ServerMsg::RoomList { rooms, .. } => {
            rooms.iter().for_each(|r| println!("  {} ({} members)", r.room, r.members))
        }
        ServerMsg::Error { code, message, .. } => println!("! {code}: {}", printable(message)),
        _ => {}
    }
}

async fn close(mut ws: Ws) -> Result<(), Error> {
    ws.close(None).await?;
    Ok(())
}
