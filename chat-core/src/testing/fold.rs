//! The fold's invariants, checked on any snapshot.

use std::collections::BTreeSet;

use crate::snapshot::{CLIENT_ID_WINDOW, NOTIFICATION_INBOX_CAP, Snapshot};

/// Panics, naming the broken rule, unless `snapshot` holds the fold's invariants:
/// - a read row exists exactly for each (member, room), and a user's room list is exactly the
///   rooms that list them as a member;
/// - a read cursor is at most the room's latest `seq`; highlights ascend strictly, lie after the
///   cursor and at most at the latest `seq`, and a DM has none (every unread message counts);
/// - a user's kept notifications have ascending ids within `oldest..next`, at most
///   [`NOTIFICATION_INBOX_CAP`], and their unread count is exact;
/// - a user's remembered client ids have consecutive positions within `oldest..next`, at most
///   [`CLIENT_ID_WINDOW`].
pub fn assert_fold_invariants(snapshot: &Snapshot) {
    for ((user, room), read) in &snapshot.reads {
        let state = snapshot.rooms.get(room).unwrap_or_else(|| panic!("read row of {user} in unknown room {room}"));
        assert!(state.members.contains(user), "read row of {user} in {room}, not a member");
        let u = snapshot.users.get(user).unwrap_or_else(|| panic!("read row of unknown user {user}"));
        assert!(u.rooms.contains(room), "{user} has a read row in {room} missing from their rooms");
        assert!(read.seq <= state.last_seq, "cursor of {user} in {room} past the latest message");
        assert!(!room.is_dm() || read.highlights.is_empty(), "highlights stored for {user} in DM {room}");
        let mut previous = read.seq;
        for &h in &read.highlights {
            assert!(h > previous, "highlights of {user} in {room} not ascending after the cursor");
            previous = h;
        }
        assert!(previous <= state.last_seq, "highlight of {user} in {room} past the latest message");
    }
    for (room, state) in &snapshot.rooms {
        for member in &state.members {
            assert!(
                snapshot.reads.contains_key(&(member.clone(), room.clone())),
                "member {member} of {room} has no cursor"
            );
            let u = snapshot.users.get(member).unwrap_or_else(|| panic!("member {member} of {room} is not a user"));
            assert!(u.rooms.contains(room), "{member} is in {room} but it is not in their rooms");
        }
    }
    for (user, u) in &snapshot.users {
        for room in &u.rooms {
            let member = snapshot.rooms.get(room).is_some_and(|r| r.members.contains(user));
            assert!(member, "{user} lists {room} without being a member");
        }
        assert!(u.oldest_notification <= u.next_notification, "notification counters of {user} crossed");
        assert!(u.next_notification - u.oldest_notification <= NOTIFICATION_INBOX_CAP, "inbox of {user} over the cap");
        let inbox = snapshot.notifications.get(user);
        let ids: Vec<u64> = inbox.into_iter().flatten().map(|n| n.id).collect();
        assert!(ids.windows(2).all(|w| w[1] > w[0]), "notification ids of {user} not ascending");
        let range = u.oldest_notification..u.next_notification;
        assert!(ids.iter().all(|id| range.contains(id)), "notification of {user} outside {range:?}");
        let unread = inbox.into_iter().flatten().filter(|n| !n.read).count();
        assert_eq!(unread, u.unread_notifications as usize, "unread notification count of {user}");
        assert!(u.oldest_client_id <= u.next_client_id, "client id counters of {user} crossed");
        assert!(u.next_client_id - u.oldest_client_id <= CLIENT_ID_WINDOW, "client id window of {user} over the cap");
        if let Some(window) = snapshot.client_ids.get(user) {
            let positions: Vec<u64> = window.iter().map(|(_, r)| r.position).collect();
            assert!(positions.windows(2).all(|w| w[1] == w[0] + 1), "client id positions of {user} not consecutive");
            let range = u.oldest_client_id..u.next_client_id;
            assert!(positions.iter().all(|p| range.contains(p)), "client id of {user} outside {range:?}");
            let distinct: BTreeSet<&str> = window.iter().map(|(id, _)| id).collect();
            assert_eq!(distinct.len(), positions.len(), "a client id of {user} remembered twice");
        }
    }
    for (room, deleted) in &snapshot.deleted {
        let last_seq = snapshot.rooms.get(room).map_or(0, |r| r.last_seq);
        assert!(deleted.windows(2).all(|w| w[1] > w[0]), "deleted seqs of {room} not ascending");
        assert!(deleted.iter().all(|&s| (1..=last_seq).contains(&s)), "deleted seq of {room} outside its messages");
    }
    for user in snapshot.notifications.keys().chain(snapshot.client_ids.keys()) {
        assert!(snapshot.users.contains_key(user), "inbox or client ids of unknown user {user}");
    }
}
