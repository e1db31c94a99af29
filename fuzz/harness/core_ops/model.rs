//! The naive model (built from committed log entries only) and the checks the driver runs
//! against it after every commit, delivery and step.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chat_core::attachment::AttachmentId;
use chat_core::log::{REPLY_PREVIEW_CHARS, Reactions, ReplyTo};
use chat_core::protocol::{MAX_DISTINCT_REACTIONS, MAX_REACTIONS_PER_MESSAGE, MAX_REACTIONS_PER_USER};
use chat_core::{
    HistoryQuery, HistoryRange, Journal, LogEntry, Message, NOTIFICATION_PREVIEW_CHARS, Notification, RequestId,
    RoomKey, RoomKind, SearchResults, ServerMsg, SessionId, Snapshot, UserName,
};

use super::USERS;
use super::driver::{CallerRef, Driver};
use super::fakes;

/// The model: what the committed entries say, interpreted independently of the core.
#[derive(Debug, Default)]
pub(super) struct Model {
    /// Committed messages per room, in order, in their current state (`reply_to` as sent).
    pub(super) log: BTreeMap<RoomKey, Vec<Message>>,
    pub(super) members: BTreeMap<RoomKey, BTreeSet<UserName>>,
    /// Kind and owner of each room.
    rooms: BTreeMap<RoomKey, (RoomKind, Option<UserName>)>,
    /// The room's last event (`rev`).
    revs: BTreeMap<RoomKey, u64>,
    /// Read cursors: set on joining to the room's last seq, moved by reads and own messages.
    cursors: BTreeMap<(UserName, RoomKey), u64>,
    /// Client ids stored per user, with where.
    stored_ids: BTreeMap<(UserName, String), (RoomKey, u64)>,
    /// The text each deleted message had (what must never be shown again).
    pub(super) deleted_text: BTreeMap<(RoomKey, u64), String>,
    /// Edits asked for: room, seq, by whom, the new text.
    pub(super) asked_edits: BTreeSet<(RoomKey, u64, UserName, String)>,
    /// Deletions asked for: room, seq, by whom, as an administrator.
    pub(super) asked_deletes: BTreeSet<(RoomKey, u64, UserName, bool)>,
    /// Reactions asked for: room, seq, by whom, emoji, add.
    pub(super) asked_reacts: BTreeSet<(RoomKey, u64, UserName, String, bool)>,
    /// Attachment lists the fake store resolved honestly, per sender (each usable once).
    pub(super) resolved: Vec<(UserName, Vec<AttachmentId>)>,
}

/// The first `chars` characters of `text`.
fn preview(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

impl Model {
    pub(super) fn is_member(&self, user: &UserName, room: &RoomKey) -> bool {
        self.members.get(room).is_some_and(|m| m.contains(user))
    }

    /// The committed message `room#seq`.
    pub(super) fn stored(&self, room: &RoomKey, seq: u64) -> Option<&Message> {
        let index = usize::try_from(seq.checked_sub(1)?).ok()?;
        self.log.get(room)?.get(index)
    }

    fn stored_mut(&mut self, room: &RoomKey, seq: u64) -> Option<&mut Message> {
        let index = usize::try_from(seq.checked_sub(1)?).ok()?;
        self.log.get_mut(room)?.get_mut(index)
    }

    fn is_deleted(&self, room: &RoomKey, seq: u64) -> bool {
        self.stored(room, seq).is_some_and(|m| m.deleted)
    }

    /// How a reply quotes `target` now.
    fn quote(target: &Message) -> ReplyTo {
        let preview = if target.deleted { String::new() } else { preview(&target.content, REPLY_PREVIEW_CHARS) };
        ReplyTo { seq: target.seq, sender: target.sender.clone(), preview }
    }

    /// Message `room#seq` as a page shows it now: current state, quoting its target as it is.
    fn current(&self, room: &RoomKey, seq: u64) -> Option<Message> {
        let mut m = self.stored(room, seq)?.clone();
        if let Some(reply) = &mut m.reply_to
            && let Some(target) = self.stored(room, reply.seq)
        {
            **reply = Model::quote(target);
        }
        Some(m)
    }

    /// Accepts the event `rev` of `room` (gap-free from 1).
    fn next_rev(&mut self, room: &RoomKey, rev: u64) {
        let last = self.revs.entry(room.clone()).or_default();
        assert_eq!(rev, *last + 1, "rev gap in {room}");
        *last = rev;
    }

    /// Whether `user` may delete `m` (asked as an administrator or not).
    fn may_delete(&self, m: &Message, user: &UserName, admin: bool) -> bool {
        let owner = self.rooms.get(&m.room).is_some_and(|(k, o)| *k == RoomKind::Private && o.as_ref() == Some(user));
        admin || *user == m.sender || owner
    }

    fn check_mentions(&self, room: &RoomKey, sender: &UserName, mentions: &[UserName]) {
        let members = &self.members[room];
        let mut seen = BTreeSet::new();
        for u in mentions {
            assert!(seen.insert(u), "{u} mentioned twice in one message");
            assert!(u != sender && members.contains(u), "mention of {u} resolved to a non-member/sender");
        }
    }
}

impl Driver {
    pub(super) fn model_apply(&mut self, entry: &LogEntry) {
        let model = &mut self.model;
        match entry {
            LogEntry::RoomCreated { room, kind, owner, .. } => {
                assert!(!model.members.contains_key(room), "{room} created twice");
                model.members.entry(room.clone()).or_default();
                model.log.entry(room.clone()).or_default();
                model.rooms.insert(room.clone(), (*kind, owner.clone()));
            }
            LogEntry::MemberAdded { room, user } => {
                let members = model.members.get_mut(room).expect("member added to a room never created");
                assert!(members.insert(user.clone()), "{user} added twice to {room}");
                let last = model.log.get(room).map_or(0, |l| l.len() as u64);
                model.cursors.insert((user.clone(), room.clone()), last);
            }
            LogEntry::MemberRemoved { room, user } => {
                let members = model.members.get_mut(room).expect("member removed from a room never created");
                assert!(members.remove(user), "{user} removed from {room} without being a member");
                model.cursors.remove(&(user.clone(), room.clone()));
            }
            LogEntry::ReadCursor { user, room, seq } => {
                let cursor = model.cursors.get_mut(&(user.clone(), room.clone())).expect("cursor of a non-member");
                assert!(*seq > *cursor, "read cursor moved back or stood still: {cursor} -> {seq}");
                assert!(*seq <= model.log[room].len() as u64, "read cursor past the last message");
                *cursor = *seq;
            }
            LogEntry::Message(m) => self.message_committed(m),
            LogEntry::Edited(e) => {
                let asked = (e.room.clone(), e.seq, e.sender.clone(), e.content.clone());
                assert!(model.asked_edits.contains(&asked), "an edit its sender did not ask for: {e:?}");
                model.check_mentions(&e.room, &e.sender, &e.mentions);
                model.next_rev(&e.room, e.rev);
                let window = self.config.edit_window_ms;
                let m = model.stored_mut(&e.room, e.seq).expect("edit of a message never committed");
                assert!(!m.deleted, "edit of a deleted message");
                assert_eq!((&m.sender, m.timestamp), (&e.sender, e.timestamp), "edit entry of another message");
                assert_eq!(m.mentions, e.previous_mentions, "an edit's previous mentions are not the message's");
                assert_ne!(m.content, e.content, "an edit to the same text took a rev");
                if let Some(window) = window {
                    assert!(e.edited_at.0.saturating_sub(m.timestamp.0) <= window, "an edit after the window");
                }
                m.content.clone_from(&e.content);
                m.mentions.clone_from(&e.mentions);
                m.edited_at = Some(e.edited_at);
                m.changed_rev = e.rev;
                self.stats.edits += 1;
            }
            LogEntry::Deleted(d) => {
                model.next_rev(&d.room, d.rev);
                let m = model.stored(&d.room, d.seq).expect("deletion of a message never committed").clone();
                assert!(!m.deleted, "a deleted message deleted again");
                assert_eq!((&m.sender, &m.mentions), (&d.sender, &d.mentions), "deletion entry of another message");
                let by = model
                    .asked_deletes
                    .iter()
                    .filter(|(r, s, ..)| *r == d.room && *s == d.seq)
                    .find(|(_, _, u, admin)| model.may_delete(&m, u, *admin))
                    .map(|(_, _, u, _)| u.clone());
                let by = by.unwrap_or_else(|| panic!("a deletion nobody allowed asked for: {d:?}"));
                self.stats.moderated_deletions += usize::from(by != m.sender);
                model.deleted_text.insert((d.room.clone(), d.seq), m.content.clone());
                let m = model.stored_mut(&d.room, d.seq).expect("checked above");
                m.deleted = true;
                m.deleted_at = Some(d.deleted_at);
                m.content.clear();
                m.mentions.clear();
                m.reactions.clear();
                m.attachments.clear();
                m.client_id = None;
                m.edited_at = None;
                m.changed_rev = d.rev;
                self.stats.deletions += 1;
            }
            LogEntry::Reacted(r) => {
                let asked = (r.room.clone(), r.seq, r.user.clone(), r.emoji.clone(), r.add);
                assert!(model.asked_reacts.contains(&asked), "a reaction nobody asked for: {r:?}");
                assert!(model.is_member(&r.user, &r.room), "a reaction by a non-member");
                model.next_rev(&r.room, r.rev);
                let m = model.stored_mut(&r.room, r.seq).expect("reaction to a message never committed");
                assert!(!m.deleted, "reaction to a deleted message");
                let at = m.reactions.iter().position(|g| g.emoji == r.emoji);
                match (r.add, at) {
                    (true, Some(i)) => {
                        assert!(!m.reactions[i].users.contains(&r.user), "a reaction added twice took a rev");
                        m.reactions[i].users.push(r.user.clone());
                    }
                    (true, None) => m.reactions.push(Reactions { emoji: r.emoji.clone(), users: vec![r.user.clone()] }),
                    (false, Some(i)) => {
                        let users = &mut m.reactions[i].users;
                        assert!(users.contains(&r.user), "removing a reaction not held took a rev");
                        users.retain(|u| *u != r.user);
                        if users.is_empty() {
                            m.reactions.remove(i);
                        }
                    }
                    (false, None) => panic!("removing a reaction not held took a rev"),
                }
                let mine = m.reactions.iter().filter(|g| g.users.contains(&r.user)).count();
                let total: usize = m.reactions.iter().map(|g| g.users.len()).sum();
                assert!(m.reactions.len() <= MAX_DISTINCT_REACTIONS, "too many distinct reactions");
                assert!(mine <= MAX_REACTIONS_PER_USER && total <= MAX_REACTIONS_PER_MESSAGE, "too many reactions");
                m.changed_rev = r.rev;
                self.stats.reactions += 1;
            }
            _ => {}
        }
    }

    fn message_committed(&mut self, m: &Arc<Message>) {
        let model = &mut self.model;
        assert!(model.members.contains_key(&m.room), "message in a room never created");
        assert!(model.is_member(&m.sender, &m.room), "message from a non-member");
        model.check_mentions(&m.room, &m.sender, &m.mentions);
        let log = &model.log[&m.room];
        assert_eq!(m.seq, log.len() as u64 + 1, "seq gap in {}", m.room);
        if let Some(prev) = log.last() {
            assert!(m.timestamp >= prev.timestamp, "message time went back in {}", m.room);
        }
        assert!(
            !m.deleted && m.edited_at.is_none() && m.reactions.is_empty() && m.changed_rev == 0,
            "a new message with a lifecycle: {m:?}"
        );
        if let Some(reply) = &m.reply_to {
            let target = model.stored(&m.room, reply.seq).expect("a reply to a message never committed");
            assert_eq!(**reply, Model::quote(target), "a reply does not quote its target as it is");
            self.stats.replies += 1;
        }
        if !m.attachments.is_empty() {
            for a in &m.attachments {
                assert_eq!(fakes::uploader(&a.id).as_ref(), Some(&m.sender), "someone else's file attached");
                assert_eq!(*a, fakes::metadata(a.id), "attachment metadata differs from the store's");
            }
            let ids: Vec<AttachmentId> = m.attachments.iter().map(|a| a.id).collect();
            let at = model.resolved.iter().position(|(u, list)| *u == m.sender && *list == ids);
            let at = at.unwrap_or_else(|| panic!("attachments the store never resolved for {}: {ids:?}", m.sender));
            model.resolved.swap_remove(at);
            self.stats.attachment_messages += 1;
        }
        model.next_rev(&m.room, m.rev);
        model.log.get_mut(&m.room).expect("room has a log").push(Message::clone(m));
        self.stats.messages += 1;
        self.stats.dm_messages += usize::from(m.room.is_dm());
        self.stats.mentions += usize::from(!m.mentions.is_empty());
        let cursor = model.cursors.get_mut(&(m.sender.clone(), m.room.clone())).expect("sender cursor");
        *cursor = m.seq;
        if let Some(id) = &m.client_id {
            let key = (m.sender.clone(), id.clone());
            let first = model.stored_ids.insert(key, (m.room.clone(), m.seq));
            assert!(first.is_none(), "client id {id} of {} stored twice", m.sender);
        }
    }

    /// No output shows a deleted message's text, quote, notification or search hit again, and
    /// every notification shows its message's current text.
    fn check_no_leak(&self, msg: &ServerMsg) {
        let model = &self.model;
        let messages: &[Message] = match msg {
            ServerMsg::Message(m) => std::slice::from_ref(&**m),
            ServerMsg::History { messages, .. } | ServerMsg::MessageUpdates { messages, .. } => messages,
            ServerMsg::MentionNotification(n) => return self.check_notification(n),
            ServerMsg::Notifications { items, .. } => return items.iter().for_each(|n| self.check_notification(n)),
            ServerMsg::SearchResults(results) => {
                for item in &results.items {
                    assert!(
                        !model.is_deleted(&item.room, item.seq),
                        "search hit of deleted {}#{}",
                        item.room,
                        item.seq
                    );
                }
                return;
            }
            ServerMsg::MessageEdited { room, seq, .. } => {
                assert!(!model.is_deleted(room, *seq), "an edit of deleted {room}#{seq} shown");
                return;
            }
            _ => return,
        };
        for m in messages {
            if model.is_deleted(&m.room, m.seq) {
                assert!(
                    m.deleted
                        && m.content.is_empty()
                        && m.mentions.is_empty()
                        && m.reactions.is_empty()
                        && m.attachments.is_empty()
                        && m.client_id.is_none(),
                    "deleted {}#{} shown with its content: {m:?}",
                    m.room,
                    m.seq
                );
            }
            if let Some(reply) = &m.reply_to
                && model.is_deleted(&m.room, reply.seq)
            {
                assert!(reply.preview.is_empty(), "a quote shows deleted {}#{}", m.room, reply.seq);
            }
        }
    }

    fn check_notification(&self, n: &Notification) {
        let m = self.model.stored(&n.room, n.seq).expect("notification about a message never committed");
        assert!(!m.deleted, "a notification about deleted {}#{} shown", n.room, n.seq);
        assert_eq!(n.sender, m.sender, "notification sender");
        assert_eq!(n.preview, preview(&m.content, NOTIFICATION_PREVIEW_CHARS), "notification preview is not the text");
    }

    pub(super) fn check_delivery(&mut self, sessions: &Arc<[SessionId]>, msg: &ServerMsg) {
        assert!(!sessions.is_empty(), "delivery to nobody");
        let unique: BTreeSet<SessionId> = sessions.iter().copied().collect();
        assert_eq!(unique.len(), sessions.len(), "a session listed twice for one event");
        let users: Vec<UserName> = sessions
            .iter()
            .map(|s| self.live.get(s).cloned().unwrap_or_else(|| panic!("delivery to closed session {s:?}: {msg:?}")))
            .collect();
        for u in &users {
            self.check_scoped(u, msg);
        }
        self.check_no_leak(msg);
        self.stats.history_pages += usize::from(matches!(msg, ServerMsg::History { .. }));
        self.stats.update_pages += usize::from(matches!(msg, ServerMsg::MessageUpdates { .. }));
        let member_sessions = |room: &RoomKey| -> BTreeSet<SessionId> {
            self.live.iter().filter(|(_, u)| self.model.is_member(u, room)).map(|(s, _)| *s).collect()
        };
        if let Some((room, rev)) = event_rev(msg) {
            assert_eq!(
                unique,
                member_sessions(room),
                "event {room} rev {rev} not delivered to exactly the member sessions"
            );
            for s in sessions.iter() {
                if let Some(last) = self.delivered_rev.insert((*s, room.clone()), rev) {
                    assert_eq!(rev, last + 1, "{s:?} got {room} rev {rev} after rev {last}");
                }
            }
        }
        match msg {
            ServerMsg::Message(m) => {
                assert_eq!(
                    self.model.stored(&m.room, m.seq),
                    Some(&**m),
                    "a message was shown before (or without) being committed"
                );
                for s in sessions.iter() {
                    if let Some(last) = self.delivered.insert((*s, m.room.clone()), m.seq) {
                        assert_eq!(m.seq, last + 1, "{s:?} got {}#{} after #{last}", m.room, m.seq);
                    }
                }
            }
            ServerMsg::MessageEdited { room, seq, rev, content, mentions, edited_at } => {
                let m = self.model.stored(room, *seq).expect("edit event of a message never committed");
                assert_eq!((m.changed_rev, &m.content, &m.mentions), (*rev, content, mentions), "edit event");
                assert_eq!(m.edited_at, Some(*edited_at));
            }
            ServerMsg::MessageDeleted { room, seq, rev, .. } => {
                let m = self.model.stored(room, *seq).expect("deletion event of a message never committed");
                assert!(m.deleted && m.changed_rev == *rev, "deletion event before the deletion was committed");
            }
            ServerMsg::Reaction { room, seq, rev, emoji, username, add } => {
                let m = self.model.stored(room, *seq).expect("reaction event of a message never committed");
                let holds = m.reactions.iter().any(|g| g.emoji == *emoji && g.users.contains(username));
                assert!(m.changed_rev == *rev && holds == *add, "reaction event differs from the committed state");
            }
            ServerMsg::Ack { .. } => {
                assert_eq!(users.len(), 1, "an ack goes to the sending session only");
                self.check_ack(&users[0], msg);
            }
            ServerMsg::ReadReceipt { username, .. } => {
                assert!(!users.contains(username), "{username} got their own read receipt");
            }
            ServerMsg::Error { .. } => {
                assert_eq!(users.len(), 1, "an error goes to the caller only");
                self.search_answer(CallerRef::Session(sessions[0]), &users[0], None);
            }
            ServerMsg::SearchResults(results) => {
                assert_eq!(users.len(), 1, "search results go to the caller only");
                self.search_answer(CallerRef::Session(sessions[0]), &users[0], Some(results));
            }
            ServerMsg::Connected { rooms, .. } => {
                for r in rooms {
                    let u = self.chat.unread(&users[0], &r.room).expect("summary of a member room");
                    assert_eq!((r.read_seq, r.unread, r.highlight), (u.read_seq, u.unread, u.highlight));
                }
            }
            _ => {}
        }
    }

    /// A search's answer (results, or an error while a search is being answered): to its
    /// caller, once, with hits of the caller's rooms (and filter) only, at most `limit`.
    fn search_answer(&mut self, to: CallerRef, user: &UserName, results: Option<&SearchResults>) {
        let Some(answering) = self.answering.as_mut() else {
            assert!(results.is_none(), "search results nobody is waiting for");
            return;
        };
        let search = &answering.search;
        assert_eq!((to, user), (search.caller, &search.user), "a search answered to someone else");
        answering.answers += 1;
        let Some(results) = results else { return };
        assert!(results.items.len() <= search.query.limit as usize, "more hits than the limit");
        for item in &results.items {
            assert!(self.model.is_member(user, &item.room), "search hit of {}, not {user}'s room", item.room);
            if let Some(only) = &search.filter {
                assert_eq!(&item.room, only, "search hit outside the room filter");
            }
        }
        self.stats.search_results += 1;
        self.stats.search_hits_dropped += answering.given.saturating_sub(results.items.len());
    }

    /// A room-scoped event may only reach the room's members (`room_left`: former members).
    fn check_scoped(&self, user: &UserName, msg: &ServerMsg) {
        let room = match msg {
            ServerMsg::Message(m) => &m.room,
            ServerMsg::RoomJoined(s) => &s.room,
            ServerMsg::RoomUsersUpdate { room, .. }
            | ServerMsg::ReadReceipt { room, .. }
            | ServerMsg::ReadState { room, .. }
            | ServerMsg::Typing { room, .. }
            | ServerMsg::ResumeReset { room, .. }
            | ServerMsg::MessageEdited { room, .. }
            | ServerMsg::MessageDeleted { room, .. }
            | ServerMsg::Reaction { room, .. } => room,
            ServerMsg::MentionNotification(n) => &n.room,
            ServerMsg::History { room, messages, .. } => {
                self.check_page(room, messages, true);
                room
            }
            ServerMsg::MessageUpdates { room, messages, .. } => {
                self.check_page(room, messages, false);
                room
            }
            ServerMsg::Connected { rooms, .. } => {
                for r in rooms {
                    assert!(self.model.is_member(user, &r.room), "{user} told about non-member room {}", r.room);
                }
                return;
            }
            ServerMsg::RoomLeft { room, .. } => {
                assert!(!self.model.is_member(user, room), "room_left sent to {user}, still a member of {room}");
                return;
            }
            _ => return,
        };
        assert!(self.model.is_member(user, room), "{msg:?} reached {user}, not a member of {room}");
    }

    /// A page: in its room, ascending (history: gap-free), each message as it is now.
    fn check_page(&self, room: &RoomKey, messages: &[Message], gap_free: bool) {
        let mut prev = None;
        for m in messages {
            assert_eq!(&m.room, room, "a page holds another room's message");
            assert_eq!(self.model.current(room, m.seq).as_ref(), Some(m), "a page's message differs from the log");
            if let Some(p) = prev {
                assert!(m.seq > p, "a page is not ascending");
                assert!(!gap_free || m.seq == p + 1, "a history page is not gap-free");
            }
            prev = Some(m.seq);
        }
    }

    fn check_ack(&mut self, user: &UserName, msg: &ServerMsg) {
        let ServerMsg::Ack { room, seq, client_id, duplicate, .. } = msg else { return };
        let stored =
            self.model.stored(room, *seq).unwrap_or_else(|| panic!("ack of {room}#{seq}, which is not committed"));
        assert_eq!(&stored.sender, user, "ack of someone else's message");
        if !stored.deleted {
            assert_eq!(&stored.client_id, client_id, "ack with another client id than stored");
        }
        if let Some(id) = client_id {
            assert_eq!(self.model.stored_ids.get(&(user.clone(), id.clone())), Some(&(room.clone(), *seq)));
        } else {
            assert!(!duplicate, "a duplicate ack without a client id");
        }
        self.stats.duplicate_acks += usize::from(*duplicate);
    }

    pub(super) fn check_reply(&mut self, request: RequestId, msg: &ServerMsg) {
        let (user, admin) = self.requests.remove(&request).unwrap_or_else(|| panic!("reply to unknown {request:?}"));
        match msg {
            // An administrator deletes in rooms they are not a member of; they see no content
            // there. As a member, an administrator's answers are scoped like anyone's.
            ServerMsg::MessageDeleted { room, .. } if admin && !self.model.is_member(&user, room) => {}
            ServerMsg::MessageUpdates { room, messages, .. } if admin && !self.model.is_member(&user, room) => {
                assert!(messages.iter().all(|m| m.deleted), "an administrator shown a message: {messages:?}");
            }
            _ => self.check_scoped(&user, msg),
        }
        self.check_no_leak(msg);
        self.check_ack(&user, msg);
        match msg {
            ServerMsg::SearchResults(results) => self.search_answer(CallerRef::Request(request), &user, Some(results)),
            ServerMsg::Error { .. } => self.search_answer(CallerRef::Request(request), &user, None),
            _ => {}
        }
        self.stats.history_pages += usize::from(matches!(msg, ServerMsg::History { .. }));
        self.stats.update_pages += usize::from(matches!(msg, ServerMsg::MessageUpdates { .. }));
    }

    /// Invariants of the state after a step.
    pub(super) fn check_state(&mut self) {
        let now = self.chat.now();
        assert!(now >= self.seen_now, "the core's clock went back");
        self.seen_now = now;
        let snapshot: &Snapshot = self.chat.snapshot();
        chat_core::testing::assert_fold_invariants(snapshot);
        let model = &self.model;
        let mut rooms: Vec<&RoomKey> = snapshot.rooms().map(|(room, _)| room).collect();
        rooms.sort_unstable();
        assert_eq!(rooms, model.members.keys().collect::<Vec<_>>(), "rooms differ from the model");
        for (room, state) in snapshot.rooms() {
            assert!(state.members().eq(&model.members[room]), "members of {room} differ from the model");
            let log = &model.log[room];
            assert_eq!(state.last_seq(), log.len() as u64, "last_seq of {room}");
            assert_eq!(state.last_rev(), model.revs.get(room).copied().unwrap_or(0), "last_rev of {room}");
            if let RoomKey::Dm(a, b) = room {
                let pair: BTreeSet<UserName> = [a.clone(), b.clone()].into();
                assert!(state.members().eq(&pair), "a DM's members are exactly its two participants");
            }
            for member in state.members() {
                let u = self.chat.unread(member, room).expect("members have unread state");
                let cursor = model.cursors[&(member.clone(), room.clone())];
                assert_eq!(u.read_seq, cursor, "read cursor of {member} in {room}");
                let after: Vec<&Message> =
                    log.iter().filter(|m| m.seq > cursor && &m.sender != member && !m.deleted).collect();
                let highlight = match room.is_dm() {
                    true => after.len(),
                    false => after.iter().filter(|m| m.mentions.contains(member)).count(),
                };
                assert_eq!(u.unread, after.len() as u64, "unread of {member} in {room}");
                assert_eq!(u.highlight, highlight as u64, "highlight of {member} in {room}");
            }
        }
        for u in USERS {
            let u = UserName::new(u).expect("fixture names are valid");
            for (room, _) in snapshot.rooms().filter(|(r, _)| !model.is_member(&u, r)) {
                assert!(self.chat.unread(&u, room).is_none(), "non-member {u} has unread state in {room}");
            }
        }
        // Live-delivery tracking only for sessions that stay members.
        let live = &self.live;
        let members = &model.members;
        self.delivered.retain(|(s, room), _| live.get(s).is_some_and(|u| members[room].contains(u)));
        self.delivered_rev.retain(|(s, room), _| live.get(s).is_some_and(|u| members[room].contains(u)));
        for (s, u) in &self.live {
            assert_eq!(self.chat.session_user(*s), Some(u), "the core's view of {s:?} differs");
            for room in members.iter().filter(|(_, m)| m.contains(u)).map(|(r, _)| r) {
                self.delivered.entry((*s, room.clone())).or_insert(model.log[room].len() as u64);
                self.delivered_rev.entry((*s, room.clone())).or_insert(model.revs.get(room).copied().unwrap_or(0));
            }
        }
        assert_eq!(self.chat.session_count(), self.live.len(), "session count differs from the driver's");
    }

    /// End of run: answer everything pending, then check the log and the history pages.
    pub(super) fn finish(&mut self) {
        // Each answer may queue the next operation's load on the same message.
        for _ in 0..1_000 {
            if self.loads.is_empty() && self.resolves.is_empty() && self.searches.is_empty() {
                break;
            }
            self.answer_loads(false);
            self.answer_resolves(0);
            self.answer_searches(0);
        }
        assert!(self.loads.is_empty() && self.resolves.is_empty() && self.searches.is_empty(), "answers never end");
        self.check_state();
        assert!(self.requests.is_empty(), "requests left unanswered: {:?}", self.requests);
        let refold = Snapshot::from_log(self.journal.entries());
        assert!(&refold == self.chat.snapshot(), "the fold of the whole log differs from the live state");
        for (room, log) in &self.model.log {
            let log: Vec<Message> = log.iter().filter_map(|m| self.model.current(room, m.seq)).collect();
            for (range, limit) in
                [(HistoryRange::Latest, 100), (HistoryRange::Before(3), 1), (HistoryRange::After(1), 2)]
            {
                let query = HistoryQuery { room: room.clone(), range, limit };
                let page = self.journal.history(&query).expect("memory journal reads");
                let newest = |upto: &[Message]| upto[upto.len().saturating_sub(limit as usize)..].to_vec();
                let expected: Vec<Message> = match range {
                    HistoryRange::Latest => newest(&log),
                    HistoryRange::Before(b) => newest(&log[..log.iter().filter(|m| m.seq < b).count()]),
                    HistoryRange::After(a) => log.iter().filter(|m| m.seq > a).take(limit as usize).cloned().collect(),
                    HistoryRange::At(_) | HistoryRange::Around(_) | HistoryRange::ChangedSince { .. } => {
                        unreachable!("not asked above")
                    }
                };
                assert_eq!(page, expected, "history page {range:?} of {room}");
            }
        }
    }
}

/// The room and `rev` of an event every member session gets live.
fn event_rev(msg: &ServerMsg) -> Option<(&RoomKey, u64)> {
    match msg {
        ServerMsg::Message(m) => Some((&m.room, m.rev)),
        ServerMsg::MessageEdited { room, rev, .. }
        | ServerMsg::MessageDeleted { room, rev, .. }
        | ServerMsg::Reaction { room, rev, .. } => Some((room, *rev)),
        _ => None,
    }
}
