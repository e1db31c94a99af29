//! The notification inbox and its live count.

use chat_core::{ClientMsg, NotificationKind, ServerMsg};

use crate::sim::*;

#[test]
fn mentions_and_dms_fill_the_inbox_and_can_be_marked_read() {
    let mut sim = Sim::new();
    let a = sim.connect("alice");
    let b = sim.connect("bob");
    sim.recv(a, join("group:lobby"));
    sim.recv(b, join("group:lobby"));
    sim.take(b);
    sim.recv(a, send("group:lobby", "hey @bob"));
    sim.recv(a, send("dm:alice:bob", "private"));
    let frames = sim.take(b);
    let kinds: Vec<NotificationKind> = frames
        .iter()
        .filter_map(|f| match f {
            ServerMsg::MentionNotification(n) => Some(n.kind),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, [NotificationKind::Mention, NotificationKind::Dm]);
    let counts: Vec<u32> = frames
        .iter()
        .filter_map(|f| match f {
            ServerMsg::NotificationUpdate { unread, .. } => Some(*unread),
            _ => None,
        })
        .collect();
    assert_eq!(counts, [1, 2]);

    sim.recv(b, ClientMsg::Notifications { limit: None });
    let frames = sim.take(b);
    let ServerMsg::Notifications { items, unread } = &frames[0] else { panic!("{frames:?}") };
    assert_eq!(*unread, 2);
    assert_eq!(items.len(), 2);
    assert!(items[0].id > items[1].id, "newest first");

    let first = items[1].id;
    sim.recv(b, ClientMsg::MarkNotificationsRead { ids: Some(vec![first, 999]) });
    assert!(matches!(sim.take(b)[..], [ServerMsg::NotificationUpdate { unread: 1, .. }]));
    sim.recv(b, ClientMsg::MarkNotificationsRead { ids: None });
    assert!(matches!(sim.take(b)[..], [ServerMsg::NotificationUpdate { unread: 0, .. }]));
    sim.recv(b, ClientMsg::MarkNotificationsRead { ids: None });
    assert!(matches!(sim.take(b)[..], [ServerMsg::NotificationUpdate { unread: 0, .. }]));
    let persisted_reads =
        sim.journal().entries().iter().filter(|e| matches!(e, chat_core::LogEntry::NotificationsRead { .. })).count();
    assert_eq!(persisted_reads, 2, "a no-op mark-read writes nothing");
}

#[test]
fn nobody_else_sees_your_notifications() {
    let mut sim = Sim::new();
    let a = sim.connect("alice");
    let c = sim.connect("carol");
    let _b = sim.connect("bob");
    sim.recv(a, send("dm:alice:bob", "for bob"));
    sim.take(c);
    sim.recv(c, ClientMsg::Notifications { limit: None });
    let frames = sim.take(c);
    assert!(matches!(&frames[..], [ServerMsg::Notifications { items, unread: 0 }] if items.is_empty()));
}
