//! A WebSocket bot: logs in, joins a room and answers when mentioned (or messaged directly).
//!
//! ```text
//! cargo run -p chat-server                    # in another terminal (ws://127.0.0.1:7812/ws)
//! cargo run -p examples --example bot -- --user bot --password 'bot password' --room lobby
//! ```
//! Then, in the room: `@bot ping` → `@you pong`, `@bot time` → the server-independent UTC time,
//! `@bot help`. Flags: `--url` (default `ws://127.0.0.1:7812/ws`), `--user`, `--password`,
//! `--room`. The first frame signs up when the name is free, else logs in.

use chat_core::mention::{MentionTarget, mentions};
use chat_core::{ClientMsg, Message, RoomRef, RoomType, ServerMsg, UserName};
use examples::ws_client::{self, DEFAULT_URL, Error, Flags, printable};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let flags = Flags::from_env();
    let url = flags.get("url", DEFAULT_URL);
    let me = UserName::new(&flags.get("user", "bot"))?;
    let password = flags.get("password", "bot-password-change-me");
    let room = flags.get("room", "lobby");

    let mut ws = ws_client::connect(&url, me.as_str(), &password).await?;
    println!("logged in as {me} at {url}");
    let join = RoomRef { room_type: Some(RoomType::Group), room_name: Some(room), ..RoomRef::default() };
    ws_client::send(&mut ws, &ClientMsg::JoinRoom { room: join }).await?;

    while let Some(msg) = ws_client::recv(&mut ws).await? {
        match msg {
            ServerMsg::RoomJoined(summary) => println!("in {} ({} members)", summary.room, summary.users.len()),
            ServerMsg::Message(m) if m.sender != me && (m.room.is_dm() || m.mentions.contains(&me)) => {
                println!("{} in {}: {}", m.sender, m.room, printable(&m.content));
                let content = format!("@{} {}", m.sender, answer(&me, &m));
                let reply = ClientMsg::SendMessage {
                    attachments: Vec::new(),
                    room: RoomRef::key(&m.room),
                    content,
                    client_id: None,
                    reply_to: None,
                };
                ws_client::send(&mut ws, &reply).await?;
            }
            ServerMsg::Error { code, message, .. } => eprintln!("error {code}: {}", printable(&message)),
            _ => {}
        }
    }
    println!("the server closed the connection");
    Ok(())
}

/// The answer to the command that follows the bot's mention (or starts a DM).
fn answer(me: &UserName, m: &Message) -> String {
    let after_mention = mentions(&m.content)
        .find(|x| matches!(x.target, MentionTarget::User(u) if u.eq_ignore_ascii_case(me.as_str())))
        .map_or(0, |x| x.end);
    let command = m.content[after_mention..].split_whitespace().next().unwrap_or("").to_ascii_lowercase();
    match command.trim_matches(|c: char| !c.is_alphanumeric()) {
        "ping" => "pong".to_owned(),
        "time" => format!("it is {} UTC", utc_now()),
        "help" => "I answer: ping, time, help".to_owned(),
        _ => "I did not get that; try: ping, time, help".to_owned(),
    }
}

/// The current UTC time as `YYYY-MM-DD HH:MM:SS` (civil-from-days; no date crate needed).
fn utc_now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}", rem / 3_600, rem % 3_600 / 60, rem % 60)
}
