//! A deterministic, virtual-time simulator: many sessions, one clock, a journal, and a driver
//! that follows the contract in the crate docs through the real driver step: [`Chat::drain`],
//! [`Drain::commit`](crate::Drain::commit) (group commit before delivery), loads answered after
//! the commit, ticks at [`Chat::poll_timeout`], restore from the journal's snapshot and every
//! session closed when a commit fails.
//!
//! ```
//! use chat_core::testing::sim::{Sim, join, messages, send};
//!
//! let mut sim = Sim::new();
//! let a = sim.connect("alice");
//! let b = sim.connect("bob");
//! sim.recv(a, join("group:lobby"));
//! sim.recv(b, join("group:lobby"));
//! sim.recv(a, send("group:lobby", "hi @bob"));
//! assert_eq!(messages(&sim.take(b)), [("group:lobby".to_owned(), 1, "hi @bob".to_owned())]);
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::{
    Chat, ClientMsg, Config, ErrorCode, HistoryQuery, HistoryRange, Input, Journal, LoadError, LoadId, LogEntry,
    MemoryJournal, Output, RequestId, RoomKey, RoomRef, SearchFailure, SearchItem, SearchRequest, SearchResults,
    ServerMsg, SessionId, Timestamp, UserName,
};

/// What the simulated driver carried out, in order (for determinism checks and models).
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// An event delivered to these sessions.
    Deliver(Vec<SessionId>, Arc<ServerMsg>),
    /// The answer to a sessionless request.
    Reply(RequestId, ServerMsg),
    /// An entry the journal committed (in commit order, before what the commit released).
    Persist(LogEntry),
    /// A session the core closed.
    Close(SessionId),
}

/// The simulator: a [`Chat`], a journal (a [`MemoryJournal`] unless given one), a virtual clock,
/// and what each session received.
///
/// Every input runs the driver until the core is quiescent. The driver panics when the core
/// breaks the contract in a way only a driver sees (a delivery to a session that is not live,
/// two replies to one request, a `Persist` handed out after the commit).
#[derive(Debug)]
pub struct Sim<J: Journal = MemoryJournal> {
    chat: Chat,
    journal: J,
    config: Config,
    now: Timestamp,
    next_session: u64,
    next_request: u64,
    /// Frames each live session received, not yet taken.
    inbox: BTreeMap<SessionId, Vec<ServerMsg>>,
    replies: BTreeMap<RequestId, ServerMsg>,
    closed: Vec<SessionId>,
    trace: Vec<Event>,
    failed_commits: Vec<Vec<LogEntry>>,
    /// Searches not answered yet, when [`Sim::hold_searches`] asked for it.
    held: Option<Vec<HeldSearch>>,
    /// Files uploaded, by whom ([`Sim::upload`]): what `ResolveAttachments` is answered from.
    uploads: Vec<(UserName, crate::attachment::Attachment)>,
}

/// An [`Output::Search`] the simulator holds (see [`Sim::hold_searches`]).
#[derive(Debug, Clone, PartialEq)]
pub struct HeldSearch {
    /// Answer with this in [`Input::Searched`].
    pub load: LoadId,
    /// Who searches.
    pub user: UserName,
    /// The rooms the core authorised.
    pub rooms: Vec<RoomKey>,
    /// The search.
    pub query: SearchRequest,
}

/// The start of virtual time (a fixed wall-clock time in ms).
pub const START: Timestamp = Timestamp(1_700_000_000_000);

/// A user name; panics when `name` is not a valid one (test fixtures only).
pub fn user(name: &str) -> UserName {
    name.parse().unwrap_or_else(|e| panic!("{name:?} is not a user name: {e}"))
}

/// A reference to a room by its key (`group:lobby`, `dm:alice:bob`).
pub fn room(key: &str) -> RoomRef {
    RoomRef { room: Some(key.into()), ..RoomRef::default() }
}

/// A `send_message` frame without a client id.
pub fn send(key: &str, content: &str) -> ClientMsg {
    ClientMsg::SendMessage {
        attachments: Vec::new(),
        room: room(key),
        content: content.into(),
        client_id: None,
        reply_to: None,
    }
}

/// A `join_room` frame.
pub fn join(key: &str) -> ClientMsg {
    ClientMsg::JoinRoom { room: room(key) }
}

impl Sim<MemoryJournal> {
    /// A simulator with the default config and an empty [`MemoryJournal`].
    pub fn new() -> Sim {
        Sim::with_config(Config::default())
    }

    /// A simulator with `config` and an empty [`MemoryJournal`].
    pub fn with_config(config: Config) -> Sim {
        Sim::with_journal(config, MemoryJournal::new())
    }
}

impl Default for Sim<MemoryJournal> {
    fn default() -> Sim {
        Sim::new()
    }
}

impl<J: Journal> Sim<J> {
    /// A simulator on `journal`; the chat starts from the journal's snapshot (so a journal that
    /// already holds a log is a restart). Panics when the snapshot cannot be read.
    pub fn with_journal(config: Config, journal: J) -> Sim<J> {
        let snapshot = journal.snapshot().unwrap_or_else(|e| panic!("the journal's snapshot: {e}"));
        Sim {
            chat: Chat::restore(config.clone(), snapshot),
            journal,
            config,
            now: START,
            next_session: 1,
            next_request: 1,
            inbox: BTreeMap::new(),
            replies: BTreeMap::new(),
            closed: Vec::new(),
            trace: Vec::new(),
            failed_commits: Vec::new(),
            held: None,
            uploads: Vec::new(),
        }
    }

    /// Records that `user` uploaded `attachment`: a `send_message` of theirs naming its id
    /// resolves to it (a driver's attachment store, in memory).
    pub fn upload(&mut self, user: &UserName, attachment: crate::attachment::Attachment) {
        self.uploads.push((user.clone(), attachment));
    }

    /// The attachments `user` uploaded with these ids, in order, or `NotFound`.
    fn resolve(
        &self,
        user: &UserName,
        ids: &[crate::attachment::AttachmentId],
    ) -> Result<Vec<crate::attachment::Attachment>, crate::attachment::ResolveError> {
        ids.iter()
            .map(|id| {
                let own = self.uploads.iter().find(|(u, a)| u == user && a.id == *id);
                own.map(|(_, a)| a.clone()).ok_or(crate::attachment::ResolveError::NotFound)
            })
            .collect()
    }

    /// The chat under test.
    pub fn chat(&self) -> &Chat {
        &self.chat
    }

    /// The chat under test, to feed it inputs the simulator does not drain (call
    /// [`Sim::drain`] after).
    pub fn chat_mut(&mut self) -> &mut Chat {
        &mut self.chat
    }

    /// The journal.
    pub fn journal(&self) -> &J {
        &self.journal
    }

    /// The journal, e.g. to inject failures.
    pub fn journal_mut(&mut self) -> &mut J {
        &mut self.journal
    }

    /// The config the chat runs (and restores) with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The driver's clock.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Sets the driver's clock, also backwards (the core must clamp it, driver rule 5).
    pub fn set_now(&mut self, now: Timestamp) {
        self.now = now;
    }

    /// Everything carried out so far, in order.
    pub fn trace(&self) -> &[Event] {
        &self.trace
    }

    /// Sessions closed so far (by the core, or by a restore), in order.
    pub fn closed(&self) -> &[SessionId] {
        &self.closed
    }

    /// The batches of the commits that failed so far, in order. The journal may or may not
    /// hold each (an ambiguous failure); nothing of its drain was carried out, and the chat was
    /// restored from the journal's snapshot with every session closed.
    pub fn failed_commits(&self) -> &[Vec<LogEntry>] {
        &self.failed_commits
    }

    /// What a live session received and nobody took yet; `None` once it is gone.
    pub fn received(&self, session: SessionId) -> Option<&[ServerMsg]> {
        self.inbox.get(&session).map(Vec::as_slice)
    }

    /// Feeds one input without running the driver, to batch inputs as a driver does (call
    /// [`Sim::drain`] after).
    pub fn queue(&mut self, input: Input) {
        self.track(&input);
        self.chat.handle(self.now, input);
    }

    /// Feeds one input and runs the driver until quiescent. A `Connect` opens the session's
    /// inbox (so any input sequence, e.g. a fuzzed one, can be fed as is), a `Disconnect` closes
    /// it, a `Request` (or `AdminRequest`) forgets an earlier reply with the same id.
    pub fn input(&mut self, input: Input) {
        self.queue(input);
        self.drain();
    }

    fn track(&mut self, input: &Input) {
        match input {
            Input::Connect { session, .. } => {
                self.inbox.entry(*session).or_default();
                self.next_session = self.next_session.max(session.0.saturating_add(1));
            }
            Input::Disconnect { session } => {
                self.inbox.remove(session);
            }
            Input::Request { request, .. } | Input::AdminRequest { request, .. } => {
                self.replies.remove(request);
                self.next_request = self.next_request.max(request.0.saturating_add(1));
            }
            _ => {}
        }
    }

    /// Runs the driver until quiescent: one [`Chat::drain`] at a time, committed with
    /// [`Drain::commit`](crate::Drain::commit), then the rest carried out in order; loads are
    /// answered after the commit (and their answers drained in turn). A failed commit carries
    /// out nothing and restores (driver rule 3).
    pub fn drain(&mut self) {
        loop {
            let drain = self.chat.drain();
            if drain.is_empty() {
                return;
            }
            let persisted = drain.persist().to_vec();
            let Ok(rest) = drain.commit(&mut self.journal) else {
                self.failed_commits.push(persisted);
                self.restore_after_failure();
                return;
            };
            self.trace.extend(persisted.into_iter().map(Event::Persist));
            let mut loads = Vec::new();
            let mut searches = Vec::new();
            let mut resolutions = Vec::new();
            for output in rest {
                match output {
                    Output::Deliver { sessions, msg } => {
                        for s in sessions.iter() {
                            match self.inbox.get_mut(s) {
                                Some(inbox) => inbox.push((*msg).clone()),
                                None => panic!("delivery to a session that is not live: {s:?} {msg:?}"),
                            }
                        }
                        self.trace.push(Event::Deliver(sessions.to_vec(), msg));
                    }
                    Output::Reply { request, msg } => {
                        assert!(self.replies.insert(request, (*msg).clone()).is_none(), "two replies to {request:?}");
                        self.trace.push(Event::Reply(request, *msg));
                    }
                    Output::Load { load, query } => loads.push((load, query)),
                    Output::Search { load, user, rooms, query } => {
                        searches.push(HeldSearch { load, user, rooms, query: *query });
                    }
                    Output::ResolveAttachments { load, user, ids } => resolutions.push((load, user, ids)),
                    Output::Close { session, .. } => {
                        self.trace.push(Event::Close(session));
                        self.closed.push(session);
                        self.inbox.remove(&session);
                        self.chat.handle(self.now, Input::Disconnect { session });
                    }
                    other => panic!("unexpected output after the commit: {other:?}"),
                }
            }
            for (load, query) in loads {
                let result = self.journal.history(&query).map_err(LoadError::journal);
                self.chat.handle(self.now, Input::Loaded { load, result });
            }
            for (load, user, ids) in resolutions {
                let result = self.resolve(&user, &ids);
                self.chat.handle(self.now, Input::AttachmentsResolved { load, result });
            }
            for search in searches {
                match &mut self.held {
                    Some(held) => held.push(search),
                    None => {
                        let result = naive_search(&self.journal, &search.rooms, &search.query);
                        self.chat.handle(self.now, Input::Searched { load: search.load, result });
                    }
                }
            }
        }
    }

    /// From now on, [`Output::Search`]es are held instead of answered by [`naive_search`]:
    /// take them with [`Sim::take_searches`] and answer them (any way you like, e.g. with hits
    /// from rooms the caller cannot read) with [`Input::Searched`].
    pub fn hold_searches(&mut self) {
        self.held.get_or_insert_with(Vec::new);
    }

    /// The searches held so far (see [`Sim::hold_searches`]).
    pub fn take_searches(&mut self) -> Vec<HeldSearch> {
        self.held.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Driver rule 3: replace the chat with the journal's fold and close every session.
    pub fn restore_after_failure(&mut self) {
        let snapshot = self.journal.snapshot().unwrap_or_else(|e| panic!("the journal's snapshot: {e}"));
        self.chat = Chat::restore(self.config.clone(), snapshot);
        self.closed.extend(self.inbox.keys().copied());
        self.inbox.clear();
    }

    /// A restart: the chat is rebuilt from the journal; sessions are gone.
    pub fn restart(&mut self) {
        self.restore_after_failure();
    }

    /// The id the next [`Sim::connect`] will use.
    pub fn peek_next_session(&self) -> u64 {
        self.next_session
    }

    /// Connects a new session of `name` (see [`user`]).
    pub fn connect(&mut self, name: &str) -> SessionId {
        let session = SessionId(self.next_session);
        self.input(Input::Connect { session, user: user(name) });
        session
    }

    /// The session goes away.
    pub fn disconnect(&mut self, session: SessionId) {
        self.input(Input::Disconnect { session });
    }

    /// The session sends a frame.
    pub fn recv(&mut self, session: SessionId, msg: ClientMsg) {
        self.input(Input::Receive { session, msg });
    }

    /// A sessionless request of `name`; returns its one reply (panics without one).
    pub fn request(&mut self, name: &str, msg: ClientMsg) -> ServerMsg {
        let request = RequestId(self.next_request);
        self.input(Input::Request { request, user: user(name), msg });
        self.replies.remove(&request).expect("every request gets a reply")
    }

    /// A sessionless request of `name` as a server administrator
    /// ([`Input::AdminRequest`]); returns its one reply.
    pub fn admin_request(&mut self, name: &str, msg: ClientMsg) -> ServerMsg {
        let request = RequestId(self.next_request);
        self.next_request += 1;
        self.input(Input::AdminRequest { request, user: user(name), msg });
        self.replies.remove(&request).expect("every request gets a reply")
    }

    /// Moves virtual time forward, ticking at every deadline on the way (driver rule 4).
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

/// A naive search for tests: the messages of `rooms` (read from `journal`, not deleted) whose
/// text contains every word of the query (case-insensitive substrings; `from`, `before` and
/// `after` applied), newest first; the snippet is the whole text with the first occurrence of
/// each word highlighted; the cursor is an offset. What the simulator's driver answers an
/// [`Output::Search`] with.
pub fn naive_search<J: Journal>(
    journal: &J,
    rooms: &[RoomKey],
    query: &SearchRequest,
) -> Result<SearchResults, SearchFailure> {
    let words: Vec<String> = query.text.split_whitespace().map(str::to_lowercase).collect();
    let offset: usize = match &query.cursor {
        Some(c) => c.parse().map_err(|_| SearchFailure::Query("invalid cursor".into()))?,
        None => 0,
    };
    let mut hits = Vec::new();
    for room in rooms {
        let all = HistoryQuery { room: room.clone(), range: HistoryRange::After(0), limit: u32::MAX };
        for m in journal.history(&all).map_err(SearchFailure::index)? {
            let text = m.content.to_lowercase();
            let ok = !m.deleted
                && words.iter().all(|w| text.contains(w.as_str()))
                && query.from.as_ref().is_none_or(|f| *f == m.sender)
                && query.before.is_none_or(|t| m.timestamp < t)
                && query.after.is_none_or(|t| m.timestamp > t);
            if ok {
                hits.push(m);
            }
        }
    }
    hits.sort_by(|a, b| (b.timestamp, &b.room, b.seq).cmp(&(a.timestamp, &a.room, a.seq)));
    let more = hits.len() > offset + query.limit as usize;
    let items = hits
        .into_iter()
        .skip(offset)
        .take(query.limit as usize)
        .map(|m| {
            let lower = m.content.to_lowercase();
            // Highlights only when lower-casing kept the byte offsets (ASCII-like text).
            let mut highlights: Vec<[u32; 2]> = if lower.len() == m.content.len() {
                words
                    .iter()
                    .filter_map(|w| lower.find(w.as_str()).map(|at| (at, at + w.len())))
                    .map(|(a, b)| [utf16(&m.content[..a]), utf16(&m.content[..b])])
                    .collect()
            } else {
                Vec::new()
            };
            highlights.sort_unstable();
            highlights.dedup_by(|next, prev| next[0] < prev[1]);
            SearchItem {
                room: m.room,
                seq: m.seq,
                sender: m.sender,
                timestamp: m.timestamp,
                snippet: m.content,
                highlights,
                cut_before: false,
                cut_after: false,
            }
        })
        .collect();
    Ok(SearchResults { items, next: more.then(|| (offset + query.limit as usize).to_string()), stale: false })
}

fn utf16(s: &str) -> u32 {
    s.encode_utf16().count() as u32
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

/// The `message` events among `frames`, as (room, seq, content).
pub fn messages(frames: &[ServerMsg]) -> Vec<(String, u64, String)> {
    frames
        .iter()
        .filter_map(|f| match f {
            ServerMsg::Message(m) => Some((m.room.to_string(), m.seq, m.content.clone())),
            _ => None,
        })
        .collect()
}

/// The error codes among `frames`.
pub fn errors(frames: &[ServerMsg]) -> Vec<ErrorCode> {
    frames
        .iter()
        .filter_map(|f| match f {
            ServerMsg::Error { code, .. } => Some(*code),
            _ => None,
        })
        .collect()
}
