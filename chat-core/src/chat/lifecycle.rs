//! The message lifecycle: edit, delete, react, and the read a reply needs.
//!
//! Each operation needs its target message's current state, which only the journal holds: the
//! core checks what it can at once (membership, `seq` in range, deleted, content, emoji), then
//! loads the target (`HistoryRange::At`) and decides when the page arrives. Operations on one
//! message run one at a time ([`Targets`]): the next one's load is queued after the previous
//! one's `Persist`, so the driver commits that entry before it reads, and no operation ever acts
//! on a state an earlier one already changed.

use std::collections::VecDeque;

use super::messages::Quote;
use super::{Answer, Caller, Chat, Handled, LoadError, Output, PendingLoad, Refusal, history::Page};
use crate::error::ErrorCode;
use crate::hash::FxHashMap;
use crate::journal::{HistoryQuery, HistoryRange};
use crate::log::{Deletion, Edit, LogEntry, Message, Reaction, ReplyTo};
use crate::name::UserName;
use crate::protocol::{MAX_DISTINCT_REACTIONS, MAX_REACTIONS_PER_MESSAGE, MAX_REACTIONS_PER_USER, ServerMsg};
use crate::room::{RoomKey, RoomKind, RoomRef};
use crate::snapshot::Unread;

/// Most operations queued on one message (beyond it: `rate_limited`).
const MAX_QUEUED_OPS: usize = 256;

/// What to do with the target once it is loaded.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Edit { content: String, client_id: Option<String> },
    Delete { admin: bool },
    React { emoji: String, add: bool },
    Reply { content: String, client_id: Option<String>, attach: super::attachments::Attach },
}

#[derive(Debug, Clone)]
pub(crate) struct PendingOp {
    caller: Caller,
    user: UserName,
    op: Op,
}

/// Lifecycle operations per target message, oldest first; the front one's load is in flight.
/// An entry exists exactly while its queue is not empty.
#[derive(Debug, Default)]
pub(crate) struct Targets {
    queues: FxHashMap<(RoomKey, u64), VecDeque<PendingOp>>,
}

/// One member's counts before a change, to tell them what moved.
struct Before {
    user: UserName,
    unread: Option<Unread>,
    notification: Option<u64>,
}

impl Chat {
    pub(super) fn edit(
        &mut self,
        caller: Caller,
        user: &UserName,
        room: &RoomRef,
        seq: u64,
        content: String,
        client_id: Option<String>,
    ) -> Handled {
        let with_id = |r: Refusal| r.client_id(client_id.clone());
        let key = self.member_room(user, room).map_err(with_id)?;
        self.live_target(&key, seq).map_err(with_id)?;
        self.check_content(&key, &content).map_err(with_id)?;
        self.start_op(caller, user, key, seq, Op::Edit { content, client_id })
    }

    /// `delete_message`; `admin` when the driver vouches the caller is a server administrator
    /// ([`Input::AdminRequest`](crate::Input::AdminRequest)): any message of any room.
    pub(super) fn delete(&mut self, caller: Caller, user: &UserName, room: &RoomRef, seq: u64, admin: bool) -> Handled {
        let key = if admin {
            let key = room.resolve(user).map_err(|e| {
                Refusal::new(ErrorCode::InvalidRoom, e.to_string()).room(room.room.as_deref().unwrap_or(""))
            })?;
            if !self.state.rooms.contains_key(&key) {
                return Err(Refusal::new(ErrorCode::RoomNotFound, "no such room").room(&key));
            }
            key
        } else {
            self.member_room(user, room)?
        };
        self.sent_target(&key, seq)?;
        self.start_op(caller, user, key, seq, Op::Delete { admin })
    }

    pub(super) fn react(
        &mut self,
        caller: Caller,
        user: &UserName,
        room: &RoomRef,
        seq: u64,
        emoji: String,
        add: bool,
    ) -> Handled {
        let key = self.member_room(user, room)?;
        if !crate::emoji::is_one_emoji(&emoji) {
            return Err(Refusal::new(ErrorCode::InvalidEmoji, "a reaction is one emoji (at most 32 bytes)").room(&key));
        }
        self.live_target(&key, seq)?;
        self.start_op(caller, user, key, seq, Op::React { emoji, add })
    }

    /// Refuses a `seq` that names no message of `room`.
    fn sent_target(&self, room: &RoomKey, seq: u64) -> Result<(), Refusal> {
        let last_seq = self.state.rooms.get(room).map_or(0, |r| r.last_seq);
        if seq == 0 || seq > last_seq {
            return Err(Refusal::new(ErrorCode::MessageNotFound, "no message with that seq in this room").room(room));
        }
        Ok(())
    }

    /// Refuses a `seq` that names no message, or a deleted one.
    fn live_target(&self, room: &RoomKey, seq: u64) -> Result<(), Refusal> {
        self.sent_target(room, seq)?;
        if self.state.is_deleted(room, seq) {
            return Err(Refusal::new(ErrorCode::MessageDeleted, "that message was deleted").room(room));
        }
        Ok(())
    }

    /// Queues `op` on message `seq` of `room`, loading it unless an earlier operation on it is
    /// in flight (that one loads the next when it is done).
    pub(super) fn start_op(&mut self, caller: Caller, user: &UserName, room: RoomKey, seq: u64, op: Op) -> Handled {
        let queue = self.targets.queues.entry((room.clone(), seq)).or_default();
        if queue.len() >= MAX_QUEUED_OPS {
            return Err(Refusal::new(ErrorCode::RateLimited, "too many changes to this message at once").room(&room));
        }
        queue.push_back(PendingOp { caller, user: user.clone(), op });
        if queue.len() == 1 {
            self.load_target(caller, user, room, seq);
        }
        Ok(Answer::Pending)
    }

    fn load_target(&mut self, caller: Caller, user: &UserName, room: RoomKey, seq: u64) {
        let query = HistoryQuery { room: room.clone(), range: HistoryRange::At(seq), limit: 1 };
        let load = self.loads.start(PendingLoad { caller, user: user.clone(), room, page: Page::Target(seq) });
        self.outputs.push_back(Output::Load { load, query });
    }

    /// The target of the oldest operation queued on `(room, seq)` arrived: run it, answer its
    /// caller, and load the target again for the next one (after this one's `Persist`).
    pub(super) fn target_loaded(&mut self, room: RoomKey, seq: u64, result: Result<Vec<Message>, LoadError>) {
        let key = (room.clone(), seq);
        let Some(pending) = self.targets.queues.get_mut(&key).and_then(VecDeque::pop_front) else { return };
        let live = match pending.caller {
            Caller::Session(session) => self.sessions.contains_key(&session),
            Caller::Request(_) => true,
        };
        if live {
            let answer = match result {
                Err(e) => Err(Refusal::new(ErrorCode::HistoryUnavailable, e.to_string()).room(&room)),
                Ok(page) => match page.into_iter().find(|m| m.seq == seq && m.room == room) {
                    None => Err(Refusal::new(ErrorCode::MessageNotFound, "no such message").room(&room)),
                    Some(target) => self.run_op(pending.caller, &pending.user, &room, target, pending.op),
                },
            };
            self.answer(pending.caller, answer);
        }
        match self.targets.queues.get(&key).and_then(VecDeque::front) {
            Some(next) => {
                let (caller, user) = (next.caller, next.user.clone());
                self.load_target(caller, &user, room, seq);
            }
            None => {
                self.targets.queues.remove(&key);
            }
        }
    }

    fn run_op(&mut self, caller: Caller, user: &UserName, room: &RoomKey, target: Message, op: Op) -> Handled {
        let admin = matches!(op, Op::Delete { admin: true });
        if !admin && !self.is_member(user, room) {
            return Err(Refusal::new(ErrorCode::NotAMember, "you are not a member of this room").room(room));
        }
        match op {
            Op::Edit { content, client_id } => {
                self.edit_loaded(caller, user, target, content).map_err(|r| r.client_id(client_id))
            }
            Op::Delete { admin } => self.delete_loaded(caller, user, target, admin),
            Op::React { emoji, add } => self.react_loaded(caller, user, target, emoji, add),
            Op::Reply { content, client_id, attach } => {
                let quote = ReplyTo::of(&target);
                self.send(caller, user, &RoomRef::key(room), content, client_id, Some(Quote::Loaded(quote)), attach)
            }
        }
    }

    fn edit_loaded(&mut self, caller: Caller, user: &UserName, m: Message, content: String) -> Handled {
        let room = m.room.clone();
        if m.deleted {
            return Err(Refusal::new(ErrorCode::MessageDeleted, "that message was deleted").room(&room));
        }
        if m.sender != *user {
            return Err(Refusal::new(ErrorCode::NotAuthor, "only the sender edits a message").room(&room));
        }
        if let Some(window) = self.config.edit_window_ms
            && self.now.millis_since(m.timestamp) > window
        {
            let msg = format!("messages can be edited for {window} ms after sending");
            return Err(Refusal::new(ErrorCode::EditWindowPassed, msg).room(&room));
        }
        if m.content == content {
            return Ok(unchanged(m));
        }
        let mentions = self.resolve_mentions(&room, user, &content);
        let mut concerned: Vec<UserName> = m.mentions.iter().chain(&mentions).cloned().collect();
        concerned.extend(room.dm_peer(user).cloned());
        let before = self.counts_of(&room, m.seq, concerned);
        let edit = Edit {
            room: room.clone(),
            seq: m.seq,
            rev: self.next_rev(&room),
            sender: m.sender.clone(),
            timestamp: m.timestamp,
            content,
            mentions,
            previous_mentions: m.mentions,
            edited_at: self.now,
        };
        let event = ServerMsg::MessageEdited {
            room: room.clone(),
            seq: edit.seq,
            rev: edit.rev,
            content: edit.content.clone(),
            mentions: edit.mentions.clone(),
            edited_at: edit.edited_at,
        };
        self.persist(LogEntry::Edited(Box::new(edit)));
        Ok(self.announce(caller, &room, m.seq, event, before))
    }

    fn delete_loaded(&mut self, caller: Caller, user: &UserName, m: Message, admin: bool) -> Handled {
        let room = m.room.clone();
        let owner =
            self.state.rooms.get(&room).is_some_and(|r| r.kind == RoomKind::Private && r.owner.as_ref() == Some(user));
        if !(admin || m.sender == *user || owner) {
            let msg = "only the sender, or the owner of a private room, deletes a message";
            return Err(Refusal::new(ErrorCode::Forbidden, msg).room(&room));
        }
        if m.deleted {
            return Ok(unchanged(m));
        }
        // Everyone online who has not read it loses an unread message; the mentioned lose the
        // highlight and the notification (in a DM, the peer's notification goes).
        let mut concerned: Vec<UserName> = m.mentions.clone();
        concerned.extend(room.dm_peer(&m.sender).cloned());
        if let Some(r) = self.state.rooms.get(&room) {
            let unread = |u: &UserName| self.state.unread(u, &room).is_some_and(|c| c.read_seq < m.seq);
            concerned.extend(r.members.iter().filter(|u| self.sessions.is_online(u) && unread(u)).cloned());
        }
        let before = self.counts_of(&room, m.seq, concerned);
        let deletion = Deletion {
            room: room.clone(),
            seq: m.seq,
            rev: self.next_rev(&room),
            sender: m.sender,
            mentions: m.mentions,
            deleted_at: self.now,
        };
        let event =
            ServerMsg::MessageDeleted { room: room.clone(), seq: m.seq, rev: deletion.rev, deleted_at: self.now };
        self.persist(LogEntry::Deleted(Box::new(deletion)));
        Ok(self.announce(caller, &room, m.seq, event, before))
    }

    fn react_loaded(&mut self, caller: Caller, user: &UserName, m: Message, emoji: String, add: bool) -> Handled {
        let room = m.room.clone();
        if m.deleted {
            return Err(Refusal::new(ErrorCode::MessageDeleted, "that message was deleted").room(&room));
        }
        let group = m.reactions.iter().find(|g| g.emoji == emoji);
        if group.is_some_and(|g| g.users.contains(user)) == add {
            return Ok(unchanged(m)); // adding an existing reaction, removing a missing one
        }
        if add {
            let mine = m.reactions.iter().filter(|g| g.users.contains(user)).count();
            let total: usize = m.reactions.iter().map(|g| g.users.len()).sum();
            let too_many = if group.is_none() && m.reactions.len() >= MAX_DISTINCT_REACTIONS {
                Some(format!("a message has at most {MAX_DISTINCT_REACTIONS} different reactions"))
            } else if mine >= MAX_REACTIONS_PER_USER {
                Some(format!("at most {MAX_REACTIONS_PER_USER} reactions of yours per message"))
            } else if total >= MAX_REACTIONS_PER_MESSAGE {
                Some(format!("a message has at most {MAX_REACTIONS_PER_MESSAGE} reactions"))
            } else {
                None
            };
            if let Some(msg) = too_many {
                return Err(Refusal::new(ErrorCode::TooManyReactions, msg).room(&room));
            }
        }
        let rev = self.next_rev(&room);
        let event = ServerMsg::Reaction {
            room: room.clone(),
            seq: m.seq,
            rev,
            emoji: emoji.clone(),
            username: user.clone(),
            add,
        };
        let reaction = Reaction { room: room.clone(), seq: m.seq, rev, user: user.clone(), emoji, add };
        self.persist(LogEntry::Reacted(Box::new(reaction)));
        Ok(self.announce(caller, &room, m.seq, event, Vec::new()))
    }

    /// The `rev` the room's next event gets.
    pub(super) fn next_rev(&self, room: &RoomKey) -> u64 {
        self.state.rooms.get(room).map_or(1, |r| r.last_rev + 1)
    }

    fn counts_of(&self, room: &RoomKey, seq: u64, mut users: Vec<UserName>) -> Vec<Before> {
        users.sort_unstable();
        users.dedup();
        users
            .into_iter()
            .map(|user| Before {
                unread: self.state.unread(&user, room),
                notification: self.state.notification_about(&user, room, seq),
                user,
            })
            .collect()
    }

    /// Delivers a change to the room and tells each concerned member what moved: `read_state`
    /// when their counts changed, `notification_update {removed}` for a retracted notification,
    /// `mention_notification` for a new one. The caller's answer is the event (a member's
    /// session already gets it with the room).
    fn announce(&mut self, caller: Caller, room: &RoomKey, seq: u64, event: ServerMsg, before: Vec<Before>) -> Answer {
        let recipients = self.room_sessions(room);
        let event = std::sync::Arc::new(event);
        self.deliver(recipients.clone(), event.clone());
        for b in before {
            if !self.sessions.is_online(&b.user) {
                continue;
            }
            let unread = self.state.unread(&b.user, room);
            if unread != b.unread
                && let Some(u) = unread
            {
                let state = ServerMsg::ReadState {
                    room: room.clone(),
                    read_seq: u.read_seq,
                    unread: u.unread,
                    highlight: u.highlight,
                };
                self.deliver_to_user(&b.user, None, state);
            }
            let now = self.state.notification_about(&b.user, room, seq);
            let unread_notifications = self.unread_notifications(&b.user);
            match (b.notification, now) {
                (Some(id), None) => {
                    let update = ServerMsg::NotificationUpdate { unread: unread_notifications, removed: vec![id] };
                    self.deliver_to_user(&b.user, None, update);
                }
                (None, Some(id)) => {
                    if let Some(n) = self.state.notification(&b.user, id).cloned() {
                        self.deliver_to_user(&b.user, None, ServerMsg::MentionNotification(n));
                    }
                    let update = ServerMsg::NotificationUpdate { unread: unread_notifications, removed: Vec::new() };
                    self.deliver_to_user(&b.user, None, update);
                }
                _ => {}
            }
        }
        match caller {
            Caller::Session(s) if recipients.contains(&s) => Answer::Nothing,
            _ => Answer::Reply(ServerMsg::clone(&event)),
        }
    }
}

/// The answer to an operation that changed nothing: the message as it is.
fn unchanged(m: Message) -> Answer {
    Answer::Reply(ServerMsg::MessageUpdates { room: m.room.clone(), messages: vec![m], more: false, resume: false })
}
