//! Read cursors and the unread counts they give: a count is the room's messages after the
//! cursor less the deleted ones among them, so no event rescans the room.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::{Snapshot, Touched, Tracker};
use crate::name::UserName;
use crate::room::RoomKey;

/// One member's read position in one room (a journal stores it as a read row and one
/// highlight row per highlight, [`crate::fold`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ReadState {
    /// Everything up to and including this `seq` is read.
    pub(crate) seq: u64,
    /// `seq`s after the cursor that mention this member, ascending (group rooms only: in a DM
    /// every unread message is a highlight).
    pub(crate) highlights: VecDeque<u64>,
}

/// Unread state of one member in one room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Unread {
    /// The read cursor.
    pub read_seq: u64,
    /// Messages from others after the cursor.
    pub unread: u64,
    /// Those of them that mention the member (in a DM: all of them).
    pub highlight: u64,
}

impl Snapshot {
    /// Unread counts of `user` in `room`, if they are a member.
    pub fn unread(&self, user: &UserName, room: &RoomKey) -> Option<Unread> {
        let state = self.rooms.get(room)?;
        let read = self.reads.get(&(user.clone(), room.clone()))?;
        // Every message after the cursor is someone else's (a sender's cursor moves to their own
        // message); the deleted ones among them do not count.
        let unread = state.last_seq.saturating_sub(read.seq).saturating_sub(self.deleted_after(room, read.seq));
        let highlight = if room.is_dm() { unread } else { read.highlights.len() as u64 };
        Some(Unread { read_seq: read.seq, unread, highlight })
    }
}

/// Moves `user`'s cursor in `room` forward (never back) and drops the highlights it passes,
/// reporting the read row and, when highlights were dropped, their range.
pub(crate) fn advance_cursor(
    read: &mut ReadState,
    seq: u64,
    user: &UserName,
    room: &RoomKey,
    touched: &mut impl Tracker,
) {
    if seq <= read.seq {
        return;
    }
    read.seq = seq;
    touched.touch(|| Touched::Read(user.clone(), room.clone()));
    if read.highlights.front().is_some_and(|&h| h <= seq) {
        while read.highlights.front().is_some_and(|&h| h <= seq) {
            read.highlights.pop_front();
        }
        touched.touch(|| Touched::HighlightsThrough(user.clone(), room.clone(), seq));
    }
}
