//! Invitations are pending until the invitee accepts; they are durable, bounded, and removed by
//! decline or by the owner's `remove`; rooms per user are capped.

use chat_core::{ClientMsg, Config, ErrorCode, ServerMsg};

use crate::sim::*;

fn invite(key: &str, who: &str) -> ClientMsg {
    ClientMsg::Invite { room: room(key), username: who.into() }
}

#[test]
fn invitations_are_pending_durable_bounded_and_removable() {
    let mut config = Config::default();
    config.max_invitations_per_user = 2;
    config.max_rooms_per_user = 3;
    let mut sim = Sim::with_config(config);
    let a = sim.connect("alice");
    let b = sim.connect("bob");
    for r in ["p1", "p2", "p3"] {
        sim.recv(a, ClientMsg::CreateRoom { room_name: r.into(), private: true });
    }
    sim.recv(a, invite("group:p1", "bob"));
    sim.recv(a, invite("group:p2", "bob"));
    sim.recv(a, invite("group:p3", "bob"));
    assert_eq!(errors(&sim.take(a)), [ErrorCode::TooManyInvitations]);
    assert_eq!(sim.take(b).iter().filter(|f| matches!(f, ServerMsg::Invitation(_))).count(), 2);

    // Durable: listed in connected after a restart.
    sim.restart();
    let a = sim.connect("alice");
    let b = sim.connect("bob");
    let frames = sim.take(b);
    let ServerMsg::Connected { invitations, .. } = &frames[0] else { panic!("{frames:?}") };
    let rooms: Vec<String> = invitations.iter().map(|i| i.room.to_string()).collect();
    assert_eq!(rooms, ["group:p1", "group:p2"]);

    // Decline on one device: the other device is told.
    let b2 = sim.connect("bob");
    sim.take(b2);
    sim.recv(b, ClientMsg::DeclineInvite { room: room("group:p1") });
    assert!(matches!(&sim.take(b)[..], [ServerMsg::InvitationRemoved { .. }]));
    assert!(matches!(&sim.take(b2)[..], [ServerMsg::InvitationRemoved { .. }]));
    // The owner withdraws the other one with remove.
    sim.recv(a, ClientMsg::Remove { room: room("group:p2"), username: "bob".into() });
    assert!(errors(&sim.take(a)).is_empty());
    assert!(matches!(&sim.take(b)[..], [ServerMsg::InvitationRemoved { .. }]));
    sim.recv(b, ClientMsg::AcceptInvite { room: room("group:p2") });
    assert_eq!(errors(&sim.take(b)), [ErrorCode::NoInvitation]);

    // The room cap: alice owns 3 rooms, the maximum.
    sim.recv(a, join("group:lobby"));
    sim.recv(a, ClientMsg::CreateRoom { room_name: "p4".into(), private: false });
    assert_eq!(errors(&sim.take(a)), [ErrorCode::TooManyRooms, ErrorCode::TooManyRooms]);
}
