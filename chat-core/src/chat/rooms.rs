//! Membership: join, leave, create, invite, remove.

use super::{Answer, Caller, Chat, Handled, Refusal};
use crate::error::ErrorCode;
use crate::log::LogEntry;
use crate::name::{RoomName, UserName};
use crate::protocol::{LeaveReason, ServerMsg};
use crate::room::{RoomKey, RoomKind, RoomRef};

impl Chat {
    pub(super) fn join(&mut self, caller: Caller, user: &UserName, room: &RoomRef) -> Handled {
        let key = self.resolve(user, room)?;
        if self.is_member(user, &key) {
            return self.joined_answer(user, &key);
        }
        match &key {
            RoomKey::Dm(..) => {
                self.open_dm(caller, user, &key)?;
            }
            RoomKey::Group(_) => {
                match self.state.rooms.get(&key) {
                    None => {
                        if let RoomKey::Group(name) = &key {
                            RoomName::parse_new(name.as_str())
                                .map_err(|e| Refusal::new(ErrorCode::InvalidRoom, e.to_string()).room(&key))?;
                        }
                        let created = LogEntry::RoomCreated {
                            room: key.clone(),
                            kind: RoomKind::Public,
                            owner: None,
                            timestamp: self.now,
                        };
                        self.persist(created);
                    }
                    Some(r) if r.kind == RoomKind::Private => {
                        return Err(Refusal::new(ErrorCode::Forbidden, "this room is invite-only").room(&key));
                    }
                    Some(r) if r.members.len() >= self.config.max_room_members => {
                        return Err(Refusal::new(ErrorCode::RoomFull, "this room is full").room(&key));
                    }
                    Some(_) => {}
                }
                self.add_member(caller, &key, user);
            }
        }
        self.joined_answer(user, &key)
    }

    /// Creates the DM room between `user` and the peer in `key` if needed (both become members).
    pub(crate) fn open_dm(&mut self, caller: Caller, user: &UserName, key: &RoomKey) -> Result<(), Refusal> {
        if self.state.rooms.contains_key(key) {
            return Ok(());
        }
        let Some(peer) = key.dm_peer(user).cloned() else {
            return Err(Refusal::new(ErrorCode::Forbidden, "that is someone else's conversation").room(key));
        };
        if !self.state.users.contains_key(&peer) {
            return Err(Refusal::new(ErrorCode::UnknownUser, format!("no user named '{peer}'")).room(key));
        }
        self.persist(LogEntry::RoomCreated { room: key.clone(), kind: RoomKind::Dm, owner: None, timestamp: self.now });
        self.add_member(caller, key, user);
        self.add_member(caller, key, &peer);
        Ok(())
    }

    /// Persists a membership and tells everyone concerned: the new member's sessions get
    /// `room_joined` (except the calling session, which gets the direct answer), the room's other
    /// members get `member_joined`.
    fn add_member(&mut self, caller: Caller, room: &RoomKey, user: &UserName) {
        self.persist(LogEntry::MemberAdded { room: room.clone(), user: user.clone() });
        self.invalidate_room(room);
        let last_seq = self.state.rooms.get(room).map_or(0, |r| r.last_seq);
        self.sessions.for_each_of(user, |s| {
            s.watermarks.insert(room.clone(), last_seq);
        });
        if let Some(summary) = self.summary(user, room) {
            let except = self.own_session(caller, user);
            self.deliver_to_user(user, except, ServerMsg::RoomJoined(summary));
        }
        let joined =
            ServerMsg::MemberJoined { room: room.clone(), username: user.clone(), online: self.is_online(user) };
        self.deliver_to_room(room, Some(user), None, joined);
        self.legacy_member_list(room);
    }

    /// Transitional, until the web UI keeps member lists from `member_joined` / `member_left`:
    /// the full list to the room's sessions after a membership change (a user's action, rate
    /// limited; never on connect or disconnect).
    fn legacy_member_list(&mut self, room: &RoomKey) {
        let msg =
            ServerMsg::RoomUsersUpdate { room: room.clone(), users: self.presence(room), read_receipts: Vec::new() };
        self.deliver_to_room(room, None, None, msg);
    }

    fn joined_answer(&self, user: &UserName, room: &RoomKey) -> Handled {
        match self.summary(user, room) {
            Some(summary) => Ok(Answer::Reply(ServerMsg::RoomJoined(summary))),
            None => Err(Refusal::new(ErrorCode::Internal, "membership not found").room(room)),
        }
    }

    pub(super) fn leave(&mut self, caller: Caller, user: &UserName, room: &RoomRef) -> Handled {
        let key = self.member_room(user, room)?;
        if key.is_dm() {
            return Err(Refusal::new(ErrorCode::CannotLeaveDm, "direct conversations cannot be left").room(&key));
        }
        if self.state.rooms.get(&key).and_then(|r| r.owner.as_ref()) == Some(user) {
            return Err(Refusal::new(ErrorCode::OwnerCannotLeave, "the owner cannot leave a private room").room(&key));
        }
        self.remove_member(caller, &key, user, LeaveReason::Left);
        Ok(Answer::Reply(ServerMsg::RoomLeft { room: key, reason: LeaveReason::Left }))
    }

    fn remove_member(&mut self, caller: Caller, room: &RoomKey, user: &UserName, reason: LeaveReason) {
        // Tell the member's sessions while they are still recipients.
        let except = self.own_session(caller, user);
        self.deliver_to_user(user, except, ServerMsg::RoomLeft { room: room.clone(), reason });
        self.persist(LogEntry::MemberRemoved { room: room.clone(), user: user.clone() });
        self.invalidate_room(room);
        self.sessions.for_each_of(user, |s| {
            s.watermarks.remove(room);
        });
        if self.typing.stop(room, user) {
            let msg = ServerMsg::Typing { room: room.clone(), username: user.clone(), active: false };
            self.deliver_to_room(room, None, None, msg);
        }
        let left = ServerMsg::MemberLeft { room: room.clone(), username: user.clone(), reason };
        self.deliver_to_room(room, None, None, left);
        self.legacy_member_list(room);
    }

    pub(super) fn create_room(&mut self, caller: Caller, user: &UserName, name: &str, private: bool) -> Handled {
        let name = RoomName::parse_new(name).map_err(|e| Refusal::new(ErrorCode::InvalidRoom, e.to_string()))?;
        let key = RoomKey::Group(name);
        if self.state.rooms.contains_key(&key) {
            return Err(Refusal::new(ErrorCode::RoomExists, "a room with this name exists").room(&key));
        }
        let (kind, owner) = if private { (RoomKind::Private, Some(user.clone())) } else { (RoomKind::Public, None) };
        self.persist(LogEntry::RoomCreated { room: key.clone(), kind, owner, timestamp: self.now });
        self.add_member(caller, &key, user);
        self.joined_answer(user, &key)
    }

    pub(super) fn invite(&mut self, caller: Caller, user: &UserName, room: &RoomRef, invitee: &str) -> Handled {
        let key = self.member_room(user, room)?;
        let invitee = UserName::new(invitee).map_err(|e| Refusal::new(ErrorCode::InvalidUsername, e.to_string()))?;
        let Some(r) = self.state.rooms.get(&key) else {
            return Err(Refusal::new(ErrorCode::RoomNotFound, "no such room").room(&key));
        };
        match r.kind {
            RoomKind::Dm => {
                return Err(
                    Refusal::new(ErrorCode::Forbidden, "nobody can be added to a direct conversation").room(&key)
                );
            }
            RoomKind::Private if r.owner.as_ref() != Some(user) => {
                return Err(Refusal::new(ErrorCode::Forbidden, "only the owner can invite to this room").room(&key));
            }
            _ => {}
        }
        if r.members.len() >= self.config.max_room_members && !r.members.contains(&invitee) {
            return Err(Refusal::new(ErrorCode::RoomFull, "this room is full").room(&key));
        }
        if !self.state.users.contains_key(&invitee) {
            return Err(Refusal::new(ErrorCode::UnknownUser, format!("no user named '{invitee}'")).room(&key));
        }
        if !self.is_member(&invitee, &key) {
            self.add_member(caller, &key, &invitee);
        }
        Ok(Answer::Reply(self.room_users_update(user, &key)))
    }

    pub(super) fn remove(&mut self, caller: Caller, user: &UserName, room: &RoomRef, member: &str) -> Handled {
        let key = self.member_room(user, room)?;
        let member = UserName::new(member).map_err(|e| Refusal::new(ErrorCode::InvalidUsername, e.to_string()))?;
        let Some(r) = self.state.rooms.get(&key) else {
            return Err(Refusal::new(ErrorCode::RoomNotFound, "no such room").room(&key));
        };
        if r.kind != RoomKind::Private || r.owner.as_ref() != Some(user) {
            return Err(
                Refusal::new(ErrorCode::Forbidden, "only the owner of a private room can remove members").room(&key)
            );
        }
        if &member == user {
            return Err(Refusal::new(ErrorCode::OwnerCannotLeave, "the owner cannot remove themselves").room(&key));
        }
        if !r.members.contains(&member) {
            return Err(Refusal::new(ErrorCode::NotAMember, format!("'{member}' is not a member")).room(&key));
        }
        self.remove_member(caller, &key, &member, LeaveReason::Removed);
        Ok(Answer::Reply(self.room_users_update(user, &key)))
    }
}

impl Chat {
    /// `accept_invite`: become a member of a room with a pending invitation.
    pub(super) fn accept_invite(&mut self, _caller: Caller, user: &UserName, room: &RoomRef) -> Handled {
        let key = self.resolve(user, room)?;
        Err(Refusal::new(ErrorCode::NoInvitation, "no pending invitation to this room").room(&key))
    }

    /// `decline_invite`: drop a pending invitation.
    pub(super) fn decline_invite(&mut self, _caller: Caller, user: &UserName, room: &RoomRef) -> Handled {
        let key = self.resolve(user, room)?;
        Err(Refusal::new(ErrorCode::NoInvitation, "no pending invitation to this room").room(&key))
    }
}
