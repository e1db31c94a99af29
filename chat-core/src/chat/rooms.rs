//! Membership: join, leave, create, invite, remove.

use super::{Answer, Caller, Chat, Handled, Refusal};
use crate::error::ErrorCode;
use crate::log::LogEntry;
use crate::name::{RoomName, UserName};
use crate::protocol::{Invitation, InvitationRemovedReason, LeaveReason, ServerMsg};
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
                        self.check_room_cap(user, &key)?;
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
                        // An invitee joining accepts; anyone else learns nothing (not probeable).
                        if self.invitation(user, &key).is_some() {
                            return self.accept(caller, user, key);
                        }
                        return Err(Refusal::new(ErrorCode::RoomNotFound, "no such room").room(&key));
                    }
                    Some(r) if r.members.len() >= self.config.max_room_members => {
                        return Err(Refusal::new(ErrorCode::RoomFull, "this room is full").room(&key));
                    }
                    Some(_) => {}
                }
                self.check_room_cap(user, &key)?;
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
        let mark = self.state.rooms.get(room).map_or((0, 0), |r| (r.last_seq, r.last_rev));
        self.sessions.for_each_of(user, |s| {
            s.watermarks.insert(room.clone(), mark);
        });
        if let Some(summary) = self.summary(user, room) {
            let except = self.own_session(caller, user);
            self.deliver_to_user(user, except, ServerMsg::RoomJoined(summary));
        }
        let joined =
            ServerMsg::MemberJoined { room: room.clone(), username: user.clone(), online: self.is_online(user) };
        self.deliver_to_room(room, Some(user), None, joined);
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
    }

    pub(super) fn create_room(&mut self, caller: Caller, user: &UserName, name: &str, private: bool) -> Handled {
        let name = RoomName::parse_new(name).map_err(|e| Refusal::new(ErrorCode::InvalidRoom, e.to_string()))?;
        let key = RoomKey::Group(name);
        if self.state.rooms.contains_key(&key) {
            return Err(Refusal::new(ErrorCode::RoomExists, "a room with this name exists").room(&key));
        }
        self.check_room_cap(user, &key)?;
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
        let kind = r.kind;
        match kind {
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
        let Some(u) = self.state.users.get(&invitee) else {
            return Err(Refusal::new(ErrorCode::UnknownUser, format!("no user named '{invitee}'")).room(&key));
        };
        if r.members.contains(&invitee) {
            return Err(Refusal::new(ErrorCode::AlreadyMember, format!("'{invitee}' is already a member")).room(&key));
        }
        if u.invitation(&key).is_some() {
            return Err(Refusal::new(ErrorCode::AlreadyInvited, format!("'{invitee}' is already invited")).room(&key));
        }
        if u.invitations.len() >= self.config.max_invitations_per_user {
            let msg = format!("'{invitee}' has too many pending invitations");
            return Err(Refusal::new(ErrorCode::TooManyInvitations, msg).room(&key));
        }
        if r.members.len() >= self.config.max_room_members {
            return Err(Refusal::new(ErrorCode::RoomFull, "this room is full").room(&key));
        }
        let invitation = Invitation { room: key.clone(), kind, inviter: user.clone(), timestamp: self.now };
        self.persist(LogEntry::Invited { user: invitee.clone(), invitation: Box::new(invitation.clone()) });
        self.deliver_to_user(&invitee, self.own_session(caller, &invitee), ServerMsg::Invitation(invitation));
        Ok(Answer::Reply(ServerMsg::InviteSent { room: key, username: invitee }))
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
            if self.invitation(&member, &key).is_some() {
                self.drop_invitation(None, &member, &key, InvitationRemovedReason::Revoked);
                return Ok(Answer::Reply(self.room_users_update(user, &key)));
            }
            return Err(Refusal::new(ErrorCode::NotAMember, format!("'{member}' is not a member")).room(&key));
        }
        self.remove_member(caller, &key, &member, LeaveReason::Removed);
        Ok(Answer::Reply(self.room_users_update(user, &key)))
    }
}

impl Chat {
    /// `user`'s pending invitation to `room`.
    fn invitation(&self, user: &UserName, room: &RoomKey) -> Option<&Invitation> {
        self.state.users.get(user)?.invitation(room)
    }

    /// Refuses a new membership beyond `Config::max_rooms_per_user`.
    fn check_room_cap(&self, user: &UserName, room: &RoomKey) -> Result<(), Refusal> {
        let max = self.config.max_rooms_per_user;
        if self.state.users.get(user).is_some_and(|u| u.rooms.len() >= max) {
            return Err(Refusal::new(ErrorCode::TooManyRooms, format!("at most {max} rooms per user")).room(room));
        }
        Ok(())
    }

    /// `accept_invite`: become a member of a room with a pending invitation.
    pub(super) fn accept_invite(&mut self, caller: Caller, user: &UserName, room: &RoomRef) -> Handled {
        let key = self.resolve(user, room)?;
        if self.invitation(user, &key).is_none() {
            return Err(Refusal::new(ErrorCode::NoInvitation, "no pending invitation to this room").room(&key));
        }
        self.accept(caller, user, key)
    }

    /// Turns `user`'s pending invitation to `key` into a membership (the fold drops it).
    fn accept(&mut self, caller: Caller, user: &UserName, key: RoomKey) -> Handled {
        let Some(r) = self.state.rooms.get(&key) else {
            return Err(Refusal::new(ErrorCode::RoomNotFound, "no such room").room(&key));
        };
        if r.members.len() >= self.config.max_room_members {
            return Err(Refusal::new(ErrorCode::RoomFull, "this room is full").room(&key));
        }
        self.check_room_cap(user, &key)?;
        self.add_member(caller, &key, user);
        self.joined_answer(user, &key)
    }

    /// `decline_invite`: drop a pending invitation.
    pub(super) fn decline_invite(&mut self, caller: Caller, user: &UserName, room: &RoomRef) -> Handled {
        let key = self.resolve(user, room)?;
        if self.invitation(user, &key).is_none() {
            return Err(Refusal::new(ErrorCode::NoInvitation, "no pending invitation to this room").room(&key));
        }
        let reason = InvitationRemovedReason::Declined;
        self.drop_invitation(self.own_session(caller, user), user, &key, reason);
        Ok(Answer::Reply(ServerMsg::InvitationRemoved { room: key, reason }))
    }

    /// Removes a pending invitation and tells the invitee's sessions (but `except`).
    fn drop_invitation(
        &mut self,
        except: Option<crate::session::SessionId>,
        user: &UserName,
        room: &RoomKey,
        reason: InvitationRemovedReason,
    ) {
        self.persist(LogEntry::InvitationRemoved { user: user.clone(), room: room.clone() });
        self.deliver_to_user(user, except, ServerMsg::InvitationRemoved { room: room.clone(), reason });
    }
}
