//! Sending messages (mentions, idempotency, notifications) and reading them (cursors, receipts,
//! the notification inbox).

use std::sync::Arc;

use super::attachments::Attach;
use super::{Answer, Caller, Chat, Handled, Refusal};
use crate::error::ErrorCode;
use crate::log::{LogEntry, Message, ReplyTo};
use crate::mention::{MentionTarget, mentions};
use crate::name::UserName;
use crate::protocol::{DEFAULT_HISTORY_LIMIT, MAX_CLIENT_ID_LEN, MAX_HISTORY_LIMIT, ServerMsg};
use crate::room::{RoomKey, RoomRef};

/// Most ids one `mark_notifications_read` may name.
const MAX_NOTIFICATION_IDS: usize = 1_000;

/// What a reply quotes: the answered `seq` as asked (loaded first), or its loaded quote.
#[derive(Debug, Clone)]
pub(crate) enum Quote {
    Seq(u64),
    Loaded(ReplyTo),
}

impl Chat {
    #[allow(clippy::too_many_arguments)] // the fields of a `send_message`, checked here once
    pub(super) fn send(
        &mut self,
        caller: Caller,
        user: &UserName,
        room: &RoomRef,
        content: String,
        client_id: Option<String>,
        quote: Option<Quote>,
        attach: Attach,
    ) -> Handled {
        let refuse = |code, msg: &str| Refusal::new(code, msg).client_id(client_id.clone());
        if let Some(id) = &client_id {
            if id.is_empty() || id.len() > MAX_CLIENT_ID_LEN {
                return Err(refuse(ErrorCode::InvalidRequest, "client_id must be 1-64 bytes"));
            }
            if let Some(original) = self.state.client_id(user, id) {
                return Ok(Answer::Reply(ServerMsg::Ack {
                    room: original.room.clone(),
                    seq: original.seq,
                    timestamp: original.timestamp,
                    client_id: client_id.clone(),
                    duplicate: true,
                }));
            }
        }
        let key = self.resolve(user, room).map_err(|r| r.client_id(client_id.clone()))?;
        // A message may be only attachments.
        if attach.is_empty() || !content.trim().is_empty() {
            self.check_content(&key, &content).map_err(|r| r.client_id(client_id.clone()))?;
        }
        if let Attach::Ids(ids) = &attach {
            self.check_attachment_ids(ids).map_err(|r| r.room(&key).client_id(client_id.clone()))?;
        }
        if key.is_dm() && !self.state.rooms.contains_key(&key) {
            self.open_dm(caller, user, &key).map_err(|r| r.client_id(client_id.clone()))?;
        }
        let Some(r) = self.state.rooms.get(&key) else {
            return Err(refuse(ErrorCode::RoomNotFound, "no such room").room(&key));
        };
        let (last_seq, last_rev) = (r.last_seq, r.last_rev);
        if !self.state.is_member(user, &key) {
            return Err(refuse(ErrorCode::NotAMember, "join the room first").room(&key));
        }
        let attach = match attach {
            Attach::Ids(ids) if !ids.is_empty() => {
                // Who uploaded what is the driver's to say: send once it has resolved the ids.
                self.start_resolving(caller, user, RoomRef::key(&key), content, client_id, quote, ids);
                return Ok(Answer::Pending);
            }
            other => other,
        };
        let reply_to = match quote {
            None => None,
            Some(Quote::Loaded(quote)) => Some(Box::new(quote)),
            Some(Quote::Seq(seq)) => {
                if seq == 0 || seq > last_seq {
                    return Err(refuse(ErrorCode::MessageNotFound, "no message with that seq in this room").room(&key));
                }
                // The quote needs the target's text: send once it is loaded.
                let op = super::lifecycle::Op::Reply { content, client_id: client_id.clone(), attach };
                return self.start_op(caller, user, key, seq, op).map_err(|r| r.client_id(client_id));
            }
        };

        let mentioned = self.resolve_mentions(&key, user, &content);
        let notified: Vec<UserName> = match key.dm_peer(user) {
            Some(peer) => vec![peer.clone()],
            None => mentioned.clone(),
        };
        let ack = ServerMsg::Ack {
            room: key.clone(),
            seq: last_seq + 1,
            timestamp: self.now,
            client_id: client_id.clone(),
            duplicate: false,
        };
        // Built in place in its allocation: a `Message` is large, and every move is a copy.
        let message = Arc::new(Message {
            room: key.clone(),
            seq: last_seq + 1,
            rev: last_rev + 1,
            changed_rev: 0,
            timestamp: self.now,
            sender: user.clone(),
            content,
            mentions: mentioned,
            client_id,
            edited_at: None,
            deleted: false,
            deleted_at: None,
            reply_to,
            reactions: Vec::new(),
            attachments: match attach {
                Attach::Resolved(list) => list,
                Attach::Ids(_) => Vec::new(),
            },
        });
        let event = Arc::new(ServerMsg::Message(message.clone()));
        self.persist(LogEntry::Message(message));
        self.stop_typing_quietly(&key, user);
        let recipients = self.room_sessions(&key);
        self.deliver(recipients, event);
        for target in &notified {
            self.notify(target);
        }
        Ok(Answer::Reply(ack))
    }

    /// Refuses text that `send_message` (and `edit_message`) would not store.
    pub(super) fn check_content(&self, key: &RoomKey, content: &str) -> Result<(), Refusal> {
        if content.trim().is_empty() {
            return Err(Refusal::new(ErrorCode::EmptyMessage, "message is empty").room(key));
        }
        let max = self.config.max_message_chars;
        if content.len() > max && content.chars().count() > max {
            let msg = format!("message is longer than {max} characters");
            return Err(Refusal::new(ErrorCode::MessageTooLong, msg).room(key));
        }
        if let Some(c) = refused_char(content) {
            let msg = format!("message contains a refused control character (U+{:04X})", u32::from(c));
            return Err(Refusal::new(ErrorCode::InvalidContent, msg).room(key));
        }
        Ok(())
    }

    /// Room members named by the text's mentions, excluding the sender, each once, in order.
    pub(super) fn resolve_mentions(&self, room: &RoomKey, sender: &UserName, content: &str) -> Vec<UserName> {
        let mut out: Vec<UserName> = Vec::new();
        if !content.contains('@') {
            return out;
        }
        let Some(r) = self.state.rooms.get(room) else { return out };
        let push = |u: &UserName, out: &mut Vec<UserName>| {
            if u != sender && !out.contains(u) {
                out.push(u.clone());
            }
        };
        for m in mentions(content) {
            match m.target {
                MentionTarget::User(name) => {
                    if let Ok(name) = UserName::new(name)
                        && r.members.contains(&name)
                    {
                        push(&name, &mut out);
                    }
                }
                MentionTarget::Room => r.members.iter().for_each(|u| push(u, &mut out)),
                MentionTarget::Here => {
                    r.members.iter().filter(|u| self.sessions.is_online(u)).for_each(|u| push(u, &mut out))
                }
            }
        }
        out
    }

    /// Tells `user`'s sessions about their newest notification and the new count.
    fn notify(&mut self, user: &UserName) {
        if !self.sessions.is_online(user) {
            return;
        }
        if let Some(n) = self.state.newest_notification(user) {
            let n = n.clone();
            self.deliver_to_user(user, None, ServerMsg::MentionNotification(n));
        }
        let unread = self.unread_notifications(user);
        self.deliver_to_user(user, None, ServerMsg::NotificationUpdate { unread, removed: Vec::new() });
    }

    pub(super) fn mark_read(&mut self, caller: Caller, user: &UserName, room: &RoomRef, seq: Option<u64>) -> Handled {
        let key = self.member_room(user, room)?;
        let last_seq = self.state.rooms.get(&key).map_or(0, |r| r.last_seq);
        let target = seq.unwrap_or(last_seq).min(last_seq);
        let current = self.state.unread(user, &key).map_or(0, |u| u.read_seq);
        if target > current {
            self.persist(LogEntry::ReadCursor { user: user.clone(), room: key.clone(), seq: target });
            let state = self.read_state(user, &key);
            self.deliver_to_user(user, caller.session(), state);
            let receipt = ServerMsg::ReadReceipt { room: key.clone(), username: user.clone(), seq: target };
            self.deliver_to_room(&key, Some(user), None, receipt);
        }
        Ok(Answer::Reply(self.read_state(user, &key)))
    }

    fn read_state(&self, user: &UserName, room: &RoomKey) -> ServerMsg {
        let u = self.state.unread(user, room).unwrap_or_default();
        ServerMsg::ReadState { room: room.clone(), read_seq: u.read_seq, unread: u.unread, highlight: u.highlight }
    }

    pub(super) fn list_notifications(&self, user: &UserName, limit: Option<u32>) -> Handled {
        let limit = limit.unwrap_or(DEFAULT_HISTORY_LIMIT);
        if limit == 0 || limit > MAX_HISTORY_LIMIT {
            return Err(Refusal::new(ErrorCode::InvalidRequest, "limit must be 1-100"));
        }
        let items = self.state.notifications_of(user, limit as usize);
        let unread = self.unread_notifications(user);
        Ok(Answer::Reply(ServerMsg::Notifications { items, unread }))
    }

    pub(super) fn mark_notifications_read(
        &mut self,
        caller: Caller,
        user: &UserName,
        ids: Option<Vec<u64>>,
    ) -> Handled {
        if ids.as_ref().is_some_and(|ids| ids.len() > MAX_NOTIFICATION_IDS) {
            return Err(Refusal::new(ErrorCode::InvalidRequest, "too many ids (at most 1000)"));
        }
        let any_unread = match &ids {
            None => self.state.users.get(user).is_some_and(|u| u.unread_notifications > 0),
            Some(ids) => ids.iter().any(|id| self.state.notification(user, *id).is_some_and(|n| !n.read)),
        };
        let unread_before = self.unread_notifications(user);
        if any_unread {
            self.persist(LogEntry::NotificationsRead { user: user.clone(), ids });
        }
        let unread = self.unread_notifications(user);
        if unread != unread_before {
            let update = ServerMsg::NotificationUpdate { unread, removed: Vec::new() };
            self.deliver_to_user(user, caller.session(), update);
        }
        Ok(Answer::Reply(ServerMsg::NotificationUpdate { unread, removed: Vec::new() }))
    }
}

/// The first character of `content` the server refuses in messages, if any: C0 controls other
/// than tab, newline and carriage return; DEL; C1 controls (U+0080–U+009F); and the bidi
/// embedding, override and isolate controls (U+202A–U+202E, U+2066–U+2069), which reorder the
/// text that follows them (`evil \u{202E}gnp.exe`). Marks (LRM, RLM, ALM) and zero-width
/// joiners stay allowed: scripts and emoji need them, and clients isolate every user string.
///
/// Plain printable ASCII (the common case) is cleared eight bytes at a time; anything else
/// (a newline, a tab, non-ASCII text) takes a scan by character.
pub(crate) fn refused_char(content: &str) -> Option<char> {
    if printable_ascii(content.as_bytes()) {
        return None;
    }
    content.chars().find(|&c| {
        let c32 = u32::from(c);
        (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
            || (0x202a..=0x202e).contains(&c32)
            || (0x2066..=0x2069).contains(&c32)
    })
}

/// Whether every byte is in 0x20..=0x7e.
fn printable_ascii(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut words = bytes.chunks_exact(8);
    for chunk in words.by_ref() {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        let w = u64::from_le_bytes(w);
        // A byte >= 0x80, a byte < 0x20, or a byte == 0x7f (the classic "has less than" and
        // "has zero" tricks: exact about whether such a byte exists).
        let below = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
        let del = {
            let x = w ^ (ONES * 0x7f);
            x.wrapping_sub(ONES) & !x & HIGH
        };
        if (w & HIGH) | below | del != 0 {
            return false;
        }
    }
    words.remainder().iter().all(|&b| (0x20..0x7f).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::{printable_ascii, refused_char};

    #[test]
    fn printable_ascii_is_exact_at_every_position() {
        for b in 0u8..=255 {
            for pos in 0..17 {
                let mut bytes = vec![b'a'; 17];
                bytes[pos] = b;
                assert_eq!(printable_ascii(&bytes), (0x20..0x7f).contains(&b), "byte {b:#x} at {pos}");
            }
        }
    }

    #[test]
    fn refused_characters_are_exactly_the_documented_ones() {
        for c in (0u32..0x20).filter(|c| ![9, 10, 13].contains(c)).chain([0x7f]).chain(0x80..0xa0) {
            let c = char::from_u32(c).unwrap();
            assert_eq!(refused_char(&format!("a{c}b")), Some(c), "U+{:04X}", u32::from(c));
        }
        for c in (0x202a..=0x202e).chain(0x2066..=0x2069) {
            let c = char::from_u32(c).unwrap();
            assert_eq!(refused_char(&format!("evil {c}gnp.exe")), Some(c));
        }
        for ok in [
            "plain",
            "tab\tnew\nline\r\n",
            "\u{200e}\u{200f}\u{61c}",
            "👩\u{200d}💻 \u{200c}",
            "é ü ß – “quotes” ✓",
            "\u{a0}",
        ] {
            assert_eq!(refused_char(ok), None, "{ok:?}");
        }
    }
}
