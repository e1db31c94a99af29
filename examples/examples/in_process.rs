//! The shortest path for an embedder: `chat-core` in a plain program, no async, no network.
//!
//! Two users join a room, one mentions the other, and we print what each session receives and
//! the unread counts. Run it with `cargo run -p examples --example in_process`.

use chat_core::{Chat, ClientMsg, Config, Input, Journal, MemoryJournal, Output, RoomRef};
use chat_core::{ServerMsg, SessionId, Timestamp, UserName};

/// Carries out one drain under the driver contract: commit every `Persist` first (one batch,
/// [`Drain::commit`](chat_core::Drain::commit)), then deliver. A real transport would encode and
/// send each event here.
fn drain(chat: &mut Chat, journal: &mut MemoryJournal) {
    for output in chat.drain().commit(journal).expect("in-memory commit") {
        if let Output::Deliver { sessions, msg } = output {
            match &*msg {
                ServerMsg::Message(m) => println!("{sessions:?} <- {}: {}", m.sender, m.content),
                ServerMsg::MentionNotification(n) => println!("{sessions:?} <- mentioned by {}", n.sender),
                _ => {}
            }
        }
    }
}

fn main() {
    let mut chat = Chat::new(Config::default());
    let mut journal = MemoryJournal::new();
    let alice: UserName = "alice".parse().expect("valid name");
    let bob: UserName = "bob".parse().expect("valid name");
    let lobby = RoomRef { room: Some("group:lobby".into()), ..RoomRef::default() };
    let now = Timestamp(1_700_000_000_000); // your clock, in ms since the Unix epoch

    // The driver mints session ids and says which user each belongs to.
    let (a, b) = (SessionId(1), SessionId(2));
    for input in [
        Input::Connect { session: a, user: alice.clone() },
        Input::Connect { session: b, user: bob.clone() },
        Input::Receive { session: a, msg: ClientMsg::JoinRoom { room: lobby.clone() } },
        Input::Receive { session: b, msg: ClientMsg::JoinRoom { room: lobby.clone() } },
    ] {
        chat.handle(now, input);
    }
    drain(&mut chat, &mut journal);

    let hello = ClientMsg::SendMessage {
        attachments: Vec::new(),
        room: lobby,
        content: "hi @bob, lunch?".into(),
        client_id: None,
        reply_to: None,
    };
    chat.handle(now, Input::Receive { session: a, msg: hello });
    drain(&mut chat, &mut journal);

    let room = "group:lobby".parse().expect("valid room key");
    for user in [&alice, &bob] {
        let unread = chat.unread(user, &room).expect("a member");
        println!("{user}: unread {} highlight {}", unread.unread, unread.highlight);
    }
    // Everything the core decided is in the journal: a restart would restore it exactly.
    assert_eq!(&journal.snapshot().expect("in-memory read"), chat.snapshot());
}
