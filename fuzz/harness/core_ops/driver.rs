//! The driver: runs [`Op`]s against a [`Chat`] and a [`MemoryJournal`] under the contract in
//! `chat-core/src/lib.rs`, answering loads, attachment resolutions and searches when the
//! scenario says so. The checks live in `model.rs`.

use std::collections::BTreeMap;

use chat_core::attachment::AttachmentId;
use chat_core::protocol::ResumePoint;
use chat_core::{
    Chat, ClientMsg, Config, HistoryQuery, Input, Journal, LoadError, LoadId, MemoryJournal, Output, RequestId,
    RoomKey, RoomRef, RoomType, SearchFrame, SearchRequest, SearchResults, SessionId, Timestamp, UserName,
};

use super::model::Model;
use super::{
    EMOJI, Frag, MAX_ATTACHMENTS, MAX_FRAGS, MAX_SEARCH_WORDS, Msg, Op, PUNCT, RoomSel, SLOTS, START, Stats, Tweaks,
    WORDS, fakes, group, user, user_str,
};

/// Who is waiting for an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CallerRef {
    Session(SessionId),
    Request(RequestId),
}

/// A search the core asked the fake index for.
#[derive(Debug, Clone)]
pub(super) struct PendingSearch {
    pub(super) load: LoadId,
    pub(super) user: UserName,
    pub(super) caller: CallerRef,
    pub(super) rooms: Vec<RoomKey>,
    pub(super) query: SearchRequest,
    /// The frame's `room` filter.
    pub(super) filter: Option<RoomKey>,
    /// What an honest index held when the search was asked.
    pub(super) then: Vec<chat_core::SearchItem>,
}

/// The search being answered (while its answer is drained and checked).
#[derive(Debug, Clone)]
pub(super) struct Answering {
    pub(super) search: PendingSearch,
    /// Hits the fake index gave.
    pub(super) given: usize,
    /// Answers the caller got (`search_results` or an error).
    pub(super) answers: usize,
}

/// The driver, the system under test and the naive model the checks compare against.
pub(super) struct Driver {
    pub(super) config: Config,
    pub(super) chat: Chat,
    pub(super) journal: MemoryJournal,
    pub(super) now: u64,
    /// The core's clock after the last step (must never go back).
    pub(super) seen_now: Timestamp,
    next_session: u64,
    next_request: u64,
    slots: [Option<SessionId>; SLOTS],
    /// Sessions the driver considers open, and whose they are.
    pub(super) live: BTreeMap<SessionId, UserName>,
    /// REST requests not answered yet: who asked, and whether as an administrator.
    pub(super) requests: BTreeMap<RequestId, (UserName, bool)>,
    pub(super) loads: Vec<(LoadId, HistoryQuery)>,
    /// Attachment resolutions not answered yet.
    pub(super) resolves: Vec<(LoadId, UserName, Vec<AttachmentId>)>,
    /// Searches not answered yet.
    pub(super) searches: Vec<PendingSearch>,
    /// Who sent the input being handled, and the `room` filter of a search frame.
    asking: Option<(CallerRef, UserName, Option<RoomKey>)>,
    pub(super) answering: Option<Answering>,
    /// The model, from committed entries only.
    pub(super) model: Model,
    /// Last `seq` delivered live to a session in a room.
    pub(super) delivered: BTreeMap<(SessionId, RoomKey), u64>,
    /// Last `rev` (message, edit, deletion, reaction) delivered live to a session in a room.
    pub(super) delivered_rev: BTreeMap<(SessionId, RoomKey), u64>,
    pub(super) stats: Stats,
}

impl Driver {
    pub(super) fn new(tweaks: Tweaks) -> Driver {
        let mut config = Config::default();
        if tweaks.small_rooms {
            config.max_room_members = 3;
            config.max_list_len = 2;
            config.max_attachments_per_message = 2;
        }
        if tweaks.short_resume {
            config.resume_limit = 2;
        }
        if tweaks.short_messages {
            config.max_message_chars = 12;
        }
        if tweaks.strict_rate {
            config.send_burst = 3;
            config.op_burst = 3;
            config.max_strikes = 4;
            config.max_searches_per_user = 2;
        }
        if tweaks.edit_window {
            config.edit_window_ms = Some(10_000);
        }
        Driver {
            chat: Chat::new(config.clone()),
            config,
            journal: MemoryJournal::new(),
            now: START,
            seen_now: Timestamp(0),
            next_session: 1,
            next_request: 1,
            slots: [None; SLOTS],
            live: BTreeMap::new(),
            requests: BTreeMap::new(),
            loads: Vec::new(),
            resolves: Vec::new(),
            searches: Vec::new(),
            asking: None,
            answering: None,
            model: Model::default(),
            delivered: BTreeMap::new(),
            delivered_rev: BTreeMap::new(),
            stats: Stats::default(),
        }
    }

    pub(super) fn step(&mut self, op: &Op) {
        match op {
            Op::Connect { slot, user: u } => {
                let slot = usize::from(*slot) % SLOTS;
                match self.slots[slot] {
                    // A reused live id: the core must ignore it (and keep the original user).
                    Some(id) => self.input(Input::Connect { session: id, user: user(u.wrapping_add(1)) }),
                    None => {
                        let id = SessionId(self.next_session);
                        self.next_session += 1;
                        self.slots[slot] = Some(id);
                        self.live.insert(id, user(*u));
                        self.input(Input::Connect { session: id, user: user(*u) });
                    }
                }
            }
            Op::Disconnect { slot } => {
                if let Some(id) = self.slots[usize::from(*slot) % SLOTS].take() {
                    self.live.remove(&id);
                    self.input(Input::Disconnect { session: id });
                }
            }
            Op::Frame { slot, msg } => {
                if let Some(id) = self.slots[usize::from(*slot) % SLOTS] {
                    let caller = self.live[&id].clone();
                    let msg = self.to_client(msg, &caller);
                    self.ask(CallerRef::Session(id), &caller, &msg, false);
                    self.input(Input::Receive { session: id, msg });
                }
            }
            Op::Request { user: u, msg } | Op::AdminRequest { user: u, msg } => {
                let admin = matches!(op, Op::AdminRequest { .. });
                let request = RequestId(self.next_request);
                self.next_request += 1;
                self.requests.insert(request, (user(*u), admin));
                let msg = self.to_client(msg, &user(*u));
                self.ask(CallerRef::Request(request), &user(*u), &msg, admin);
                let input = match admin {
                    true => Input::AdminRequest { request, user: user(*u), msg },
                    false => Input::Request { request, user: user(*u), msg },
                };
                self.input(input);
            }
            Op::AddUser { user: u } => self.input(Input::AddUser { user: user(*u) }),
            Op::AnswerLoads { fail } => self.answer_loads(*fail),
            Op::AnswerResolves { mode } => self.answer_resolves(*mode),
            Op::AnswerSearches { mode } => self.answer_searches(*mode),
            Op::Advance { ms } => {
                self.now += u64::from(*ms);
                if self.chat.poll_timeout().is_some_and(|t| t.0 <= self.now) {
                    self.input(Input::Tick);
                }
            }
            Op::Rewind { ms } => {
                let earlier = Timestamp(self.now.saturating_sub(u64::from(*ms)));
                self.chat.handle(earlier, Input::Tick);
                self.drain();
            }
            Op::FailNextCommit => self.journal.fail_next_appends(1),
            Op::Restore => self.restart(),
        }
        self.asking = None;
    }

    /// Notes who asks (for the searches this input starts) and what lifecycle change they ask
    /// for (a committed change must have been asked for by someone allowed to).
    fn ask(&mut self, caller: CallerRef, user: &UserName, msg: &ClientMsg, admin: bool) {
        let key = |room: &RoomRef| room.resolve(user).ok();
        let filter = match msg {
            ClientMsg::Search(frame) => frame.room.as_ref().and_then(|r| r.parse().ok()),
            _ => None,
        };
        self.asking = Some((caller, user.clone(), filter));
        match msg {
            ClientMsg::EditMessage { room, seq, content, .. } => {
                if let Some(k) = key(room) {
                    self.model.asked_edits.insert((k, *seq, user.clone(), content.clone()));
                }
            }
            ClientMsg::DeleteMessage { room, seq } => {
                if let Some(k) = key(room) {
                    self.model.asked_deletes.insert((k, *seq, user.clone(), admin));
                }
            }
            ClientMsg::React { room, seq, emoji, add } => {
                if let Some(k) = key(room) {
                    self.model.asked_reacts.insert((k, *seq, user.clone(), emoji.clone(), *add));
                }
            }
            _ => {}
        }
    }

    pub(super) fn input(&mut self, input: Input) {
        self.chat.handle(Timestamp(self.now), input);
        self.drain();
    }

    pub(super) fn answer_loads(&mut self, fail: bool) {
        for (load, query) in std::mem::take(&mut self.loads) {
            let result = match fail {
                true => Err(LoadError::journal(chat_core::journal::MemoryJournalError::Injected)),
                false => Ok(self.journal.history(&query).expect("memory journal reads")),
            };
            self.input(Input::Loaded { load, result });
        }
    }

    pub(super) fn answer_resolves(&mut self, mode: u8) {
        for (load, user, ids) in std::mem::take(&mut self.resolves) {
            let (result, honest) = fakes::resolve(&user, &ids, mode);
            if honest && result.is_ok() {
                self.model.resolved.push((user, ids));
            }
            self.input(Input::AttachmentsResolved { load, result });
        }
    }

    /// The fake index answers every pending search (`mode % 4`: 0 honest, 1 late, 2 hostile,
    /// 3 failing); each caller that is still there must get exactly one answer.
    pub(super) fn answer_searches(&mut self, mode: u8) {
        for search in std::mem::take(&mut self.searches) {
            let result = match mode % 4 {
                0 => Ok(fakes::page(fakes::honest(self.model.log.iter(), &search.rooms, &search.query), false)),
                1 => Ok(fakes::page(search.then.clone(), true)),
                2 => {
                    let text = |room: &RoomKey, seq: u64| self.model.deleted_text.get(&(room.clone(), seq)).cloned();
                    Ok(fakes::page(fakes::hostile(self.model.log.iter(), text), false))
                }
                _ => Err(fakes::failure(mode)),
            };
            let given = result.as_ref().map_or(0, |r: &SearchResults| r.items.len());
            let waiting = match search.caller {
                CallerRef::Session(s) => self.live.contains_key(&s),
                CallerRef::Request(r) => self.requests.contains_key(&r),
            };
            let restores = self.stats.restores;
            let load = search.load;
            self.answering = Some(Answering { search, given, answers: 0 });
            self.input(Input::Searched { load, result });
            let answered = self.answering.take().expect("still answering");
            if self.stats.restores == restores {
                assert_eq!(
                    answered.answers,
                    usize::from(waiting),
                    "search {load:?} of a caller that is {}there answered {} times",
                    if waiting { "" } else { "not " },
                    answered.answers
                );
            }
        }
    }

    /// Contract rule 3: after a failed commit carry out nothing, restore, close every session.
    pub(super) fn restart(&mut self) {
        self.stats.restores += 1;
        let snapshot = self.journal.snapshot().expect("memory journal reads");
        self.chat = Chat::restore(self.config.clone(), snapshot);
        assert_eq!(self.chat.session_count(), 0, "a restored chat has no sessions");
        self.slots = [None; SLOTS];
        self.live.clear();
        self.loads.clear();
        self.resolves.clear();
        self.searches.clear();
        // Unanswered requests of the old instance get an error from a real driver.
        self.requests.clear();
        self.delivered.clear();
        self.delivered_rev.clear();
        self.seen_now = Timestamp(0);
    }

    /// Drains ([`Chat::drain`]), commits the drain's entries in one append, then carries out the
    /// rest in order.
    pub(super) fn drain(&mut self) {
        loop {
            let drain = self.chat.drain();
            if drain.is_empty() {
                return;
            }
            let batch = drain.persist().to_vec();
            let before = self.journal.entries().len();
            let Ok(rest) = drain.commit(&mut self.journal) else {
                self.stats.failed_commits += 1;
                assert_eq!(self.journal.entries().len(), before, "a failed commit left entries behind");
                self.restart();
                return;
            };
            if !batch.is_empty() {
                for entry in &batch {
                    self.model_apply(entry);
                }
                let committed = self.journal.snapshot().expect("memory journal reads");
                assert!(&committed == self.chat.snapshot(), "journal snapshot differs from the live state");
            }
            let mut closed = Vec::new();
            for output in rest {
                match output {
                    Output::Deliver { sessions, msg } => self.check_delivery(&sessions, &msg),
                    Output::Reply { request, msg } => self.check_reply(request, &msg),
                    Output::Load { load, query } => {
                        assert!(self.chat.room(&query.room).is_some(), "load of an unknown room: {query:?}");
                        self.loads.push((load, query));
                    }
                    Output::ResolveAttachments { load, user, ids } => {
                        let asking = self.asking.as_ref().map(|(_, u, _)| u);
                        assert_eq!(asking, Some(&user), "attachments resolved for another user than the sender");
                        assert!(!ids.is_empty() && ids.len() <= self.config.max_attachments_per_message);
                        assert!(ids.iter().enumerate().all(|(i, id)| !ids[..i].contains(id)), "an id twice");
                        self.resolves.push((load, user, ids));
                    }
                    Output::Search { load, user, rooms, query } => self.search_asked(load, user, rooms, *query),
                    Output::Close { session, .. } => {
                        assert!(self.live.remove(&session).is_some(), "close of a session that is not live");
                        self.slots.iter_mut().filter(|s| **s == Some(session)).for_each(|s| *s = None);
                        closed.push(session);
                    }
                    other => panic!("unexpected output after the commit: {other:?}"),
                }
            }
            for session in closed {
                self.chat.handle(Timestamp(self.now), Input::Disconnect { session });
            }
        }
    }

    /// An `Output::Search`: authorised rooms only (the caller's now, or the filter), then held.
    fn search_asked(&mut self, load: LoadId, user: UserName, rooms: Vec<RoomKey>, query: SearchRequest) {
        let (caller, asker, filter) = self.asking.clone().expect("a search starts from a frame or request");
        assert_eq!(asker, user, "a search on behalf of another user");
        for room in &rooms {
            assert!(self.model.is_member(&user, room), "{user} may search {room}, not a member");
        }
        match &filter {
            Some(only) => assert_eq!(rooms, vec![only.clone()], "a filtered search over other rooms"),
            None => {
                let mine = self.model.members.iter().filter(|(_, m)| m.contains(&user)).count();
                assert_eq!(rooms.len(), mine, "a search over fewer rooms than {user}'s");
            }
        }
        assert!((1..=chat_core::MAX_SEARCH_LIMIT).contains(&query.limit), "limit {}", query.limit);
        let then = fakes::honest(self.model.log.iter(), &rooms, &query);
        self.searches.push(PendingSearch { load, user, caller, rooms, query, filter, then });
    }

    /// A `seq` selector: below 0x80 back from the room's latest message, else absolute.
    fn seq_of(&self, room: &RoomSel, caller: &UserName, sel: u8) -> u64 {
        match sel {
            0..0x80 => {
                let key = room.to_ref(caller).resolve(caller).ok();
                let last = key.and_then(|k| self.chat.room(&k).map(|r| r.last_seq())).unwrap_or(0);
                last.saturating_sub(u64::from(sel % 8))
            }
            _ => u64::from(sel - 0x80),
        }
    }

    /// A `rev` selector: below 0x80 back from the room's latest event, else absolute.
    fn rev_of(&self, room: &RoomSel, caller: &UserName, sel: u8) -> u64 {
        match sel {
            0..0x80 => {
                let key = room.to_ref(caller).resolve(caller).ok();
                let last = key.and_then(|k| self.chat.room(&k).map(|r| r.last_rev())).unwrap_or(0);
                last.saturating_sub(u64::from(sel % 16))
            }
            _ => u64::from(sel - 0x80),
        }
    }

    fn to_client(&self, msg: &Msg, caller: &UserName) -> ClientMsg {
        match msg {
            Msg::Join(room) => ClientMsg::JoinRoom { room: room.to_ref(caller) },
            Msg::Leave(room) => ClientMsg::LeaveRoom { room: room.to_ref(caller) },
            Msg::Create { name, private } => {
                ClientMsg::CreateRoom { room_name: group(*name).into(), private: *private }
            }
            Msg::Invite { room, user } => {
                ClientMsg::Invite { room: room.to_ref(caller), username: user_str(*user).to_ascii_uppercase() }
            }
            Msg::Remove { room, user } => {
                ClientMsg::Remove { room: room.to_ref(caller), username: user_str(*user).into() }
            }
            Msg::Send { room, text, client_id, reply_to, attachments } => ClientMsg::SendMessage {
                attachments: attachments.iter().take(MAX_ATTACHMENTS).map(|b| fakes::file(*b)).collect(),
                room: room.to_ref(caller),
                content: render(text),
                client_id: client_id.map(|c| format!("c{}", c % 8)),
                reply_to: reply_to.map(|sel| self.seq_of(room, caller, sel)),
            },
            Msg::MarkRead { room, seq } => ClientMsg::MarkRead { room: room.to_ref(caller), seq: seq.map(u64::from) },
            Msg::Typing { room, active } => ClientMsg::Typing { room: room.to_ref(caller), active: *active },
            Msg::History { room, before, after, limit } => ClientMsg::History {
                room: room.to_ref(caller),
                before: before.map(u64::from),
                after: after.map(u64::from),
                limit: limit.map(|l| u32::from(l % 120)),
                around: None,
            },
            Msg::Resume { room, last_seq, last_rev } => {
                let last_rev = last_rev.map(|sel| self.rev_of(room, caller, sel));
                let room = room.to_ref(caller).room.unwrap_or_else(|| "group:lobby".into());
                ClientMsg::Resume { rooms: vec![ResumePoint { room, last_seq: u64::from(*last_seq), last_rev }] }
            }
            Msg::Notifications { limit } => ClientMsg::Notifications { limit: limit.map(u32::from) },
            Msg::MarkNotificationsRead { ids } => ClientMsg::MarkNotificationsRead {
                ids: ids.as_ref().map(|ids| ids.iter().take(8).map(|&i| u64::from(i)).collect()),
            },
            Msg::ListRooms => ClientMsg::ListRooms(Default::default()),
            Msg::ListUsers => ClientMsg::ListUsers(Default::default()),
            Msg::Edit { room, seq, text, client_id } => ClientMsg::EditMessage {
                seq: self.seq_of(room, caller, *seq),
                room: room.to_ref(caller),
                content: render(text),
                client_id: client_id.map(|c| format!("e{}", c % 8)),
            },
            Msg::Delete { room, seq } => {
                ClientMsg::DeleteMessage { seq: self.seq_of(room, caller, *seq), room: room.to_ref(caller) }
            }
            Msg::React { room, seq, emoji, add } => ClientMsg::React {
                seq: self.seq_of(room, caller, *seq),
                room: room.to_ref(caller),
                emoji: emoji_of(*emoji),
                add: *add,
            },
            Msg::Search { room, words, from, limit } => {
                let words: Vec<&str> =
                    words.iter().take(MAX_SEARCH_WORDS).map(|w| WORDS[usize::from(*w) % WORDS.len()]).collect();
                ClientMsg::Search(SearchFrame {
                    query: words.join(" "),
                    room: room.as_ref().and_then(|r| r.to_ref(caller).resolve(caller).ok()).map(|k| k.to_string()),
                    from: from.map(|u| user_str(u).to_owned()),
                    limit: limit.map(|l| u32::from(l % 60)),
                    ..SearchFrame::default()
                })
            }
            Msg::Accept(room) => ClientMsg::AcceptInvite { room: room.to_ref(caller) },
            Msg::Decline(room) => ClientMsg::DeclineInvite { room: room.to_ref(caller) },
        }
    }
}

/// The reaction emoji of selector byte `b`.
fn emoji_of(b: u8) -> String {
    match b {
        0..0xE0 => char::from_u32(0x1F600 + u32::from(b % 0x40)).expect("an emoticon").to_string(),
        _ => EMOJI[usize::from(b) % EMOJI.len()].to_owned(),
    }
}

impl RoomSel {
    fn to_ref(&self, caller: &UserName) -> RoomRef {
        let mut r = RoomRef::default();
        match self {
            RoomSel::Group(g) => r.room = Some(format!("group:{}", group(*g))),
            RoomSel::SeedGroup(g) => {
                r.room_type = Some(RoomType::Group);
                r.room_name = Some(group(*g).to_owned());
            }
            RoomSel::Dm(u) => r.room = Some(format!("dm:{caller}:{}", user_str(*u))),
            RoomSel::SeedDm(u) => {
                r.room_type = Some(RoomType::Dm);
                r.target = Some(user_str(*u).to_owned());
            }
            RoomSel::DmKey(a, b) => r.room = Some(format!("dm:{}:{}", user_str(*a), user_str(*b))),
            RoomSel::Raw(raw) => r.room = Some(String::from_utf8_lossy(raw).into_owned()),
        }
        r
    }
}

fn render(frags: &[Frag]) -> String {
    let mut text = String::new();
    for frag in frags.iter().take(MAX_FRAGS) {
        match frag {
            Frag::Word(w) => text.push_str(WORDS[usize::from(*w) % WORDS.len()]),
            Frag::Mention { user, upper } => {
                text.push('@');
                match upper {
                    true => text.push_str(&user_str(*user).to_ascii_uppercase()),
                    false => text.push_str(user_str(*user)),
                }
            }
            Frag::AtRoom => text.push_str("@room"),
            Frag::AtHere => text.push_str("@Here"),
            Frag::Code(n) => (0..=n % 3).for_each(|_| text.push('`')),
            Frag::Email(u) => {
                text.push_str("mail ");
                text.push_str(user_str(*u));
                text.push_str("@example.com");
            }
            Frag::Punct(p) => text.push_str(PUNCT[usize::from(*p) % PUNCT.len()]),
            Frag::Space => text.push(' '),
            Frag::Newline => text.push('\n'),
            Frag::Raw(raw) => text.push_str(&String::from_utf8_lossy(raw)),
        }
    }
    text
}
