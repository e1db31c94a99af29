//! Room resolution: which room a frame names, and whether the caller may use it. The one place
//! that decides "someone else's conversation" and "not a member".

use super::{Chat, Refusal};
use crate::error::ErrorCode;
use crate::name::UserName;
use crate::room::{RoomKey, RoomKind, RoomRef};

impl Chat {
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
