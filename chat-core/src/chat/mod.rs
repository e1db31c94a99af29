//! [`Chat`]: the state machine.

mod attachments;
mod directory;
mod history;
mod lifecycle;
mod messages;
mod presence;
mod recipients;
mod resolve;
mod rooms;
pub(crate) mod search;
mod summary;
mod typing;

pub(crate) use messages::refused_char;

use std::collections::VecDeque;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::driver::LoadError;
use crate::error::ErrorCode;
use crate::hash::FxHashMap;
use crate::journal::HistoryQuery;
use crate::log::{LogEntry, Message};
use crate::name::UserName;
use crate::protocol::{ClientMsg, ServerMsg};
use crate::room::RoomKey;
use crate::session::{Bucket, RateLimits, Rates, SessionId, Sessions};
use crate::snapshot::{RoomState, Snapshot, Unread};
use crate::time::Timestamp;
use crate::typing::Typing;

/// Limits and timings. `Config::default()` holds the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Config {
    /// Longest message, in characters (default 4,000).
    pub max_message_chars: usize,
    /// How long a typing indicator lasts without a refresh, ms (default 5,000).
    pub typing_ttl_ms: u64,
    /// Most messages per room that `resume` resends; a larger gap gets `resume_reset`
    /// (default 500).
    pub resume_limit: u64,
    /// Sustained `send_message` rate per user (all their sessions and requests), per second
    /// (default 10).
    pub send_rate_per_sec: u32,
    /// `send_message` burst per user (default 20).
    pub send_burst: u32,
    /// Sustained rate of other frames and requests per user, per second (default 50).
    pub op_rate_per_sec: u32,
    /// Burst of other frames and requests per user (default 100).
    pub op_burst: u32,
    /// Consecutive rate-limited frames after which the session is closed (default 200).
    pub max_strikes: u32,
    /// Most members of a group room (default 1,000).
    pub max_room_members: usize,
    /// Most entries in a `room_list` / `user_list` answer (default 1,000).
    pub max_list_len: usize,
    /// Most rooms one user may be a member of (default 1,000): join, create and accept beyond
    /// it answer `too_many_rooms`.
    pub max_rooms_per_user: usize,
    /// Most live sessions per user (default 20): the next `Connect` is closed with
    /// `too_many_sessions`.
    pub max_sessions_per_user: usize,
    /// Most pending invitations per user (default 100): further invites answer
    /// `too_many_invitations`.
    pub max_invitations_per_user: usize,
    /// How long after sending a message its sender may edit it, in ms; `None` (the default)
    /// for no limit. Later edits answer `edit_window_passed`.
    pub edit_window_ms: Option<u64>,
    /// Budget of one `history` page, in bytes of its worst-case encoding (default 128 KiB): a
    /// page is cut (with `more: true`) before it would exceed it, and always holds at least one
    /// message. Keeps every frame far under a transport's write buffer.
    pub max_page_bytes: usize,
    /// Most `search`es one user may have in flight (all their sessions and requests; default
    /// 4): more answer `too_many_searches`.
    pub max_searches_per_user: u32,
    /// Most attachments of one `send_message` (default 10): more answer `too_many_attachments`.
    pub max_attachments_per_message: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_message_chars: 4_000,
            typing_ttl_ms: 5_000,
            resume_limit: 500,
            send_rate_per_sec: 10,
            send_burst: 20,
            op_rate_per_sec: 50,
            op_burst: 100,
            max_strikes: 200,
            max_room_members: 1_000,
            max_list_len: 1_000,
            max_rooms_per_user: 1_000,
            max_sessions_per_user: 20,
            max_invitations_per_user: 100,
            max_page_bytes: 128 * 1024,
            edit_window_ms: None,
            max_searches_per_user: 4,
            max_attachments_per_message: 10,
        }
    }
}

/// A request from a caller without a session (a REST call), minted by the driver. It is answered
/// by exactly one [`Output::Reply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RequestId(pub u64);

/// A history read the core asked the driver for, answered with [`Input::Loaded`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LoadId(pub u64);

/// Why the core asks the driver to close a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum CloseReason {
    /// The session kept sending faster than its rate limit allows.
    Flooding,
    /// The user already has `Config::max_sessions_per_user` live sessions.
    TooManySessions,
}

/// Something that happened, for the core to handle.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Input {
    /// A session of an authenticated user connected. The user becomes known if they were not.
    Connect {
        /// New, unique among live sessions.
        session: SessionId,
        /// Who it belongs to (the driver authenticated them).
        user: UserName,
    },
    /// A session went away (closed, failed, or timed out).
    Disconnect {
        /// The session.
        session: SessionId,
    },
    /// A session sent a frame.
    Receive {
        /// The session.
        session: SessionId,
        /// The decoded frame.
        msg: ClientMsg,
    },
    /// A sessionless call on behalf of `user` (the REST API). Answered by one `Output::Reply`.
    Request {
        /// Minted by the driver.
        request: RequestId,
        /// The authenticated caller.
        user: UserName,
        /// What they ask for.
        msg: ClientMsg,
    },
    /// A sessionless call on behalf of a server administrator: the driver vouches that `user`
    /// is one. Answered by one `Output::Reply`, like [`Input::Request`]; the one difference is
    /// that `delete_message` may delete any message of any room (membership not needed).
    AdminRequest {
        /// Minted by the driver.
        request: RequestId,
        /// The administrator.
        user: UserName,
        /// What they ask for.
        msg: ClientMsg,
    },
    /// The answer to an [`Output::Load`].
    Loaded {
        /// The load it answers.
        load: LoadId,
        /// The page, ascending by `seq`, or why it could not be read.
        result: Result<Vec<Message>, LoadError>,
    },
    /// The answer to an [`Output::ResolveAttachments`]: the attachments in the order asked, or
    /// why not.
    AttachmentsResolved {
        /// The resolution it answers.
        load: LoadId,
        /// One attachment per id asked, in order; `NotFound` if any id is not the sender's.
        result: Result<Vec<crate::attachment::Attachment>, crate::attachment::ResolveError>,
    },
    /// The answer to an [`Output::Search`].
    Searched {
        /// The search it answers.
        load: LoadId,
        /// The hits (the core checks each against the caller's membership), or why none.
        result: Result<search::SearchResults, search::SearchFailure>,
    },
    /// Makes a user known (for example at registration) so others can DM or invite them.
    AddUser {
        /// The user.
        user: UserName,
    },
    /// Time passed (call at [`Chat::poll_timeout`]).
    Tick,
}

/// Something for the driver to do. Carry them out in order, under the durability rule.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Output {
    /// Send `msg` to every session in `sessions` (encode it once per codec).
    Deliver {
        /// Recipients, each at most once.
        sessions: Arc<[SessionId]>,
        /// The event.
        msg: Arc<ServerMsg>,
    },
    /// The answer to an [`Input::Request`].
    Reply {
        /// The request.
        request: RequestId,
        /// The answer (boxed: replies are rare, and a small `Output` is cheap to move).
        msg: Box<ServerMsg>,
    },
    /// Make this entry durable before carrying out any later output.
    Persist(LogEntry),
    /// Read this page and answer with [`Input::Loaded`] (after committing earlier `Persist`s).
    Load {
        /// Echo it back in `Input::Loaded`.
        load: LoadId,
        /// What to read; already authorised.
        query: HistoryQuery,
    },
    /// Resolve these attachment ids of a `send_message` by `user` and answer with
    /// [`Input::AttachmentsResolved`]: each id must be a file `user` uploaded (the driver's
    /// store decides; it must keep them from garbage collection until the message is
    /// committed). The core then checks the answer and persists the message with the metadata.
    ResolveAttachments {
        /// Echo it back in `Input::AttachmentsResolved`.
        load: LoadId,
        /// The sender.
        user: UserName,
        /// The ids, as sent (each at most once, at most `Config::max_attachments_per_message`).
        ids: Vec<crate::attachment::AttachmentId>,
    },
    /// Run this search off the driver's loop and answer with [`Input::Searched`] (after
    /// committing earlier `Persist`s). A driver without an index answers
    /// [`SearchFailure::Unavailable`](crate::SearchFailure::Unavailable).
    Search {
        /// Echo it back in `Input::Searched`.
        load: LoadId,
        /// Who searches.
        user: UserName,
        /// The rooms to search, already authorised: no hit may come from another room.
        rooms: Vec<RoomKey>,
        /// What to search for (boxed: searches are rare, and a small `Output` is cheap to move).
        query: Box<search::SearchRequest>,
    },
    /// Close this session.
    Close {
        /// The session.
        session: SessionId,
        /// Why.
        reason: CloseReason,
    },
}

/// Who is asking: a session, or a sessionless request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caller {
    Session(SessionId),
    Request(RequestId),
}

impl Caller {
    /// The calling session, which gets the direct answer and so is left out of the
    /// fan-out of the same change to the user's other sessions.
    pub(crate) fn session(self) -> Option<SessionId> {
        match self {
            Caller::Session(s) => Some(s),
            Caller::Request(_) => None,
        }
    }
}

/// A refusal: an error code and a message for people.
pub(crate) struct Refusal {
    code: ErrorCode,
    message: String,
    room: Option<String>,
    client_id: Option<String>,
}

impl Refusal {
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Refusal {
        Refusal { code, message: message.into(), room: None, client_id: None }
    }

    pub(crate) fn room(mut self, room: impl ToString) -> Refusal {
        self.room = Some(room.to_string());
        self
    }

    pub(crate) fn client_id(mut self, client_id: Option<String>) -> Refusal {
        self.client_id = client_id;
        self
    }

    fn into_msg(self) -> ServerMsg {
        ServerMsg::Error { code: self.code, message: self.message, room: self.room, client_id: self.client_id }
    }
}

/// What a handler answers its caller.
pub(crate) enum Answer {
    /// This message, to the caller only.
    Reply(ServerMsg),
    /// Nothing now (a session caller needs no answer).
    Nothing,
    /// Later, after a load.
    Pending,
}

type Handled = Result<Answer, Refusal>;

/// Which history read a load serves.
#[derive(Debug, Clone)]
pub(crate) struct PendingLoad {
    caller: Caller,
    user: UserName,
    room: RoomKey,
    page: history::Page,
}

/// The history reads the core asked the driver for and has not had answered yet. Load ids are
/// minted here, consecutively from 1, and never reused within one `Chat`; an answer to an
/// unknown id (a stale one, after a restore) finds nothing.
#[derive(Debug)]
pub(crate) struct Loads {
    pending: FxHashMap<LoadId, PendingLoad>,
    next: u64,
}

impl Default for Loads {
    fn default() -> Loads {
        Loads { pending: FxHashMap::default(), next: 1 }
    }
}

impl Loads {
    /// Records `pending` under a new load id.
    pub(crate) fn start(&mut self, pending: PendingLoad) -> LoadId {
        let id = self.mint();
        self.pending.insert(id, pending);
        id
    }

    /// A new load id, for another kind of driver read (a search).
    pub(crate) fn mint(&mut self) -> LoadId {
        let id = LoadId(self.next);
        self.next += 1;
        id
    }

    /// The read `load` served, if it is still pending (each answer is taken once).
    pub(crate) fn finish(&mut self, load: LoadId) -> Option<PendingLoad> {
        self.pending.remove(&load)
    }
}

/// The chat state machine. See the crate docs for the driver contract.
#[derive(Debug)]
pub struct Chat {
    config: Config,
    now: Timestamp,
    state: Snapshot,
    outputs: VecDeque<Output>,
    /// Live sessions, by id and by user (presence is "has a session").
    sessions: Sessions,
    /// Rate buckets per user, shared by their sessions and requests.
    limits: RateLimits,
    /// Member sessions per room, rebuilt lazily when membership or presence changes.
    recipients: recipients::Recipients,
    /// Public rooms and users, sorted as they are created (directory pages never sort).
    directory: directory::Directory,
    typing: Typing,
    /// Canonical room-key strings of existing rooms, so frames naming a room by key resolve
    /// without parsing.
    room_keys: FxHashMap<Box<str>, RoomKey>,
    /// History reads in flight.
    loads: Loads,
    /// Lifecycle operations waiting for their target message, one in flight per message.
    targets: lifecycle::Targets,
    /// Searches in flight.
    searches: search::Searches,
    /// `send_message`s waiting for their attachments.
    resolving: attachments::Resolving,
}

impl Chat {
    /// An empty chat.
    pub fn new(config: Config) -> Chat {
        Chat::restore(config, Snapshot::default())
    }

    /// A chat that continues from `snapshot` (the fold of a journal). No sessions are connected.
    pub fn restore(config: Config, snapshot: Snapshot) -> Chat {
        let now = snapshot.rooms.values().map(|r| r.last_timestamp).max().unwrap_or_default();
        let directory = directory::Directory::of(&snapshot);
        Chat {
            config,
            now,
            state: snapshot,
            outputs: VecDeque::new(),
            sessions: Sessions::default(),
            limits: RateLimits::default(),
            recipients: recipients::Recipients::default(),
            directory,
            typing: Typing::default(),
            room_keys: FxHashMap::default(),
            loads: Loads::default(),
            targets: lifecycle::Targets::default(),
            searches: search::Searches::default(),
            resolving: attachments::Resolving::default(),
        }
    }

    /// Handles one input at time `now` (clamped so it never goes backwards). Infallible: every
    /// mistake of a peer becomes an output.
    pub fn handle(&mut self, now: Timestamp, input: Input) {
        self.now = self.now.max(now);
        if !self.typing.is_empty() {
            self.expire_typing();
        }
        match input {
            Input::Connect { session, user } => self.connect(session, user),
            Input::Disconnect { session } => self.disconnect(session),
            Input::Receive { session, msg } => self.receive(session, msg),
            Input::Request { request, user, msg } => self.request(request, user, msg, false),
            Input::AdminRequest { request, user, msg } => self.request(request, user, msg, true),
            Input::Loaded { load, result } => self.loaded(load, result),
            Input::Searched { load, result } => self.searched(load, result),
            Input::AttachmentsResolved { load, result } => self.attachments_resolved(load, result),
            Input::AddUser { user } => self.ensure_user(&user),
            Input::Tick => {}
        }
    }

    /// The next output, if any. Drain until `None` after every `handle`.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When to call `handle(.., Input::Tick)` next, if ever.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.typing.next_deadline()
    }

    /// The persistent state (equal to the fold of every `Persist` emitted so far).
    pub fn snapshot(&self) -> &Snapshot {
        &self.state
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The current (clamped) time.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// A room's durable state.
    pub fn room(&self, room: &RoomKey) -> Option<&RoomState> {
        self.state.rooms.get(room)
    }

    /// Whether `user` is a member of `room`.
    pub fn is_member(&self, user: &UserName, room: &RoomKey) -> bool {
        self.state.is_member(user, room)
    }

    /// Unread counts of `user` in `room`, if a member.
    pub fn unread(&self, user: &UserName, room: &RoomKey) -> Option<Unread> {
        self.state.unread(user, room)
    }

    /// Whether `user` has at least one live session.
    pub fn is_online(&self, user: &UserName) -> bool {
        self.sessions.is_online(user)
    }

    /// Live sessions of `user`.
    pub fn sessions_of(&self, user: &UserName) -> &[SessionId] {
        self.sessions.of(user)
    }

    /// The user a live session belongs to.
    pub fn session_user(&self, session: SessionId) -> Option<&UserName> {
        self.sessions.get(&session).map(|s| &s.user)
    }

    /// Number of live sessions.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    // ---- dispatch -------------------------------------------------------------------------

    pub(crate) fn rates(&self) -> Rates {
        let c = &self.config;
        Rates {
            send_per_sec: c.send_rate_per_sec,
            send_burst: c.send_burst,
            op_per_sec: c.op_rate_per_sec,
            op_burst: c.op_burst,
        }
    }

    fn bucket(msg: &ClientMsg) -> Bucket {
        match msg {
            ClientMsg::SendMessage { .. } | ClientMsg::EditMessage { .. } => Bucket::Send,
            _ => Bucket::Op,
        }
    }

    fn receive(&mut self, session: SessionId, msg: ClientMsg) {
        let Some(s) = self.sessions.get_mut(&session) else { return };
        let allowed = self.limits.try_take(self.now, s.bucket, Chat::bucket(&msg));
        if !allowed {
            s.strikes += 1;
            if s.strikes >= self.config.max_strikes {
                self.outputs.push_back(Output::Close { session, reason: CloseReason::Flooding });
                return;
            }
            let client_id = match msg {
                ClientMsg::SendMessage { client_id, .. } | ClientMsg::EditMessage { client_id, .. } => client_id,
                _ => None,
            };
            let refusal = Refusal::new(ErrorCode::RateLimited, "too many requests; slow down").client_id(client_id);
            self.send_to_session(session, refusal.into_msg());
            return;
        }
        s.strikes = 0;
        let user = s.user.clone();
        let answer = self.dispatch(Caller::Session(session), &user, msg);
        self.answer(Caller::Session(session), answer);
    }

    fn request(&mut self, request: RequestId, user: UserName, msg: ClientMsg, admin: bool) {
        self.ensure_user(&user);
        let rates = self.rates();
        let slot = self.limits.slot(self.now, &user, rates);
        if !self.limits.try_take(self.now, slot, Chat::bucket(&msg)) {
            let msg = Refusal::new(ErrorCode::RateLimited, "too many requests; slow down").into_msg();
            self.outputs.push_back(Output::Reply { request, msg: Box::new(msg) });
            return;
        }
        let answer = match msg {
            ClientMsg::Typing { .. } | ClientMsg::Resume { .. } => {
                Err(Refusal::new(ErrorCode::Unsupported, "not available without a live session"))
            }
            ClientMsg::DeleteMessage { room, seq } if admin => {
                self.delete(Caller::Request(request), &user, &room, seq, true)
            }
            msg => self.dispatch(Caller::Request(request), &user, msg),
        };
        match answer {
            Ok(Answer::Nothing) => {
                let msg = ServerMsg::error(ErrorCode::Internal, "no answer");
                self.outputs.push_back(Output::Reply { request, msg: Box::new(msg) });
            }
            other => self.answer(Caller::Request(request), other),
        }
    }

    fn dispatch(&mut self, caller: Caller, user: &UserName, msg: ClientMsg) -> Handled {
        match msg {
            ClientMsg::JoinRoom { room } => self.join(caller, user, &room),
            ClientMsg::LeaveRoom { room } => self.leave(caller, user, &room),
            ClientMsg::CreateRoom { room_name, private } => self.create_room(caller, user, &room_name, private),
            ClientMsg::Invite { room, username } => self.invite(caller, user, &room, &username),
            ClientMsg::Remove { room, username } => self.remove(caller, user, &room, &username),
            ClientMsg::SendMessage { room, content, client_id, reply_to, attachments } => {
                let quote = reply_to.map(messages::Quote::Seq);
                self.send(caller, user, &room, content, client_id, quote, attachments::Attach::Ids(attachments))
            }
            ClientMsg::EditMessage { room, seq, content, client_id } => {
                self.edit(caller, user, &room, seq, content, client_id)
            }
            ClientMsg::DeleteMessage { room, seq } => self.delete(caller, user, &room, seq, false),
            ClientMsg::React { room, seq, emoji, add } => self.react(caller, user, &room, seq, emoji, add),
            ClientMsg::MarkRead { room, seq } => self.mark_read(caller, user, &room, seq),
            ClientMsg::Typing { room, active } => self.typing(caller, user, &room, active),
            ClientMsg::History { room, before, after, limit, around } => {
                self.history(caller, user, &room, (before, after, around), limit)
            }
            ClientMsg::Search(frame) => self.search(caller, user, frame),
            ClientMsg::Resume { rooms } => self.resume(caller, user, &rooms),
            ClientMsg::Notifications { limit } => self.list_notifications(user, limit),
            ClientMsg::MarkNotificationsRead { ids } => self.mark_notifications_read(caller, user, ids),
            ClientMsg::ListRooms(query) => self.room_list(&query),
            ClientMsg::ListUsers(query) => self.user_list(&query),
            ClientMsg::RoomUsers { room } => self.room_users(user, &room),
            ClientMsg::MyRooms { after, limit } => self.my_rooms(user, after.as_deref(), limit),
            ClientMsg::AcceptInvite { room } => self.accept_invite(caller, user, &room),
            ClientMsg::DeclineInvite { room } => self.decline_invite(caller, user, &room),
        }
    }

    fn answer(&mut self, caller: Caller, answer: Handled) {
        let msg = match answer {
            Ok(Answer::Reply(msg)) => msg,
            Ok(Answer::Nothing | Answer::Pending) => return,
            Err(refusal) => refusal.into_msg(),
        };
        self.reply(caller, msg);
    }

    // ---- output helpers -------------------------------------------------------------------

    /// Sends a direct answer to the caller.
    pub(crate) fn reply(&mut self, caller: Caller, msg: ServerMsg) {
        match caller {
            Caller::Session(session) => self.send_to_session(session, msg),
            Caller::Request(request) => self.outputs.push_back(Output::Reply { request, msg: Box::new(msg) }),
        }
    }

    pub(crate) fn send_to_session(&mut self, session: SessionId, msg: ServerMsg) {
        let sessions = self.only(session);
        self.outputs.push_back(Output::Deliver { sessions, msg: Arc::new(msg) });
    }

    /// `session` alone as a recipient list: the live session's shared one (no allocation).
    fn only(&self, session: SessionId) -> Arc<[SessionId]> {
        self.sessions.get(&session).map_or_else(|| Arc::from([session]), |s| s.only.clone())
    }

    /// Delivers to `sessions` unless empty.
    pub(crate) fn deliver(&mut self, sessions: Arc<[SessionId]>, msg: Arc<ServerMsg>) {
        if !sessions.is_empty() {
            self.outputs.push_back(Output::Deliver { sessions, msg });
        }
    }

    /// Delivers to every session of `user` except `except`.
    pub(crate) fn deliver_to_user(&mut self, user: &UserName, except: Option<SessionId>, msg: ServerMsg) {
        let sessions: Arc<[SessionId]> = match self.sessions.of(user) {
            [] => return,
            // The common case, one device: its own recipient list, no allocation.
            [only] if Some(*only) != except => self.only(*only),
            sessions => sessions.iter().copied().filter(|s| Some(*s) != except).collect(),
        };
        self.deliver(sessions, Arc::new(msg));
    }

    /// Delivers to every member session of `room`, except sessions of `except_user` and the
    /// session `except_session`.
    pub(crate) fn deliver_to_room(
        &mut self,
        room: &RoomKey,
        except_user: Option<&UserName>,
        except_session: Option<SessionId>,
        msg: ServerMsg,
    ) {
        let all = self.room_sessions(room);
        let sessions: Arc<[SessionId]> = if except_user.is_none() && except_session.is_none() {
            all
        } else {
            let skip: &[SessionId] = except_user.map_or(&[], |u| self.sessions.of(u));
            all.iter().copied().filter(|s| Some(*s) != except_session && !skip.contains(s)).collect()
        };
        self.deliver(sessions, Arc::new(msg));
    }

    /// Appends an entry to the log: applies it to the live state and asks the driver to persist
    /// it. The only way the core changes durable state.
    pub(crate) fn persist(&mut self, entry: LogEntry) {
        self.state.apply(&entry);
        self.directory.note(&entry, &self.state);
        self.outputs.push_back(Output::Persist(entry));
    }

    pub(crate) fn ensure_user(&mut self, user: &UserName) {
        if !self.state.users.contains_key(user) {
            self.persist(LogEntry::UserAdded { user: user.clone() });
        }
    }

    /// The calling session if it belongs to `user` (it gets the direct answer, so a change
    /// that concerns `user` skips it in the fan-out to their sessions).
    pub(crate) fn own_session(&self, caller: Caller, user: &UserName) -> Option<SessionId> {
        caller.session().filter(|s| self.session_user(*s) == Some(user))
    }

    /// The unread-notification count of `user`.
    pub(crate) fn unread_notifications(&self, user: &UserName) -> u32 {
        self.state.users.get(user).map_or(0, |u| u.unread_notifications)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Outputs are moved into the queue and out of `poll_output` for every message; at 128 bytes
    /// or less those moves are inlined instead of `memcpy` calls (BENCHMARKS.md). A variant that
    /// grows `Output` past that belongs in a `Box`, as `Reply`'s answer is.
    #[test]
    fn output_stays_small_enough_to_move_inline() {
        assert!(std::mem::size_of::<Output>() <= 128, "Output is {} bytes", std::mem::size_of::<Output>());
    }
}
