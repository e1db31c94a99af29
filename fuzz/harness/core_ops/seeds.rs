//! Hand-written seed scenarios, committed as `fuzz/corpus/core_ops/seed-<name>` (written by
//! `cargo run --example seeds` in `fuzz/`; `chat-core`'s corpus test checks the files match).

use super::{Frag, Msg, Op, RoomSel, Scenario, Tweaks};

/// A plain `send_message`.
fn send(room: RoomSel, text: Vec<Frag>, client_id: Option<u8>) -> Msg {
    Msg::Send { room, text, client_id, reply_to: None, attachments: Vec::new() }
}

/// An absolute `seq` (or `rev`) selector.
const fn at(seq: u8) -> u8 {
    0x80 + seq
}

pub fn seeds() -> Vec<(&'static str, Scenario)> {
    use Frag::*;
    use Msg::*;
    use Op::*;
    let (alice, bob, carol, dave) = (0, 1, 2, 3);
    let lobby = || RoomSel::Group(0);
    let frame = |slot: u8, msg: Msg| Frame { slot, msg };
    let say =
        |slot: u8, room: RoomSel, text: Vec<Frag>, client_id: Option<u8>| frame(slot, send(room, text, client_id));
    let connect = |slot: u8, user: u8| Connect { slot, user };
    let history = |room: RoomSel| History { room, before: None, after: None, limit: None };
    let plain = Tweaks::default();
    let mut seeds = Vec::new();

    let mut ops = vec![connect(0, alice), connect(1, bob), connect(2, carol)];
    ops.extend((0..3).map(|slot| frame(slot, Join(lobby()))));
    ops.extend([
        say(
            0,
            lobby(),
            vec![
                Word(0),
                Space,
                Mention { user: bob, upper: false },
                Space,
                Mention { user: carol, upper: true },
                Space,
                Code(0),
                Mention { user: dave, upper: false },
                Code(0),
            ],
            Some(1),
        ),
        say(0, lobby(), vec![Word(1)], Some(1)), // a retry: acked as the original
        frame(1, MarkRead { room: lobby(), seq: Some(1) }),
        say(2, RoomSel::SeedGroup(0), vec![AtRoom, Space, Word(3), Punct(0)], None),
        say(0, RoomSel::Dm(bob), vec![Word(1), Space, Email(carol)], Some(2)),
        say(1, RoomSel::SeedDm(alice), vec![Word(0), Space, AtHere], None),
        connect(3, dave),
        frame(3, Join(RoomSel::DmKey(alice, bob))), // someone else's DM: refused
        frame(3, history(RoomSel::DmKey(alice, bob))),
        frame(1, history(lobby())),
        frame(1, Resume { room: lobby(), last_seq: 0, last_rev: None }),
        AnswerLoads { fail: false },
        frame(1, MarkRead { room: RoomSel::Dm(alice), seq: None }),
        Disconnect { slot: 1 },
        say(0, lobby(), vec![Mention { user: bob, upper: false }, Punct(0), Punct(0)], None),
        connect(1, bob),
    ]);
    seeds.push(("mentions-dm-history", Scenario { tweaks: plain, ops }));

    let secret = || RoomSel::Group(2);
    let ops = vec![
        connect(0, alice),
        connect(1, bob),
        connect(2, carol),
        frame(0, Create { name: 2, private: true }),
        frame(0, Invite { room: secret(), user: bob }),
        frame(2, Join(secret())), // invite-only: refused
        frame(1, Typing { room: secret(), active: true }),
        say(0, secret(), vec![Mention { user: bob, upper: false }, Space, Word(2)], None),
        frame(1, Typing { room: secret(), active: true }),
        Advance { ms: 6_000 }, // the typing indicator expires
        frame(0, Remove { room: secret(), user: bob }),
        say(1, secret(), vec![Word(0)], None), // no longer a member
        frame(1, history(secret())),
        frame(0, Leave(secret())), // the owner cannot leave
        frame(1, Join(RoomSel::Raw(b"dm:bob:bob".to_vec()))),
        Rewind { ms: 5_000 },
        say(0, secret(), vec![Raw("\u{0}`x`".as_bytes().to_vec())], None),
    ];
    seeds.push(("private-room-typing", Scenario { tweaks: plain, ops }));

    let ops = vec![
        connect(0, alice),
        connect(1, bob),
        frame(0, Join(lobby())),
        frame(1, Join(lobby())),
        say(0, lobby(), vec![Word(0)], Some(7)),
        FailNextCommit,
        say(1, lobby(), vec![Mention { user: alice, upper: false }], Some(7)), // commit fails: restore
        connect(0, alice),
        say(0, lobby(), vec![Word(0)], Some(7)), // survived the restore: duplicate
        frame(0, history(lobby())),
        Restore,
        connect(0, alice),
        frame(0, history(lobby())),
        AnswerLoads { fail: true },
        say(0, lobby(), vec![Word(4)], Some(7)),
        Request { user: bob, msg: send(lobby(), vec![Word(1)], Some(3)) },
        Request { user: bob, msg: send(lobby(), vec![Word(1)], Some(3)) },
    ];
    seeds.push(("failed-commit-restore", Scenario { tweaks: plain, ops }));

    let ops = vec![
        AddUser { user: carol },
        Request { user: alice, msg: Join(lobby()) },
        Request { user: alice, msg: send(RoomSel::Dm(carol), vec![Word(0)], None) },
        Request { user: carol, msg: Notifications { limit: Some(10) } },
        Request { user: carol, msg: MarkNotificationsRead { ids: Some(vec![1, 2]) } },
        Request { user: carol, msg: MarkNotificationsRead { ids: None } },
        Request { user: alice, msg: history(lobby()) },
        Request { user: alice, msg: Typing { room: lobby(), active: true } },
        Request { user: alice, msg: ListRooms },
        Request { user: carol, msg: ListUsers },
        AnswerLoads { fail: false },
    ];
    seeds.push(("rest-requests", Scenario { tweaks: plain, ops }));

    let all =
        Tweaks { small_rooms: true, short_resume: true, short_messages: true, strict_rate: true, ..Tweaks::default() };
    let mut ops: Vec<Op> = (0..4).map(|u| connect(u, u)).collect();
    ops.extend((0..4).map(|slot| frame(slot, Join(lobby())))); // the fourth is refused
    ops.push(say(0, lobby(), vec![Word(3), Space, Word(3), Space, Word(3)], None)); // too long
    ops.extend((0..6).map(|_| say(1, lobby(), vec![Word(1)], None))); // rate limited after 3
    ops.push(frame(0, Resume { room: lobby(), last_seq: 0, last_rev: None })); // gap > 2: reset
    ops.extend((0..6).map(|_| frame(2, ListUsers))); // strikes: closed
    ops.push(AnswerLoads { fail: false });
    seeds.push(("tight-limits", Scenario { tweaks: all, ops }));
    seeds.extend(lifecycle_seeds());
    seeds
}

/// Seeds in the lifecycle format: replies, edits, deletions (sender, owner, administrator),
/// reactions, resume with `last_rev`, attachments and searches answered every way.
fn lifecycle_seeds() -> Vec<(&'static str, Scenario)> {
    use Frag::*;
    use Msg::*;
    use Op::*;
    let (alice, bob, carol, dave) = (0, 1, 2, 3);
    let lobby = || RoomSel::Group(0);
    let secret = || RoomSel::Group(2);
    let frame = |slot: u8, msg: Msg| Frame { slot, msg };
    let connect = |slot: u8, user: u8| Connect { slot, user };
    let loads = || AnswerLoads { fail: false };
    let reply = |room: RoomSel, text: Vec<Frag>, seq: u8| Send {
        room,
        text,
        client_id: None,
        reply_to: Some(seq),
        attachments: Vec::new(),
    };
    let attach = |room: RoomSel, text: Vec<Frag>, client_id: Option<u8>, files: Vec<u8>| Send {
        room,
        text,
        client_id,
        reply_to: None,
        attachments: files,
    };
    let edit = |room: RoomSel, seq: u8, text: Vec<Frag>| Edit { room, seq, text, client_id: Some(1) };
    let react = |seq: u8, emoji: u8, add: bool| React { room: lobby(), seq, emoji, add };
    let search = |room: Option<RoomSel>, words: Vec<u8>| Search { room, words, from: None, limit: None };
    let lifecycle = Tweaks { lifecycle: true, ..Tweaks::default() };
    let mut seeds = Vec::new();

    let mut ops = vec![connect(0, alice), connect(1, bob), connect(2, carol)];
    ops.extend((0..3).map(|slot| frame(slot, Join(lobby()))));
    ops.extend([
        frame(0, send(lobby(), vec![Word(0), Space, Mention { user: bob, upper: false }], Some(1))), // #1
        frame(1, reply(lobby(), vec![Word(1)], 0)), // #2 quotes #1 once it is loaded
        loads(),
        // The mention moves from bob to carol.
        frame(0, edit(lobby(), at(1), vec![Word(3), Space, Mention { user: carol, upper: false }])),
        loads(),
        frame(1, react(at(1), 0, true)),
        frame(2, react(at(1), 0, true)),    // queued behind bob's on the same message
        frame(2, react(at(1), 0xE4, true)), // "a": not an emoji
        loads(),
        loads(),
        frame(1, react(at(1), 0, false)),
        frame(1, react(at(1), 0, false)), // no longer held: a no-op
        loads(),
        loads(),
        frame(0, edit(lobby(), at(1), vec![Word(3), Space, Mention { user: carol, upper: false }])), // same text
        loads(),
        frame(0, Delete { room: lobby(), seq: at(2) }), // bob's, in a public room: forbidden
        loads(),
        frame(2, send(lobby(), vec![Word(1), Space, Mention { user: alice, upper: false }], None)), // #3
        frame(1, reply(lobby(), vec![Word(4)], at(3))),                                             // #4
        loads(),
        frame(2, Delete { room: lobby(), seq: at(3) }), // the quote of #4 empties, alice's notification goes
        loads(),
        frame(0, History { room: lobby(), before: None, after: None, limit: None }),
        loads(),
        AdminRequest { user: dave, msg: Delete { room: lobby(), seq: at(1) } }, // not a member
        loads(),
        AdminRequest { user: dave, msg: Delete { room: lobby(), seq: at(1) } }, // already deleted
        loads(),
        Request { user: carol, msg: Notifications { limit: None } },
        Request { user: alice, msg: Notifications { limit: None } },
        Request { user: bob, msg: edit(lobby(), at(2), vec![Word(0), Space, AtRoom]) },
        loads(),
        Disconnect { slot: 1 },
        frame(0, send(lobby(), vec![Word(1)], None)), // #5
        frame(0, react(at(2), 1, true)),
        loads(),
        connect(1, bob),
        frame(1, Resume { room: lobby(), last_seq: 2, last_rev: Some(at(3)) }),
        loads(),
        loads(),
        loads(),
        frame(0, edit(lobby(), at(1), vec![Word(2)])), // deleted
        frame(2, react(at(1), 3, true)),               // deleted
        frame(1, Resume { room: lobby(), last_seq: 1, last_rev: None }),
        loads(),
        loads(),
        loads(),
        frame(1, Resume { room: lobby(), last_seq: 4, last_rev: Some(0) }),
        AnswerLoads { fail: true },
        loads(),
    ]);
    seeds.push(("lifecycle-edit-delete-react", Scenario { tweaks: lifecycle, ops }));

    let search_from = |from: u8, limit: u8| Search { room: None, words: vec![3], from: Some(from), limit: Some(limit) };
    let ops = vec![
        connect(0, alice),
        connect(1, bob),
        connect(2, carol),
        frame(0, Create { name: 2, private: true }),
        frame(0, Invite { room: secret(), user: bob }),
        frame(1, Accept(secret())),
        frame(0, Invite { room: secret(), user: carol }),
        frame(2, Decline(secret())),
        frame(2, Join(lobby())),
        frame(1, attach(secret(), vec![Word(3)], Some(1), vec![1, 5])), // bob's files
        AnswerResolves { mode: 0 },                                     // #1
        frame(1, attach(secret(), vec![], None, vec![9])),
        AnswerResolves { mode: 3 }, // other files: refused
        frame(1, attach(secret(), vec![], None, vec![9, 13])),
        AnswerResolves { mode: 7 }, // one file fewer: refused
        frame(1, attach(secret(), vec![Word(0)], None, vec![0])),
        AnswerResolves { mode: 0 },                                  // alice's file: not found
        frame(1, attach(secret(), vec![Word(0)], None, vec![1, 1])), // an id twice
        frame(1, attach(secret(), vec![Word(0)], None, vec![13])),
        AnswerResolves { mode: 2 }, // the store is down
        frame(
            1,
            Send {
                room: secret(),
                text: vec![Word(3), Space, Word(1)],
                client_id: Some(2),
                reply_to: Some(at(1)),
                attachments: vec![13],
            },
        ),
        AnswerResolves { mode: 0 },
        loads(),                         // #2 quotes #1
        frame(2, search(None, vec![3])), // carol reads lobby only
        frame(1, search(Some(secret()), vec![3])),
        frame(0, search_from(bob, 1)),
        frame(2, search(Some(secret()), vec![3])), // not a member: refused
        AnswerSearches { mode: 2 },                // hostile: every room, deleted text, over the limit
        frame(1, search(None, vec![3])),
        Request { user: bob, msg: search(Some(secret()), vec![3, 1]) },
        frame(0, Delete { room: secret(), seq: at(2) }), // the owner deletes bob's message
        loads(),
        AnswerSearches { mode: 1 },                         // late: the answer still holds #2
        Request { user: alice, msg: search(None, vec![]) }, // empty
        frame(2, search(None, vec![0])),
        frame(2, search(None, vec![1])),
        frame(2, search(None, vec![2])),
        frame(2, search(None, vec![3])),
        frame(2, search(None, vec![4])), // the fifth in flight: too many
        Disconnect { slot: 2 },
        AnswerSearches { mode: 3 }, // unavailable, to nobody
        frame(1, search(None, vec![0])),
        AnswerSearches { mode: 7 }, // the query refused
        Advance { ms: 11_000 },
        frame(1, edit(secret(), at(1), vec![Word(1)])), // after the edit window
        loads(),
        frame(0, Remove { room: secret(), user: bob }),
        frame(1, Delete { room: secret(), seq: at(1) }), // no longer a member
        frame(1, search(Some(secret()), vec![3])),
        AnswerSearches { mode: 0 },
    ];
    seeds.push((
        "private-attachments-search",
        Scenario { tweaks: Tweaks { lifecycle: true, edit_window: true, ..Tweaks::default() }, ops },
    ));

    // Regression: a search answered after a message it found was deleted showed the deleted
    // text (the core dropped only hits outside the caller's rooms).
    let ops = vec![
        connect(0, alice),
        frame(0, Join(lobby())),
        frame(0, send(lobby(), vec![Word(3)], None)),
        frame(0, search(None, vec![3])),
        frame(0, Delete { room: lobby(), seq: at(1) }),
        loads(),
        AnswerSearches { mode: 1 },
    ];
    seeds.push(("search-deleted-while-asked", Scenario { tweaks: lifecycle, ops }));
    seeds
}
