//! The hot-path workload both benches measure: 20 rooms of 50 online members (one session
//! each), messages round-robin over rooms and senders, one in ten with a mention.
//!
//! Building a message's `Input` (what an adapter's decoder does, on the connection's own task)
//! is separate from handling it, so the benches can time the core alone.

use chat_core::{Chat, ClientMsg, Config, Input, Output, RoomRef, SessionId, Timestamp, UserName};

pub const ROOMS: usize = 20;
pub const MEMBERS: usize = 50;

/// The chat under test, everyone connected and joined.
pub struct Workload {
    pub chat: Chat,
    now: Timestamp,
}

/// Builds the inputs: message `i` goes to room `i % ROOMS` from its next member.
pub struct Inputs {
    rooms: Vec<RoomRef>,
    next: u64,
    client_ids: bool,
}

impl Workload {
    /// Everyone connected and joined, outputs drained, rate limits out of the way.
    pub fn new(client_ids: bool) -> (Workload, Inputs) {
        let mut config = Config::default();
        config.send_rate_per_sec = u32::MAX / 2;
        config.send_burst = u32::MAX / 2;
        let mut chat = Chat::new(config);
        let now = Timestamp(1_700_000_000_000);
        let mut rooms = Vec::new();
        for r in 0..ROOMS {
            let room = RoomRef { room: Some(format!("group:room{r}")), ..RoomRef::default() };
            for m in 0..MEMBERS {
                let session = SessionId((r * MEMBERS + m) as u64);
                let user: UserName = format!("user{r}_{m}").parse().expect("valid name");
                chat.handle(now, Input::Connect { session, user });
                chat.handle(now, Input::Receive { session, msg: ClientMsg::JoinRoom { room: room.clone() } });
            }
            rooms.push(room);
        }
        while chat.poll_output().is_some() {}
        (Workload { chat, now }, Inputs { rooms, next: 1, client_ids })
    }

    /// Handles one input and drains (and drops) every output; returns the recipient deliveries.
    #[inline(never)] // a symbol profilers can find
    pub fn handle(&mut self, input: Input) -> usize {
        self.chat.handle(self.now, input);
        let mut deliveries = 0;
        while let Some(output) = self.chat.poll_output() {
            if let Output::Deliver { sessions, .. } = &output {
                deliveries += sessions.len();
            }
            std::hint::black_box(&output);
        }
        deliveries
    }
}

impl Inputs {
    /// The next message, as the adapter would hand it to the core.
    pub fn next(&mut self) -> Input {
        let i = self.next;
        self.next += 1;
        let r = (i as usize) % ROOMS;
        let m = (i as usize / ROOMS) % MEMBERS;
        let session = SessionId((r * MEMBERS + m) as u64);
        let content = if i.is_multiple_of(10) {
            format!("hey @user{r}_{} did you see the build? it is green now", (m + 1) % MEMBERS)
        } else {
            "did you see the build? it is green now, shipping after lunch".to_owned()
        };
        let client_id = self.client_ids.then(|| format!("c{i}"));
        let msg = ClientMsg::SendMessage {
            attachments: Vec::new(),
            room: self.rooms[r].clone(),
            content,
            client_id,
            reply_to: None,
        };
        Input::Receive { session, msg }
    }
}
