//! Presence: sessions coming and going, who is online, and the `presence` deltas.

use std::sync::Arc;

use super::{Chat, CloseReason, Output, Refusal};
use crate::error::ErrorCode;
use crate::name::UserName;
use crate::protocol::{RoomSummary, SUMMARY_PAGE, ServerMsg, UserPresence};
use crate::room::RoomKey;
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
                    s.watermarks.insert(room.clone(), (r.last_seq, r.last_rev));
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
}
