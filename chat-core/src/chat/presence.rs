//! Sessions coming and going, presence (`room_users_update`), typing, room summaries, and room
//! resolution. The directory (`list_rooms`, `list_users`) is in `directory.rs`.

use std::ops::Bound;
use std::sync::Arc;

use super::{Answer, Caller, Chat, CloseReason, Handled, Output, Refusal};
use crate::error::ErrorCode;
use crate::name::UserName;
use crate::protocol::{MemberRead, RoomSummary, SUMMARY_PAGE, ServerMsg, UserPresence};
use crate::room::{RoomKey, RoomKind, RoomRef};
use crate::session::{SessionId, TooManySessions};

impl Chat {
    pub(super) fn connect(&mut self, session: SessionId, user: UserName) {
        if self.sessions.contains_key(&session) {
            return; // A driver bug (reused id); ignore rather than corrupt presence.
        }
        self.ensure_user(&user);
        let max = self.config.max_sessions_per_user;
        let bucket = match self.sessions.has_room_for(&user, max) {
            true => self.limits.slot(self.now, &user, self.rates()),
            false => usize::MAX,
        };
        let came_online = match self.sessions.insert(session, user.clone(), max, bucket) {
            Ok(came_online) => came_online,
            Err(TooManySessions) => {
                let refusal = Refusal::new(ErrorCode::TooManySessions, format!("at most {max} sessions per user"));
                self.send_to_session(session, refusal.into_msg());
                self.outputs.push_back(Output::Close { session, reason: CloseReason::TooManySessions });
                return;
            }
        };
        let rooms: Vec<RoomKey> =
            self.state.users.get(&user).map(|u| u.rooms.iter().cloned().collect()).unwrap_or_default();
        if let Some(s) = self.sessions.get_mut(&session) {
            for room in &rooms {
                if let Some(r) = self.state.rooms.get(room) {
                    s.watermarks.insert(room.clone(), r.last_seq);
                }
            }
        }
        for room in &rooms {
            self.invalidate_room(room);
        }

        // Bounded: pages of light summaries (no member lists), never one event per room.
        let mut pages = self.summaries(&user).into_iter();
        let first: Vec<RoomSummary> = pages.by_ref().take(SUMMARY_PAGE).collect();
        let mut rest: Vec<RoomSummary> = pages.collect();
        let welcome = ServerMsg::Connected {
            session: session.0,
            username: user.clone(),
            rooms: first,
            more_rooms: !rest.is_empty(),
            invitations: self.state.users.get(&user).map_or_else(Vec::new, |u| u.invitations.clone()),
            unread_notifications: self.unread_notifications(&user),
        };
        self.send_to_session(session, welcome);
        while !rest.is_empty() {
            let tail = rest.split_off(rest.len().min(SUMMARY_PAGE));
            let page = std::mem::replace(&mut rest, tail);
            self.send_to_session(session, ServerMsg::RoomSummaries { rooms: page, more: !rest.is_empty() });
        }
        if came_online {
            self.announce_presence(&user, &rooms, true);
        }
    }

    pub(super) fn disconnect(&mut self, session: SessionId) {
        let Some((s, went_offline)) = self.sessions.remove(session) else { return };
        let user = s.user;
        let rooms: Vec<RoomKey> =
            self.state.users.get(&user).map(|u| u.rooms.iter().cloned().collect()).unwrap_or_default();
        for room in &rooms {
            self.invalidate_room(room);
        }
        if went_offline {
            self.limits.forget_if_full(self.now, &user);
            for room in self.typing.rooms_of(&user) {
                self.typing.stop(&room, &user);
                let msg = ServerMsg::Typing { room: room.clone(), username: user.clone(), active: false };
                self.deliver_to_room(&room, None, None, msg);
            }
            self.announce_presence(&user, &rooms, false);
        }
    }

    /// Members of a room with presence.
    pub(crate) fn presence(&self, room: &RoomKey) -> Vec<UserPresence> {
        self.state.rooms.get(room).map_or_else(Vec::new, |r| {
            r.members.iter().map(|m| UserPresence { username: m.clone(), online: self.sessions.is_online(m) }).collect()
        })
    }

    /// Tells every online session that shares one of `rooms` with `user` (theirs excepted) that
    /// the user came online or went offline: one `presence` event, whatever the number of rooms.
    fn announce_presence(&mut self, user: &UserName, rooms: &[RoomKey], online: bool) {
        let own = self.sessions_of(user).to_vec();
        let mut recipients: Vec<SessionId> = Vec::new();
        for room in rooms {
            recipients.extend(self.room_sessions(room).iter().filter(|s| !own.contains(s)));
        }
        recipients.sort_unstable();
        recipients.dedup();
        let msg = ServerMsg::Presence { username: user.clone(), online };
        self.deliver(recipients.into(), Arc::new(msg));
    }

    /// The user's rooms as they see them, without member lists (what `connected` carries).
    pub fn summaries(&self, user: &UserName) -> Vec<RoomSummary> {
        let Some(u) = self.state.users.get(user) else { return Vec::new() };
        u.rooms.iter().filter_map(|room| self.light_summary(user, room)).collect()
    }

    /// How `user` sees `room`, with its members and their read cursors, if they are a member
    /// (what `room_joined` carries).
    pub fn summary(&self, user: &UserName, room: &RoomKey) -> Option<RoomSummary> {
        let mut summary = self.light_summary(user, room)?;
        summary.users = self.presence(room);
        summary.read_receipts = self.read_receipts(user, room);
        Some(summary)
    }

    /// How `user` sees `room` without member lists: O(1) in the room's size.
    fn light_summary(&self, user: &UserName, room: &RoomKey) -> Option<RoomSummary> {
        let r = self.state.rooms.get(room)?;
        let unread = self.state.unread(user, room)?;
        let owns = r.owner.as_ref() == Some(user);
        Some(RoomSummary {
            room: room.clone(),
            kind: r.kind,
            owner: r.owner.clone(),
            last_seq: r.last_seq,
            last_timestamp: r.last_timestamp,
            read_seq: unread.read_seq,
            unread: unread.unread,
            highlight: unread.highlight,
            users: Vec::new(),
            read_receipts: Vec::new(),
            can_invite: match r.kind {
                RoomKind::Public => true,
                RoomKind::Private => owns,
                RoomKind::Dm => false,
            },
            can_leave: r.kind != RoomKind::Dm && !owns,
            can_remove: r.kind == RoomKind::Private && owns,
        })
    }

    /// The other members' read cursors in `room`.
    fn read_receipts(&self, user: &UserName, room: &RoomKey) -> Vec<MemberRead> {
        let Some(r) = self.state.rooms.get(room) else { return Vec::new() };
        r.members
            .iter()
            .filter(|m| *m != user)
            .filter_map(|m| {
                let seq = self.state.reads.get(&(m.clone(), room.clone()))?.seq;
                Some(MemberRead { username: m.clone(), seq })
            })
            .collect()
    }

    /// `room_users`: the full member list of a room the caller belongs to.
    pub(super) fn room_users(&mut self, user: &UserName, room: &RoomRef) -> Handled {
        let key = self.member_room(user, room)?;
        Ok(Answer::Reply(self.room_users_update(user, &key)))
    }

    /// A room's members with presence and the other members' read cursors, as `user` sees it.
    pub(crate) fn room_users_update(&self, user: &UserName, room: &RoomKey) -> ServerMsg {
        ServerMsg::RoomUsersUpdate {
            room: room.clone(),
            users: self.presence(room),
            read_receipts: self.read_receipts(user, room),
        }
    }

    /// `my_rooms`: a page of the caller's rooms in key order, after `after`.
    pub(super) fn my_rooms(&self, user: &UserName, after: Option<&str>, limit: Option<u32>) -> Handled {
        let limit = limit.unwrap_or(SUMMARY_PAGE as u32) as usize;
        if limit == 0 || limit > SUMMARY_PAGE {
            return Err(Refusal::new(ErrorCode::InvalidRequest, format!("limit must be 1-{SUMMARY_PAGE}")));
        }
        let after: Option<RoomKey> = match after {
            Some(a) => Some(a.parse().map_err(|e| Refusal::new(ErrorCode::InvalidRequest, format!("after: {e}")))?),
            None => None,
        };
        let unread_notifications = self.unread_notifications(user);
        let Some(u) = self.state.users.get(user) else {
            return Ok(Answer::Reply(ServerMsg::Rooms { rooms: Vec::new(), unread_notifications, more: false }));
        };
        let range = match &after {
            Some(a) => u.rooms.range::<RoomKey, _>((Bound::Excluded(a), Bound::Unbounded)),
            None => u.rooms.range::<RoomKey, _>(..),
        };
        let mut keys = range.take(limit + 1);
        let rooms: Vec<RoomSummary> =
            keys.by_ref().take(limit).filter_map(|room| self.light_summary(user, room)).collect();
        let more = keys.next().is_some();
        Ok(Answer::Reply(ServerMsg::Rooms { rooms, unread_notifications, more }))
    }

    pub(super) fn typing(&mut self, caller: Caller, user: &UserName, room: &RoomRef, active: bool) -> Handled {
        let room = self.member_room(user, room)?;
        let changed = if active {
            let deadline = self.now.plus_millis(self.config.typing_ttl_ms);
            self.typing.start(&room, user, deadline)
        } else {
            self.typing.stop(&room, user)
        };
        if changed {
            let msg = ServerMsg::Typing { room: room.clone(), username: user.clone(), active };
            self.deliver_to_room(&room, Some(user), caller.session(), msg);
        }
        Ok(Answer::Nothing)
    }

    pub(super) fn expire_typing(&mut self) {
        for (room, user) in self.typing.expire(self.now) {
            let msg = ServerMsg::Typing { room: room.clone(), username: user.clone(), active: false };
            self.deliver_to_room(&room, Some(&user), None, msg);
        }
    }

    /// Stops a typing indicator silently (a message from the user ends it; clients clear it
    /// when they see the message).
    pub(crate) fn stop_typing_quietly(&mut self, room: &RoomKey, user: &UserName) {
        if !self.typing.is_empty() {
            self.typing.stop(room, user);
        }
    }

    /// Resolves a room reference the caller must be a member of.
    pub(crate) fn member_room(&mut self, user: &UserName, room: &RoomRef) -> Result<RoomKey, Refusal> {
        let key = self.resolve(user, room)?;
        if self.is_member(user, &key) {
            Ok(key)
        } else if self.state.rooms.get(&key).is_some_and(|r| r.kind != RoomKind::Private) {
            Err(Refusal::new(ErrorCode::NotAMember, "you are not a member of this room").room(&key))
        } else {
            Err(Refusal::new(ErrorCode::RoomNotFound, "no such room").room(&key))
        }
    }

    /// Resolves a room reference; a DM key must include the caller.
    pub(crate) fn resolve(&mut self, user: &UserName, room: &RoomRef) -> Result<RoomKey, Refusal> {
        // Canonical keys of existing rooms are cached: no parse or allocation on the hot path.
        let cached = room.room.as_deref().and_then(|s| self.room_keys.get(s)).cloned();
        let key = match cached {
            Some(key) => key,
            None => {
                let key = room.resolve(user).map_err(|e| {
                    Refusal::new(ErrorCode::InvalidRoom, e.to_string()).room(room.room.as_deref().unwrap_or(""))
                })?;
                if let Some(s) = room.room.as_deref()
                    && self.state.rooms.contains_key(&key)
                    && key.to_string() == s
                {
                    // Bounded by the number of rooms: only canonical spellings are cached.
                    self.room_keys.insert(s.into(), key.clone());
                }
                key
            }
        };
        if let RoomKey::Dm(a, b) = &key
            && a != user
            && b != user
        {
            return Err(Refusal::new(ErrorCode::Forbidden, "that is someone else's conversation").room(&key));
        }
        Ok(key)
    }
}
