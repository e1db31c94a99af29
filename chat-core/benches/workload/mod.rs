//! The hot-path workload both benches measure: 20 rooms of 50 online members (one session
//! each), messages round-robin over rooms and senders, one in ten with a mention.

use chat_core::{Chat, ClientMsg, Config, Input, Output, RoomRef, SessionId, Timestamp, UserName};

pub const ROOMS: usize = 20;
pub const MEMBERS: usize = 50;

pub struct Workload {
    pub chat: Chat,
    rooms: Vec<RoomRef>,
    now: Timestamp,
}

impl Workload {
    /// Everyone connected and joined, outputs drained, rate limits out of the way.
    pub fn new() -> Workload {
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
        Workload { chat, rooms, now }
    }

    /// Sends message `i` and drains every output; returns the recipient deliveries.
    pub fn send(&mut self, i: u64, client_id: bool) -> usize {
        let r = (i as usize) % ROOMS;
        let m = (i as usize / ROOMS) % MEMBERS;
        let session = SessionId((r * MEMBERS + m) as u64);
        let content = if i.is_multiple_of(10) {
            format!("hey @user{r}_{} did you see the build? it is green now", (m + 1) % MEMBERS)
        } else {
            "did you see the build? it is green now, shipping after lunch".to_owned()
        };
        let client_id = client_id.then(|| format!("c{i}"));
        let msg = ClientMsg::SendMessage { room: self.rooms[r].clone(), content, client_id };
        self.chat.handle(self.now, Input::Receive { session, msg });
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
