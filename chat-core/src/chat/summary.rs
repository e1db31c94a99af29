//! Room summaries (`connected`, `room_joined`, `room_summaries`, `my_rooms`) and member lists
//! (`room_users`), as a member sees them.

use std::ops::Bound;

use super::{Answer, Chat, Handled, Refusal};
use crate::error::ErrorCode;
use crate::name::UserName;
use crate::protocol::{MemberRead, RoomSummary, SUMMARY_PAGE, ServerMsg};
use crate::room::{RoomKey, RoomKind, RoomRef};

impl Chat {
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
            can_delete: r.kind == RoomKind::Private && owns,
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
}
