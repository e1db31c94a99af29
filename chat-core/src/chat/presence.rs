//! Sessions coming and going, presence (`room_users_update`), typing, and room summaries.

use std::sync::Arc;

use super::{Answer, Caller, Chat, Handled, Refusal};
use crate::error::ErrorCode;
use crate::name::UserName;
use crate::protocol::{MemberRead, RoomInfo, RoomSummary, ServerMsg, UserPresence};
use crate::room::{RoomKey, RoomKind, RoomRef};
use crate::session::SessionId;
use crate::snapshot::RoomState;

impl Chat {
    pub(super) fn connect(&mut self, session: SessionId, user: UserName) {
        if self.sessions.contains_key(&session) {
            return; // A driver bug (reused id); ignore rather than corrupt presence.
        }
        self.ensure_user(&user);
        let mut s = self.new_session(session, user.clone());
        let rooms: Vec<RoomKey> =
            self.state.users.get(&user).map(|u| u.rooms.iter().cloned().collect()).unwrap_or_default();
        for room in &rooms {
            if let Some(r) = self.state.rooms.get(room) {
                s.watermarks.insert(room.clone(), r.last_seq);
            }
        }
        self.sessions.insert(session, s);
        let sessions = self.online.entry(user.clone()).or_default();
        sessions.push(session);
        let came_online = sessions.len() == 1;
        for room in &rooms {
            self.room_sessions.remove(room);
        }

        let summaries = self.summaries(&user);
        let unread_notifications = self.state.users.get(&user).map_or(0, |u| u.unread_notifications);
        let welcome =
            ServerMsg::Connected { session: session.0, username: user.clone(), rooms: summaries, unread_notifications };
        self.send_to_session(session, welcome);
        if came_online {
            for room in &rooms {
                self.broadcast_presence(room);
            }
        }
    }

    pub(super) fn disconnect(&mut self, session: SessionId) {
        let Some(s) = self.sessions.remove(&session) else { return };
        let user = s.user;
        let went_offline = match self.online.get_mut(&user) {
            Some(list) => {
                list.retain(|x| *x != session);
                list.is_empty()
            }
            None => false,
        };
        let rooms: Vec<RoomKey> =
            self.state.users.get(&user).map(|u| u.rooms.iter().cloned().collect()).unwrap_or_default();
        for room in &rooms {
            self.room_sessions.remove(room);
        }
        if went_offline {
            self.online.remove(&user);
            for room in self.typing.rooms_of(&user) {
                self.typing.stop(&room, &user);
                let msg = ServerMsg::Typing { room: room.clone(), username: user.clone(), active: false };
                self.deliver_to_room(&room, None, None, msg);
            }
            for room in &rooms {
                self.broadcast_presence(room);
            }
        }
    }

    /// Member sessions of a room (cached until membership or presence changes).
    pub(crate) fn room_sessions(&mut self, room: &RoomKey) -> Arc<[SessionId]> {
        if let Some(cached) = self.room_sessions.get(room) {
            return cached.clone();
        }
        let sessions: Arc<[SessionId]> = match self.state.rooms.get(room) {
            Some(r) => r.members.iter().filter_map(|m| self.online.get(m)).flat_map(|s| s.iter().copied()).collect(),
            None => Arc::from([]),
        };
        self.room_sessions.insert(room.clone(), sessions.clone());
        sessions
    }

    /// Forgets cached recipients of a room (after a membership change).
    pub(crate) fn invalidate_room(&mut self, room: &RoomKey) {
        self.room_sessions.remove(room);
    }

    /// Members of a room with presence.
    pub(crate) fn presence(&self, room: &RoomKey) -> Vec<UserPresence> {
        self.state.rooms.get(room).map_or_else(Vec::new, |r| {
            r.members
                .iter()
                .map(|m| UserPresence { username: m.clone(), online: self.online.contains_key(m) })
                .collect()
        })
    }

    /// Sends `room_users_update` to the room's member sessions.
    pub(crate) fn broadcast_presence(&mut self, room: &RoomKey) {
        let msg = ServerMsg::RoomUsersUpdate { room: room.clone(), users: self.presence(room) };
        self.deliver_to_room(room, None, None, msg);
    }

    /// The user's rooms as they see them (what `connected` carries).
    pub fn summaries(&self, user: &UserName) -> Vec<RoomSummary> {
        let Some(u) = self.state.users.get(user) else { return Vec::new() };
        u.rooms.iter().filter_map(|room| self.summary(user, room)).collect()
    }

    /// How `user` sees `room`, if they are a member.
    pub fn summary(&self, user: &UserName, room: &RoomKey) -> Option<RoomSummary> {
        let r = self.state.rooms.get(room)?;
        let unread = self.state.unread(user, room)?;
        Some(RoomSummary {
            room: room.clone(),
            kind: r.kind,
            owner: r.owner.clone(),
            last_seq: r.last_seq,
            last_timestamp: r.last_timestamp,
            read_seq: unread.read_seq,
            unread: unread.unread,
            highlight: unread.highlight,
            users: self.presence(room),
            read_receipts: r
                .members
                .iter()
                .filter(|m| *m != user)
                .filter_map(|m| {
                    let seq = self.state.reads.get(&(m.clone(), room.clone()))?.seq;
                    Some(MemberRead { username: m.clone(), seq })
                })
                .collect(),
        })
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
            let except = match caller {
                Caller::Session(s) => Some(s),
                Caller::Request(_) => None,
            };
            self.deliver_to_room(&room, Some(user), except, msg);
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

    /// The public rooms, sorted by key, at most `max_list_len`.
    pub(super) fn room_list(&self) -> ServerMsg {
        let mut public: Vec<(&RoomKey, &RoomState)> =
            self.state.rooms.iter().filter(|(_, r)| r.kind == RoomKind::Public).collect();
        public.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let rooms = public
            .into_iter()
            .take(self.config.max_list_len)
            .map(|(key, r)| RoomInfo { room: key.clone(), members: r.members.len(), last_timestamp: r.last_timestamp })
            .collect();
        ServerMsg::RoomList { rooms }
    }

    /// Known users, sorted by name, at most `max_list_len`.
    pub(super) fn user_list(&self) -> ServerMsg {
        let mut names: Vec<&UserName> = self.state.users.keys().collect();
        names.sort_unstable();
        let users = names
            .into_iter()
            .take(self.config.max_list_len)
            .map(|u| UserPresence { username: u.clone(), online: self.online.contains_key(u) })
            .collect();
        ServerMsg::UserList { users }
    }

    /// Resolves a room reference the caller must be a member of.
    pub(crate) fn member_room(&mut self, user: &UserName, room: &RoomRef) -> Result<RoomKey, Refusal> {
        let key = self.resolve(user, room)?;
        if self.is_member(user, &key) {
            Ok(key)
        } else if self.state.rooms.contains_key(&key) {
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
