//! The fold of a message's lifecycle: edits, deletions and reactions. Each entry carries what
//! the fold needs (the sender, the mentions before and after), so no message body is read.
//!
//! Per entry the work is bounded by the mentions it names: a highlight is inserted into or
//! removed from one sorted deque per mentioned member, a notification is found in an inbox of at
//! most [`NOTIFICATION_INBOX_CAP`](super::NOTIFICATION_INBOX_CAP) entries, and a deletion is one
//! insert into the room's sorted list of deleted `seq`s.

use super::{Notice, NotificationKind, Snapshot, Touched, Tracker};
use crate::log::{Deletion, Edit, Reaction};
use crate::name::UserName;
use crate::room::RoomKey;
use crate::snapshot::NOTIFICATION_PREVIEW_CHARS;

impl Snapshot {
    /// Whether message `seq` of `room` is deleted.
    pub fn is_deleted(&self, room: &RoomKey, seq: u64) -> bool {
        self.deleted.get(room).is_some_and(|d| d.binary_search(&seq).is_ok())
    }

    /// How many deleted messages of `room` lie after `cursor`.
    pub(crate) fn deleted_after(&self, room: &RoomKey, cursor: u64) -> u64 {
        self.deleted.get(room).map_or(0, |d| (d.len() - d.partition_point(|&s| s <= cursor)) as u64)
    }

    /// The id of `user`'s notification about message `seq` of `room`, if they still have one.
    pub fn notification_about(&self, user: &UserName, room: &RoomKey, seq: u64) -> Option<u64> {
        let inbox = self.notifications.get(user)?;
        inbox.iter().rev().find(|n| n.seq == seq && &n.room == room).map(|n| n.id)
    }

    /// Counts the event `rev` in `room`; false when the room is unknown (the entry is ignored).
    fn count_event(&mut self, room: &RoomKey, rev: u64, touched: &mut impl Tracker) -> bool {
        let Some(state) = self.rooms.get_mut(room) else { return false };
        if rev > state.last_rev {
            state.last_rev = rev;
            touched.touch(|| Touched::Room(room.clone()));
        }
        true
    }

    /// Whether `seq` names a live (sent, not deleted) message of `room`.
    fn is_live_message(&self, room: &RoomKey, seq: u64) -> bool {
        self.rooms.get(room).is_some_and(|r| seq >= 1 && seq <= r.last_seq) && !self.is_deleted(room, seq)
    }

    pub(super) fn apply_edit(&mut self, e: &Edit, touched: &mut impl Tracker) {
        if !self.is_live_message(&e.room, e.seq) || !self.count_event(&e.room, e.rev, touched) {
            return;
        }
        let notice =
            Notice { room: &e.room, seq: e.seq, sender: &e.sender, content: &e.content, timestamp: e.timestamp };
        if let Some(peer) = e.room.dm_peer(&e.sender) {
            // In a DM every message is a highlight and notifies the peer; only the preview moves.
            let peer = peer.clone();
            self.refresh_preview(&peer, &notice, touched);
            return;
        }
        for user in e.previous_mentions.iter().filter(|u| !e.mentions.contains(u) && **u != e.sender) {
            self.drop_highlight(user, &e.room, e.seq, touched);
            self.retract_notification(user, &e.room, e.seq, touched);
        }
        for user in e.mentions.iter().filter(|u| **u != e.sender) {
            if e.previous_mentions.contains(user) || self.notification_about(user, &e.room, e.seq).is_some() {
                self.refresh_preview(user, &notice, touched);
                continue;
            }
            let Some(read) = self.reads.get_mut(&(user.clone(), e.room.clone())) else { continue };
            if e.seq > read.seq
                && let Err(at) = read.highlights.binary_search(&e.seq)
            {
                read.highlights.insert(at, e.seq);
                touched.touch(|| Touched::Highlight(user.clone(), e.room.clone(), e.seq));
            }
            self.push_notification(user, &notice, NotificationKind::Mention, touched);
        }
    }

    pub(super) fn apply_deletion(&mut self, d: &Deletion, touched: &mut impl Tracker) {
        if !self.is_live_message(&d.room, d.seq) || !self.count_event(&d.room, d.rev, touched) {
            return;
        }
        let deleted = self.deleted.entry(d.room.clone()).or_default();
        if let Err(at) = deleted.binary_search(&d.seq) {
            deleted.insert(at, d.seq);
        }
        touched.touch(|| Touched::Deleted(d.room.clone(), d.seq));
        let peer = d.room.dm_peer(&d.sender).cloned();
        for user in d.mentions.iter().chain(peer.iter()).filter(|u| **u != d.sender) {
            self.drop_highlight(user, &d.room, d.seq, touched);
            self.retract_notification(user, &d.room, d.seq, touched);
        }
    }

    pub(super) fn apply_reaction(&mut self, r: &Reaction, touched: &mut impl Tracker) {
        if self.is_live_message(&r.room, r.seq) {
            self.count_event(&r.room, r.rev, touched);
        }
    }

    fn drop_highlight(&mut self, user: &UserName, room: &RoomKey, seq: u64, touched: &mut impl Tracker) {
        let Some(read) = self.reads.get_mut(&(user.clone(), room.clone())) else { return };
        if let Ok(at) = read.highlights.binary_search(&seq) {
            read.highlights.remove(at);
            touched.touch(|| Touched::Highlight(user.clone(), room.clone(), seq));
        }
    }

    /// Removes `user`'s notification about `(room, seq)`, if any.
    fn retract_notification(&mut self, user: &UserName, room: &RoomKey, seq: u64, touched: &mut impl Tracker) {
        let Some(inbox) = self.notifications.get_mut(user) else { return };
        let Some(at) = inbox.iter().rposition(|n| n.seq == seq && &n.room == room) else { return };
        let Some(n) = inbox.remove(at) else { return };
        if inbox.is_empty() {
            // As a journal rebuilds it from rows: a user without notifications has no inbox.
            self.notifications.remove(user);
        }
        if !n.read
            && let Some(u) = self.users.get_mut(user)
        {
            u.unread_notifications = u.unread_notifications.saturating_sub(1);
        }
        touched.touch(|| Touched::Notification(user.clone(), n.id));
        touched.touch(|| Touched::User(user.clone()));
    }

    /// Rewrites the preview of `user`'s notification about the message, if they have one.
    fn refresh_preview(&mut self, user: &UserName, m: &Notice<'_>, touched: &mut impl Tracker) {
        let Some(inbox) = self.notifications.get_mut(user) else { return };
        let Some(n) = inbox.iter_mut().rev().find(|n| n.seq == m.seq && &n.room == m.room) else { return };
        let preview = crate::log::preview(m.content, NOTIFICATION_PREVIEW_CHARS);
        if n.preview != preview {
            n.preview = preview;
            touched.touch(|| Touched::Notification(user.clone(), n.id));
        }
    }
}
