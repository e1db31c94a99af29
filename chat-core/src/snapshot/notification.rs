//! Notification inboxes: raised by mentions and DMs, capped per user, marked read, retracted
//! by edits and deletions ([`super::lifecycle`]).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::user::new_user;
use super::{Snapshot, Touched, Tracker};
use crate::log::Message;
use crate::name::UserName;
use crate::room::RoomKey;
use crate::time::Timestamp;

/// The most notifications kept per user; older ones are dropped, oldest first.
pub const NOTIFICATION_INBOX_CAP: u64 = 500;
/// Characters of message text kept in a notification's preview.
pub const NOTIFICATION_PREVIEW_CHARS: usize = 120;

/// Why a notification was raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// The user was @mentioned in a group room.
    Mention,
    /// The user received a direct message.
    Dm,
}

/// An entry in a user's notification inbox. Also the body of `mention_notification`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Per-user id, increasing from 1.
    pub id: u64,
    /// Why.
    pub kind: NotificationKind,
    /// Where.
    pub room: RoomKey,
    /// Which message.
    pub seq: u64,
    /// Who sent it.
    pub sender: UserName,
    /// The start of the message text.
    pub preview: String,
    /// When the message was sent.
    pub timestamp: Timestamp,
    /// Whether the user marked it read.
    pub read: bool,
}

impl Snapshot {
    /// The user's notifications, newest first, at most `limit`.
    pub fn notifications_of(&self, user: &UserName, limit: usize) -> Vec<Notification> {
        self.notifications.get(user).map_or_else(Vec::new, |inbox| inbox.iter().rev().take(limit).cloned().collect())
    }

    /// The user's notification `id`, if kept.
    pub fn notification(&self, user: &UserName, id: u64) -> Option<&Notification> {
        let inbox = self.notifications.get(user)?;
        inbox.binary_search_by_key(&id, |n| n.id).ok().map(|i| &inbox[i])
    }

    /// The user's newest notification, if they have one.
    pub fn newest_notification(&self, user: &UserName) -> Option<&Notification> {
        self.notifications.get(user)?.back()
    }

    /// How many notifications `user` has kept (at most [`NOTIFICATION_INBOX_CAP`]).
    pub fn notification_count(&self, user: &UserName) -> usize {
        self.notifications.get(user).map_or(0, VecDeque::len)
    }

    /// The user's unread notifications (0 for an unknown user).
    pub fn unread_notifications(&self, user: &UserName) -> u32 {
        self.users.get(user).map_or(0, |u| u.unread_notifications)
    }

    pub(crate) fn push_notification(
        &mut self,
        user: &UserName,
        m: &Notice<'_>,
        kind: NotificationKind,
        touched: &mut impl Tracker,
    ) {
        let u = self.users.entry(user.clone()).or_insert_with(new_user);
        let id = u.next_notification;
        u.next_notification += 1;
        u.unread_notifications += 1;
        let preview = crate::log::preview(m.content, NOTIFICATION_PREVIEW_CHARS);
        let n = Notification {
            id,
            kind,
            room: m.room.clone(),
            seq: m.seq,
            sender: m.sender.clone(),
            preview,
            timestamp: m.timestamp,
            read: false,
        };
        let inbox = self.notifications.entry(user.clone()).or_default();
        inbox.push_back(n);
        touched.touch(|| Touched::Notification(user.clone(), id));
        while u.next_notification - u.oldest_notification > NOTIFICATION_INBOX_CAP {
            let old = u.oldest_notification;
            u.oldest_notification += 1;
            if inbox.front().is_some_and(|n| n.id == old)
                && let Some(evicted) = inbox.pop_front()
            {
                if !evicted.read {
                    u.unread_notifications = u.unread_notifications.saturating_sub(1);
                }
                touched.touch(|| Touched::Notification(user.clone(), old));
            }
        }
        touched.touch(|| Touched::User(user.clone()));
    }

    pub(super) fn read_notifications(&mut self, user: &UserName, ids: Option<&[u64]>, touched: &mut impl Tracker) {
        let Some(u) = self.users.get_mut(user) else { return };
        let Some(inbox) = self.notifications.get_mut(user) else { return };
        let mut changed = false;
        let mut mark = |n: &mut Notification| {
            if !n.read {
                n.read = true;
                u.unread_notifications = u.unread_notifications.saturating_sub(1);
                touched.touch(|| Touched::Notification(user.clone(), n.id));
                changed = true;
            }
        };
        match ids {
            None => inbox.iter_mut().for_each(&mut mark),
            Some(ids) => {
                for id in ids {
                    if let Ok(i) = inbox.binary_search_by_key(id, |n| n.id) {
                        mark(&mut inbox[i]);
                    }
                }
            }
        }
        if changed {
            touched.touch(|| Touched::User(user.clone()));
        }
    }
}

/// What a notification is about: a message, or a message as an edit left it.
pub(crate) struct Notice<'a> {
    pub(crate) room: &'a RoomKey,
    pub(crate) seq: u64,
    pub(crate) sender: &'a UserName,
    pub(crate) content: &'a str,
    pub(crate) timestamp: Timestamp,
}

impl<'a> Notice<'a> {
    pub(super) fn of(m: &'a Message) -> Notice<'a> {
        Notice { room: &m.room, seq: m.seq, sender: &m.sender, content: &m.content, timestamp: m.timestamp }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_are_found_by_id_newest_and_page() {
        let mut s = Snapshot::default();
        let bob: UserName = "bob".parse().unwrap();
        let inbox: VecDeque<Notification> = (3..6)
            .map(|id| Notification {
                id,
                kind: NotificationKind::Mention,
                room: "group:lobby".parse().unwrap(),
                seq: id,
                sender: "alice".parse().unwrap(),
                preview: String::new(),
                timestamp: Timestamp(1),
                read: false,
            })
            .collect();
        s.notifications.insert(bob.clone(), inbox);
        assert_eq!(s.notification(&bob, 4).map(|n| n.id), Some(4));
        assert_eq!(s.notification(&bob, 2), None);
        assert_eq!(s.notification(&bob, 6), None);
        assert_eq!(s.newest_notification(&bob).map(|n| n.id), Some(5));
        assert_eq!(s.notifications_of(&bob, 2).iter().map(|n| n.id).collect::<Vec<_>>(), [5, 4]);
    }
}
