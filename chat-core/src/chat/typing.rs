//! Typing indicators: the frames and their expiry (the state is `crate::typing::Typing`).

use super::{Answer, Caller, Chat, Handled};
use crate::name::UserName;
use crate::protocol::ServerMsg;
use crate::room::{RoomKey, RoomRef};

impl Chat {
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
}
