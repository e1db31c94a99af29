//! History pages (members only) and resume after reconnect.

use std::sync::Arc;

use chat_core::protocol::ResumePoint;
use chat_core::{
    ClientMsg, Codec, Config, ErrorCode, Journal, LogEntry, MemoryJournal, Message, RoomKind, ServerMsg, Timestamp,
};

use proptest::prelude::*;

use crate::sim::*;

/// Every history frame among `frames`: (`seqs`, `resume`, `more`, encoded JSON bytes).
fn pages(frames: &[ServerMsg]) -> Vec<(Vec<u64>, bool, bool, usize)> {
    frames
        .iter()
        .filter_map(|f| match f {
            ServerMsg::History { messages, resume, more, .. } => {
                let bytes = Codec::Json.encode_server(f).unwrap().len();
                assert!(bytes >= Codec::MsgPack.encode_server(f).unwrap().len(), "MessagePack is never longer");
                Some((messages.iter().map(|m| m.seq).collect(), *resume, *more, bytes))
            }
            _ => None,
        })
        .collect()
}

fn more_of(frames: &[ServerMsg]) -> bool {
    frames
        .iter()
        .find_map(|f| match f {
            ServerMsg::History { more, .. } => Some(*more),
            _ => None,
        })
        .unwrap()
}

fn page(frames: &[ServerMsg]) -> Vec<u64> {
    frames
        .iter()
        .find_map(|f| match f {
            ServerMsg::History { messages, .. } => Some(messages.iter().map(|m| m.seq).collect()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no history frame in {frames:?}"))
}

fn history(before: Option<u64>, after: Option<u64>, limit: Option<u32>) -> ClientMsg {
    ClientMsg::History { room: room("group:lobby"), before, after, limit, around: None }
}

#[test]
fn pages_by_seq() {
    let mut sim = Sim::new();
    let a = sim.connect("alice");
    sim.recv(a, join("group:lobby"));
    for i in 1..=30 {
        sim.recv(a, send("group:lobby", &format!("m{i}")));
        sim.advance(1_000);
    }
    sim.take(a);
    sim.recv(a, history(None, None, Some(5)));
    let frames = sim.take(a);
    assert_eq!((page(&frames), more_of(&frames)), (vec![26, 27, 28, 29, 30], true));
    sim.recv(a, history(Some(26), None, Some(5)));
    assert_eq!(page(&sim.take(a)), [21, 22, 23, 24, 25]);
    sim.recv(a, history(None, Some(28), None));
    let frames = sim.take(a);
    assert_eq!((page(&frames), more_of(&frames)), (vec![29, 30], false), "nothing after 30");
    sim.recv(a, history(None, Some(20), Some(5)));
    let frames = sim.take(a);
    assert_eq!((page(&frames), more_of(&frames)), (vec![21, 22, 23, 24, 25], true), "cut by the limit");
    sim.recv(a, history(Some(3), None, None));
    let frames = sim.take(a);
    assert_eq!((page(&frames), more_of(&frames)), (vec![1, 2], false), "nothing before 1");
    sim.recv(a, history(None, None, Some(101)));
    sim.recv(a, history(Some(1), Some(1), None));
    assert_eq!(errors(&sim.take(a)), [ErrorCode::InvalidRequest, ErrorCode::InvalidRequest]);
}

#[test]
fn resume_sends_exactly_what_was_missed() {
    let mut sim = Sim::new();
    let a = sim.connect("alice");
    let b = sim.connect("bob");
    sim.recv(a, join("group:lobby"));
    sim.recv(b, join("group:lobby"));
    for i in 1..=3 {
        sim.recv(a, send("group:lobby", &format!("m{i}")));
    }
    let seen_by_b = messages(&sim.take(b)).last().map(|m| m.1).unwrap();
    assert_eq!(seen_by_b, 3);
    sim.disconnect(b);
    for i in 4..=7 {
        sim.recv(a, send("group:lobby", &format!("m{i}")));
    }
    let b = sim.connect("bob");
    sim.recv(a, send("group:lobby", "m8 live")); // arrives live before the resume
    sim.recv(
        b,
        ClientMsg::Resume {
            rooms: vec![chat_core::protocol::ResumePoint { room: "group:lobby".into(), last_seq: 3, last_rev: None }],
        },
    );
    let frames = sim.take(b);
    let live: Vec<u64> = messages(&frames).iter().map(|m| m.1).collect();
    assert_eq!(live, [8]);
    let resumed: Vec<&ServerMsg> =
        frames.iter().filter(|f| matches!(f, ServerMsg::History { resume: true, .. })).collect();
    assert_eq!(resumed.len(), 1);
    assert_eq!(page(&frames), [4, 5, 6, 7], "exactly the gap, no duplicate of the live message");
}

#[test]
fn resume_beyond_the_bound_is_an_explicit_reset() {
    let mut config = Config::default();
    config.resume_limit = 3;
    config.send_burst = 100;
    let mut sim = Sim::with_config(config);
    let a = sim.connect("alice");
    sim.recv(a, join("group:lobby"));
    for i in 1..=10 {
        sim.recv(a, send("group:lobby", &format!("m{i}")));
    }
    let b = sim.connect("alice");
    sim.take(b);
    sim.recv(
        b,
        ClientMsg::Resume {
            rooms: vec![chat_core::protocol::ResumePoint { room: "group:lobby".into(), last_seq: 2, last_rev: None }],
        },
    );
    let frames = sim.take(b);
    assert!(matches!(&frames[..], [ServerMsg::ResumeReset { latest_seq: 10, .. }]), "{frames:?}");
    sim.recv(
        b,
        ClientMsg::Resume {
            rooms: vec![chat_core::protocol::ResumePoint { room: "group:lobby".into(), last_seq: 7, last_rev: None }],
        },
    );
    assert_eq!(page(&sim.take(b)), [8, 9, 10]);
}

#[test]
fn history_of_a_room_you_left_is_refused_even_if_the_load_was_in_flight() {
    let mut sim = Sim::new();
    let a = sim.connect("alice");
    let b = sim.connect("bob");
    sim.recv(a, join("group:lobby"));
    sim.recv(b, join("group:lobby"));
    sim.recv(a, send("group:lobby", "secret-ish"));
    sim.take(b);
    // Bob asks for history and leaves before the driver answers the load.
    sim.queue(chat_core::Input::Receive { session: b, msg: history(None, None, None) });
    sim.queue(chat_core::Input::Receive { session: b, msg: ClientMsg::LeaveRoom { room: room("group:lobby") } });
    sim.drain();
    let frames = sim.take(b);
    assert!(frames.iter().all(|f| !matches!(f, ServerMsg::History { .. })), "{frames:?}");
    assert!(errors(&frames).contains(&ErrorCode::NotAMember));
}

/// A room of `count` stored messages with this content, written to the journal directly (as a
/// store may hold from before the content rules), and a sim restored from it with alice a member.
fn stored_room(count: u64, content: &str) -> Sim {
    stored_room_with(Config::default(), &vec![content.to_owned(); count as usize])
}

fn stored_room_with(config: Config, contents: &[String]) -> Sim {
    let (alice, lobby) = (user("alice"), "group:lobby".parse::<chat_core::RoomKey>().unwrap());
    let t = Timestamp(1_700_000_000_000);
    let mut log = vec![
        LogEntry::UserAdded { user: alice.clone() },
        LogEntry::RoomCreated { room: lobby.clone(), kind: RoomKind::Public, owner: None, timestamp: t },
        LogEntry::MemberAdded { room: lobby.clone(), user: alice.clone() },
    ];
    for (seq, content) in (1..).zip(contents) {
        let m = Message {
            attachments: Vec::new(),
            room: lobby.clone(),
            seq,
            timestamp: t,
            sender: alice.clone(),
            content: content.clone(),
            mentions: Vec::new(),
            client_id: None,
            rev: 0,
            changed_rev: 0,
            edited_at: None,
            deleted: false,
            deleted_at: None,
            reply_to: None,
            reactions: Vec::new(),
        };
        log.push(LogEntry::Message(Arc::new(m)));
    }
    let mut journal = MemoryJournal::new();
    journal.append(&log).unwrap();
    Sim::with_journal(config, journal)
}

/// Pages backwards from the latest with `before = messages[0].seq` until `more: false`.
fn page_back(sim: &mut Sim, limit: u32) -> Vec<(Vec<u64>, bool, bool, usize)> {
    let a = sim.connect("alice");
    sim.take(a);
    let mut all = Vec::new();
    let mut before = None;
    loop {
        sim.recv(a, history(before, None, Some(limit)));
        let got = pages(&sim.take(a));
        assert_eq!(got.len(), 1, "one answer per request");
        let (seqs, _, more, _) = got[0].clone();
        all.push(got[0].clone());
        if !more {
            return all;
        }
        before = Some(seqs[0]);
    }
}

#[test]
fn a_page_of_messages_that_escape_large_is_cut_by_encoded_size() {
    // 12 stored messages of 4,000 control characters: 24 KB each in JSON, 288 KB as one page.
    let mut sim = stored_room(12, &"\u{1}".repeat(4_000));
    let got = page_back(&mut sim, 50);
    let budget = Config::default().max_page_bytes;
    assert!(got.len() >= 3, "cut into several pages: {:?}", got.iter().map(|p| p.0.len()).collect::<Vec<_>>());
    for (seqs, resume, _, bytes) in &got {
        assert!(!resume);
        assert!(!seqs.is_empty(), "every page carries at least one message");
        assert!(*bytes <= budget, "a page of {bytes} bytes is over the {budget}-byte budget");
    }
    let mut seen: Vec<u64> = got.iter().rev().flat_map(|p| p.0.clone()).collect();
    assert_eq!(seen, (1..=12).collect::<Vec<_>>(), "every message once, in order");
    seen.dedup();
    assert_eq!(seen.len(), 12);
}

#[test]
fn legal_content_that_escapes_large_is_cut_too() {
    // Sent through the core: 4,000 quotes (2 bytes each in JSON) and 4,000 emoji (4 bytes each).
    let mut config = Config::default();
    config.send_burst = 100;
    config.max_page_bytes = 32 * 1024;
    let mut sim = Sim::with_config(config.clone());
    let a = sim.connect("alice");
    sim.recv(a, join("group:lobby"));
    for i in 0..12 {
        let content = if i % 2 == 0 { "\"".repeat(4_000) } else { "\u{1F600}".repeat(4_000) };
        sim.recv(a, send("group:lobby", &content));
    }
    let acks = sim.take(a).iter().filter(|f| matches!(f, ServerMsg::Ack { .. })).count();
    assert_eq!(acks, 12, "the content is legal");
    let got = page_back(&mut sim, 100);
    assert!(got.len() > 1);
    assert!(got.iter().all(|p| p.3 <= config.max_page_bytes && !p.0.is_empty()));
    let seen: Vec<u64> = got.iter().rev().flat_map(|p| p.0.clone()).collect();
    assert_eq!(seen, (1..=12).collect::<Vec<_>>());
    // Forward pages cut the same way: `after = last.seq` until `more: false`.
    let b = sim.connect("alice");
    sim.take(b);
    let (mut after, mut forward) = (0, Vec::new());
    loop {
        sim.recv(b, history(None, Some(after), Some(100)));
        let (seqs, _, more, bytes) = pages(&sim.take(b)).remove(0);
        assert!(bytes <= config.max_page_bytes);
        after = *seqs.last().unwrap();
        forward.extend(seqs);
        if !more {
            break;
        }
    }
    assert_eq!(forward, (1..=12).collect::<Vec<_>>());
}

#[test]
fn a_page_always_carries_one_message_even_over_the_budget() {
    let mut config = Config::default();
    config.max_page_bytes = 100; // smaller than any message
    let mut sim = Sim::with_config(config);
    let a = sim.connect("alice");
    sim.recv(a, join("group:lobby"));
    for i in 1..=3 {
        sim.recv(a, send("group:lobby", &format!("m{i}")));
    }
    sim.take(a);
    sim.recv(a, history(None, None, None));
    let frames = sim.take(a);
    assert_eq!((page(&frames), more_of(&frames)), (vec![3], true));
}

#[test]
fn resume_continues_over_several_pages_until_done() {
    // 300 messages of 900 characters missed: one page would be ~300 KB.
    let mut config = Config::default();
    config.send_burst = 1_000;
    config.send_rate_per_sec = 1_000;
    let mut sim = Sim::with_config(config);
    let a = sim.connect("alice");
    let b = sim.connect("bob");
    sim.recv(a, join("group:lobby"));
    sim.recv(b, join("group:lobby"));
    sim.disconnect(b);
    let text = "lorem ipsum ".repeat(75);
    for i in 0..300 {
        sim.recv(a, send("group:lobby", &format!("{i:03} {}", &text[..896])));
    }
    let b = sim.connect("bob");
    sim.take(b);
    sim.recv(
        b,
        ClientMsg::Resume { rooms: vec![ResumePoint { room: "group:lobby".into(), last_seq: 0, last_rev: None }] },
    );
    let got = pages(&sim.take(b));
    assert!(got.len() > 1, "several frames");
    let (last, rest) = got.split_last().unwrap();
    assert!(rest.iter().all(|p| p.1 && p.2), "every page but the last: resume and more");
    assert!(last.1 && !last.2, "the last page: resume, more false");
    assert!(got.iter().all(|p| p.3 <= 256 * 1024), "no frame over 256 KiB");
    let seen: Vec<u64> = got.iter().flat_map(|p| p.0.clone()).collect();
    assert_eq!(seen, (1..=300).collect::<Vec<_>>(), "every message, in order, each once");
}

#[test]
fn resume_of_several_rooms_pages_each_room_in_order() {
    let mut config = Config::default();
    config.send_burst = 1_000;
    config.send_rate_per_sec = 1_000;
    config.max_page_bytes = 4 * 1024;
    let mut sim = Sim::with_config(config);
    let a = sim.connect("alice");
    for key in ["group:one", "group:two"] {
        sim.recv(a, join(key));
    }
    for i in 0..40 {
        sim.recv(a, send(if i % 2 == 0 { "group:one" } else { "group:two" }, &"x".repeat(200)));
    }
    let b = sim.connect("alice");
    sim.take(b);
    let rooms =
        ["group:one", "group:two"].map(|r| ResumePoint { room: r.into(), last_seq: 5, last_rev: None }).to_vec();
    sim.recv(b, ClientMsg::Resume { rooms });
    let frames = sim.take(b);
    for key in ["group:one", "group:two"] {
        let seqs: Vec<u64> = frames
            .iter()
            .filter_map(|f| match f {
                ServerMsg::History { room, messages, resume: true, .. } if room.to_string() == key => {
                    Some(messages.iter().map(|m| m.seq).collect::<Vec<_>>())
                }
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(seqs, (6..=20).collect::<Vec<_>>(), "{key}");
    }
}

fn content() -> impl Strategy<Value = String> {
    let c = prop_oneof![
        4 => proptest::char::range('a', 'z'),
        1 => Just('"'),
        1 => Just('\\'),
        1 => proptest::char::range('\0', '\u{1f}'),
        1 => proptest::char::any(),
    ];
    (0usize..300).prop_flat_map(move |n| proptest::collection::vec(c.clone(), n).prop_map(|v| v.into_iter().collect()))
}

proptest! {
    /// Paging back from the latest (and forward from 0) returns every stored message once, in
    /// order; every page is within the byte budget unless it holds a single message; `more` is
    /// false exactly on the last page.
    #[test]
    fn pages_cover_the_room_within_the_budget(
        contents in proptest::collection::vec(content(), 1..40),
        budget in 200usize..20_000,
        limit in 1u32..=100,
    ) {
        let mut config = Config::default();
        config.max_page_bytes = budget;
        let mut sim = stored_room_with(config, &contents);
        let n = contents.len() as u64;
        let back = page_back(&mut sim, limit);
        for (seqs, _, _, bytes) in &back {
            prop_assert!(!seqs.is_empty());
            prop_assert!(seqs.len() <= limit as usize);
            prop_assert!(*bytes <= budget || seqs.len() == 1, "{} bytes over {budget}", bytes);
        }
        let seen: Vec<u64> = back.iter().rev().flat_map(|p| p.0.clone()).collect();
        prop_assert_eq!(seen, (1..=n).collect::<Vec<_>>());

        let a = sim.connect("alice");
        sim.take(a);
        let (mut after, mut forward) = (0, Vec::new());
        loop {
            sim.recv(a, history(None, Some(after), Some(limit)));
            let (seqs, _, more, bytes) = pages(&sim.take(a)).remove(0);
            prop_assert!(bytes <= budget || seqs.len() == 1);
            after = *seqs.last().unwrap();
            forward.extend(seqs);
            if !more {
                break;
            }
        }
        prop_assert_eq!(forward, (1..=n).collect::<Vec<_>>());
    }
}

proptest! {
    /// A resume of any gap up to `resume_limit`, under any page budget, sends exactly the missed
    /// messages, in order, each once, as `resume` pages whose `more` is false on the last only;
    /// no live message is repeated.
    #[test]
    fn resume_pages_cover_exactly_the_gap(
        contents in proptest::collection::vec(content(), 1..50),
        budget in 200usize..4_000,
        last_seq in 0u64..60,
    ) {
        let mut config = Config::default();
        config.max_page_bytes = budget;
        let mut sim = stored_room_with(config, &contents);
        let n = contents.len() as u64;
        let a = sim.connect("alice");
        sim.take(a);
        sim.recv(a, ClientMsg::Resume { rooms: vec![ResumePoint { room: "group:lobby".into(), last_seq, last_rev: None }] });
        let got = pages(&sim.take(a));
        let seen: Vec<u64> = got.iter().flat_map(|p| p.0.clone()).collect();
        prop_assert_eq!(seen, (last_seq + 1..=n).collect::<Vec<_>>());
        prop_assert!(got.iter().all(|p| p.1), "resume pages only");
        if let Some((last, rest)) = got.split_last() {
            prop_assert!(!last.2 && rest.iter().all(|p| p.2), "more on every page but the last");
        }
        prop_assert!(got.iter().all(|p| p.3 <= budget || p.0.len() == 1));
    }
}
