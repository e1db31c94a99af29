//! History pages and resume after reconnect: authorised here, read by the driver.

use super::{Answer, Caller, Chat, Handled, LoadError, LoadId, PendingLoad, Refusal};
use crate::error::ErrorCode;
use crate::journal::{HistoryQuery, HistoryRange};
use crate::log::Message;
use crate::name::UserName;
use crate::protocol::{DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT, ResumePoint, ServerMsg};
use crate::room::{RoomKey, RoomRef};

/// Most rooms one `resume` may name.
const MAX_RESUME_ROOMS: usize = 1_000;

impl Chat {
    pub(super) fn history(
        &mut self,
        caller: Caller,
        user: &UserName,
        room: &RoomRef,
        before: Option<u64>,
        after: Option<u64>,
        limit: Option<u32>,
    ) -> Handled {
        let key = self.member_room(user, room)?;
        let limit = limit.unwrap_or(DEFAULT_HISTORY_LIMIT);
        if limit == 0 || limit > MAX_HISTORY_LIMIT {
            return Err(Refusal::new(ErrorCode::InvalidRequest, "limit must be 1-100").room(&key));
        }
        let range = match (before, after) {
            (None, None) => HistoryRange::Latest,
            (Some(b), None) => HistoryRange::Before(b),
            (None, Some(a)) => HistoryRange::After(a),
            (Some(_), Some(_)) => {
                return Err(Refusal::new(ErrorCode::InvalidRequest, "give 'before' or 'after', not both").room(&key));
            }
        };
        self.load(caller, user, key, range, limit, false);
        Ok(Answer::Pending)
    }

    pub(super) fn resume(&mut self, caller: Caller, user: &UserName, points: &[ResumePoint]) -> Handled {
        let Caller::Session(session) = caller else {
            return Err(Refusal::new(ErrorCode::Unsupported, "resume needs a live session"));
        };
        if points.len() > MAX_RESUME_ROOMS {
            return Err(Refusal::new(ErrorCode::InvalidRequest, "too many rooms in resume"));
        }
        for point in points {
            let room = RoomRef { room: Some(point.room.clone()), ..RoomRef::default() };
            let key = match self.member_room(user, &room) {
                Ok(key) => key,
                Err(refusal) => {
                    self.reply(caller, refusal.into_msg());
                    continue;
                }
            };
            // Messages after the watermark were (or will be) delivered live to this session.
            let watermark = self.sessions.get(&session).and_then(|s| s.watermarks.get(&key).copied());
            let Some(watermark) = watermark else { continue };
            if point.last_seq >= watermark {
                continue;
            }
            let gap = watermark - point.last_seq;
            if gap > self.config.resume_limit {
                self.reply(caller, ServerMsg::ResumeReset { room: key, latest_seq: watermark });
                continue;
            }
            let limit = u32::try_from(gap).unwrap_or(u32::MAX);
            self.load(caller, user, key, HistoryRange::After(point.last_seq), limit, true);
        }
        Ok(Answer::Nothing)
    }

    fn load(&mut self, caller: Caller, user: &UserName, room: RoomKey, range: HistoryRange, limit: u32, resume: bool) {
        let load = self.mint_load();
        let query = HistoryQuery { room: room.clone(), range, limit };
        self.loads.insert(load, PendingLoad { caller, user: user.clone(), room, resume });
        self.outputs.push_back(super::Output::Load { load, query });
    }

    pub(super) fn loaded(&mut self, load: LoadId, result: Result<Vec<Message>, LoadError>) {
        let Some(pending) = self.loads.remove(&load) else { return };
        if let Caller::Session(session) = pending.caller
            && !self.sessions.contains_key(&session)
        {
            return;
        }
        // Membership may have ended while the page was read.
        if !self.is_member(&pending.user, &pending.room) {
            let refusal = Refusal::new(ErrorCode::NotAMember, "you are not a member of this room").room(&pending.room);
            self.reply(pending.caller, refusal.into_msg());
            return;
        }
        let msg = match result {
            Ok(mut messages) => {
                messages.retain(|m| m.room == pending.room);
                ServerMsg::History { room: pending.room, messages, resume: pending.resume, more: false }
            }
            Err(e) => {
                let refusal = Refusal::new(ErrorCode::HistoryUnavailable, e.to_string()).room(&pending.room);
                refusal.into_msg()
            }
        };
        self.reply(pending.caller, msg);
    }
}
