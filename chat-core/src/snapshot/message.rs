//! The fold of a new message: the room's counters, the sender's cursor, highlights and
//! notifications of the mentioned members (and the DM peer), the sender's client id.

use super::notification::{Notice, NotificationKind};
use super::read::advance_cursor;
use super::{Snapshot, Touched, Tracker};
use crate::log::Message;

impl Snapshot {
    pub(super) fn apply_message(&mut self, m: &Message, touched: &mut impl Tracker) {
        let Some(state) = self.rooms.get_mut(&m.room) else { return };
        // A message written before events were numbered (rev 0) is its room's next event.
        if m.rev != 0 {
            state.last_rev = state.last_rev.max(m.rev);
        } else if m.seq > state.last_seq {
            state.last_rev += 1;
        }
        state.last_seq = state.last_seq.max(m.seq);
        state.last_timestamp = state.last_timestamp.max(m.timestamp);
        touched.touch(|| Touched::Room(m.room.clone()));
        let is_dm = m.room.is_dm();

        // The sender has read everything up to their own message.
        if let Some(read) = self.reads.get_mut(&(m.sender.clone(), m.room.clone())) {
            advance_cursor(read, m.seq, &m.sender, &m.room, touched);
        }

        // Highlights and notifications: each mentioned member once, and the DM peer.
        let dm_peer = m.room.dm_peer(&m.sender).cloned();
        for user in m.mentions.iter().chain(dm_peer.iter()) {
            if *user == m.sender {
                continue;
            }
            let Some(read) = self.reads.get_mut(&(user.clone(), m.room.clone())) else { continue };
            if !is_dm && m.seq > read.seq {
                // Entries arrive in seq order, so this inserts at the end: the deque stays
                // sorted, and a repeated entry finds its seq already there.
                if let Err(at) = read.highlights.binary_search(&m.seq) {
                    read.highlights.insert(at, m.seq);
                    touched.touch(|| Touched::Highlight(user.clone(), m.room.clone(), m.seq));
                }
            }
            let already = self.newest_notification(user).is_some_and(|n| n.room == m.room && n.seq == m.seq);
            if !already {
                let kind = if is_dm { NotificationKind::Dm } else { NotificationKind::Mention };
                let notice = Notice::of(m);
                self.push_notification(user, &notice, kind, touched);
            }
        }

        if let Some(client_id) = &m.client_id {
            self.remember_client_id(m, client_id, touched);
        }
    }
}
