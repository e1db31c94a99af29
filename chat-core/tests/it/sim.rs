//! A deterministic, virtual-time simulator: many sessions, one clock, a `MemoryJournal`, and a
//! driver that follows the contract in the crate docs (group commit before delivery, loads
//! answered after the commit, ticks at `poll_timeout`).

use std::collections::BTreeMap;
use std::sync::Arc;

use chat_core::{
    Chat, ClientMsg, Config, Input, Journal, LoadError, LogEntry, MemoryJournal, Output, RequestId, RoomRef, ServerMsg,
    SessionId, Timestamp, UserName,
};

/// Everything a driver carried out, in order (for determinism checks).
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Deliver(Vec<SessionId>, Arc<ServerMsg>),
    Reply(RequestId, ServerMsg),
    Persist(LogEntry),
    Close(SessionId),
}

pub struct Sim {
    pub chat: Chat,
    pub journal: MemoryJournal,
    pub config: Config,
    pub now: Timestamp,
    next_session: u64,
    next_request: u64,
    /// Frames each live session received, not yet taken.
    pub inbox: BTreeMap<SessionId, Vec<ServerMsg>>,
    pub replies: BTreeMap<RequestId, ServerMsg>,
    pub closed: Vec<SessionId>,
    pub trace: Vec<Event>,
}

pub fn user(name: &str) -> UserName {
    name.parse().unwrap()
}

pub fn room(key: &str) -> RoomRef {
    RoomRef { room: Some(key.into()), ..RoomRef::default() }
}

pub fn send(key: &str, content: &str) -> ClientMsg {
    ClientMsg::SendMessage { room: room(key), content: content.into(), client_id: None }
}

pub fn join(key: &str) -> ClientMsg {
    ClientMsg::JoinRoom { room: room(key) }
}

impl Sim {
    pub fn new() -> Sim {
        Sim::with_config(Config::default())
    }

    pub fn with_config(config: Config) -> Sim {
        Sim {
            chat: Chat::new(config.clone()),
            journal: MemoryJournal::new(),
            config,
            now: Timestamp(1_700_000_000_000),
            next_session: 1,
            next_request: 1,
            inbox: BTreeMap::new(),
            replies: BTreeMap::new(),
            closed: Vec::new(),
            trace: Vec::new(),
        }
    }

    /// Feeds one input and runs the driver until quiescent.
    pub fn input(&mut self, input: Input) {
        self.chat.handle(self.now, input);
        self.drain();
    }

    /// One drain under the contract ([`Chat::drain`]): commit all persists, then carry out the
    /// rest in order. Loads are answered after the commit (and their answers drained in turn).
    pub fn drain(&mut self) {
        loop {
            let drain = self.chat.drain();
            if drain.is_empty() {
                return;
            }
            let persisted = drain.persist().to_vec();
            let Ok(rest) = drain.commit(&mut self.journal) else {
                self.restore_after_failure();
                return;
            };
            self.trace.extend(persisted.into_iter().map(Event::Persist));
            let mut loads = Vec::new();
            for output in rest {
                match output {
                    Output::Deliver { sessions, msg } => {
                        for s in sessions.iter() {
                            if let Some(inbox) = self.inbox.get_mut(s) {
                                inbox.push((*msg).clone());
                            } else {
                                panic!("delivery to a session that is not live: {s:?} {msg:?}");
                            }
                        }
                        self.trace.push(Event::Deliver(sessions.to_vec(), msg));
                    }
                    Output::Reply { request, msg } => {
                        assert!(self.replies.insert(request, (*msg).clone()).is_none(), "two replies to {request:?}");
                        self.trace.push(Event::Reply(request, *msg));
                    }
                    Output::Load { load, query } => loads.push((load, query)),
                    Output::Close { session, .. } => {
                        self.trace.push(Event::Close(session));
                        self.closed.push(session);
                        self.inbox.remove(&session);
                        self.chat.handle(self.now, Input::Disconnect { session });
                    }
                    other => panic!("unexpected output {other:?}"),
                }
            }
            for (load, query) in loads {
                let result = self.journal.history(&query).map_err(LoadError::journal);
                self.chat.handle(self.now, Input::Loaded { load, result });
            }
        }
    }

    /// Driver rule 3: replace the chat with the journal's fold and close every session.
    pub fn restore_after_failure(&mut self) {
        let snapshot = self.journal.snapshot().unwrap();
        self.chat = Chat::restore(self.config.clone(), snapshot);
        self.closed.extend(self.inbox.keys().copied());
        self.inbox.clear();
    }

    /// A restart: the chat is rebuilt from the journal; sessions are gone.
    pub fn restart(&mut self) {
        self.restore_after_failure();
    }

    /// The id the next `connect` will use.
    pub fn peek_next_session(&self) -> u64 {
        self.next_session
    }

    pub fn connect(&mut self, name: &str) -> SessionId {
        let session = SessionId(self.next_session);
        self.next_session += 1;
        self.inbox.insert(session, Vec::new());
        self.input(Input::Connect { session, user: user(name) });
        session
    }

    pub fn disconnect(&mut self, session: SessionId) {
        self.inbox.remove(&session);
        self.input(Input::Disconnect { session });
    }

    pub fn recv(&mut self, session: SessionId, msg: ClientMsg) {
        self.input(Input::Receive { session, msg });
    }

    /// A sessionless request; returns its one reply.
    pub fn request(&mut self, name: &str, msg: ClientMsg) -> ServerMsg {
        let request = RequestId(self.next_request);
        self.next_request += 1;
        self.input(Input::Request { request, user: user(name), msg });
        self.replies.remove(&request).expect("every request gets a reply")
    }

    /// Moves virtual time forward, ticking at every deadline on the way.
    pub fn advance(&mut self, ms: u64) {
        let target = self.now.plus_millis(ms);
        while let Some(deadline) = self.chat.poll_timeout() {
            if deadline > target {
                break;
            }
            self.now = self.now.max(deadline);
            self.input(Input::Tick);
        }
        self.now = target;
        self.input(Input::Tick);
    }

    /// Takes everything a session received so far.
    pub fn take(&mut self, session: SessionId) -> Vec<ServerMsg> {
        self.inbox.get_mut(&session).map(std::mem::take).unwrap_or_default()
    }

    /// Takes the received frames of one kind, via a projection.
    pub fn take_where<T>(&mut self, session: SessionId, f: impl Fn(&ServerMsg) -> Option<T>) -> Vec<T> {
        self.take(session).iter().filter_map(f).collect()
    }
}

/// Alice and Bob, both connected and members of `group:lobby`, with their inboxes emptied.
pub fn two_in_lobby() -> (Sim, SessionId, SessionId) {
    let mut sim = Sim::new();
    let a = sim.connect("alice");
    let b = sim.connect("bob");
    sim.recv(a, join("group:lobby"));
    sim.recv(b, join("group:lobby"));
    sim.take(a);
    sim.take(b);
    (sim, a, b)
}

pub fn messages(frames: &[ServerMsg]) -> Vec<(String, u64, String)> {
    frames
        .iter()
        .filter_map(|f| match f {
            ServerMsg::Message(m) => Some((m.room.to_string(), m.seq, m.content.clone())),
            _ => None,
        })
        .collect()
}

pub fn errors(frames: &[ServerMsg]) -> Vec<chat_core::ErrorCode> {
    frames
        .iter()
        .filter_map(|f| match f {
            ServerMsg::Error { code, .. } => Some(*code),
            _ => None,
        })
        .collect()
}
