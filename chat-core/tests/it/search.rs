//! `search`: bounds, the rooms the core authorises, the membership check on the answer, the
//! per-user bound, failures; `history {around}`; and a model property: no hit from a room the
//! caller cannot read at answer time, whatever the index answers.

use chat_core::testing::model;
use chat_core::testing::sim::{HeldSearch, naive_search};
use chat_core::testing::strategy::{Op, USERS, trace};
use chat_core::{
    ClientMsg, ErrorCode, Input, RoomKey, SearchFailure, SearchFrame, SearchItem, SearchOrder, SearchResults,
    ServerMsg, SessionId, Timestamp,
};
use proptest::prelude::*;

use crate::sim::*;

fn search(query: &str) -> ClientMsg {
    ClientMsg::Search(SearchFrame { query: query.into(), ..SearchFrame::default() })
}

fn results(frames: &[ServerMsg]) -> Vec<SearchResults> {
    frames
        .iter()
        .filter_map(|f| match f {
            ServerMsg::SearchResults(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

/// (room, seq) of every hit of the only `search_results` among `frames`.
fn hits(frames: &[ServerMsg]) -> Vec<(String, u64)> {
    let all = results(frames);
    assert_eq!(all.len(), 1, "one search_results in {frames:?}");
    all[0].items.iter().map(|i| (i.room.to_string(), i.seq)).collect()
}

fn key(s: &str) -> RoomKey {
    s.parse().unwrap()
}

fn item(room: &str, seq: u64) -> SearchItem {
    SearchItem {
        room: key(room),
        seq,
        sender: user("alice"),
        timestamp: Timestamp(0),
        snippet: "secret plans".into(),
        highlights: vec![[0, 6]],
        cut_before: false,
        cut_after: false,
    }
}

/// Alice and Bob in the lobby; Alice owns `group:secret` with Bob in it; DMs alice–bob and
/// carol–dave; each room has a message with "plans".
fn world() -> (Sim, SessionId, SessionId, SessionId) {
    let (mut sim, a, b) = two_in_lobby();
    let c = sim.connect("carol");
    sim.input(Input::AddUser { user: user("dave") });
    sim.recv(a, ClientMsg::CreateRoom { room_name: "secret".into(), private: true });
    sim.recv(a, ClientMsg::Invite { room: room("group:secret"), username: "bob".into() });
    sim.recv(b, ClientMsg::AcceptInvite { room: room("group:secret") });
    sim.recv(a, send("group:lobby", "lobby plans"));
    sim.recv(a, send("group:secret", "secret plans"));
    sim.recv(a, send("dm:alice:bob", "our plans"));
    sim.recv(c, send("dm:carol:dave", "carol's plans"));
    for s in [a, b, c] {
        sim.take(s);
    }
    (sim, a, b, c)
}

#[test]
fn a_session_finds_only_messages_of_its_rooms() {
    let (mut sim, a, b, c) = world();
    sim.recv(b, search("plans"));
    let mut got = hits(&sim.take(b));
    got.sort();
    let want = [("dm:alice:bob", 1), ("group:lobby", 1), ("group:secret", 1)];
    assert_eq!(got, want.map(|(r, s)| (r.to_owned(), s)));
    sim.recv(c, search("plans"));
    assert_eq!(hits(&sim.take(c)), [("dm:carol:dave".to_owned(), 1)], "never another pair's DM");
    // Only the asking session gets the answer.
    assert!(results(&sim.take(a)).is_empty());
}

#[test]
fn the_driver_is_asked_for_the_member_rooms_only() {
    let (mut sim, _a, b, c) = world();
    sim.hold_searches();
    sim.recv(b, search("plans"));
    sim.recv(c, ClientMsg::Search(SearchFrame { from: Some("@alice".into()), ..SearchFrame::default() }));
    let held = sim.take_searches();
    assert_eq!(held.len(), 2);
    let rooms = |h: &HeldSearch| h.rooms.iter().map(ToString::to_string).collect::<Vec<_>>();
    assert_eq!(rooms(&held[0]), ["group:lobby", "group:secret", "dm:alice:bob"]);
    assert_eq!(held[0].user, user("bob"));
    assert_eq!(held[0].query.text, "plans");
    assert_eq!(held[0].query.limit, chat_core::DEFAULT_SEARCH_LIMIT);
    assert_eq!(rooms(&held[1]), ["dm:carol:dave"]);
    assert_eq!(held[1].query.from, Some(user("alice")), "from: takes an @");
}

#[test]
fn a_room_filter_narrows_to_that_room_and_needs_membership() {
    let (mut sim, a, b, c) = world();
    sim.hold_searches();
    let frame = |room: &str| {
        ClientMsg::Search(SearchFrame { query: "plans".into(), room: Some(room.into()), ..Default::default() })
    };
    sim.recv(b, frame("group:secret"));
    let held = sim.take_searches();
    assert_eq!(held[0].rooms, [key("group:secret")]);
    // An index that ignores the filter: hits elsewhere are dropped.
    let answer = SearchResults { items: vec![item("group:lobby", 1), item("group:secret", 1)], ..Default::default() };
    sim.input(Input::Searched { load: held[0].load, result: Ok(answer) });
    assert_eq!(hits(&sim.take(b)), [("group:secret".to_owned(), 1)]);

    sim.recv(c, frame("group:secret"));
    assert_eq!(errors(&sim.take(c)), [ErrorCode::RoomNotFound], "a private room is not revealed");
    sim.recv(c, frame("dm:alice:bob"));
    assert!(!errors(&sim.take(c)).is_empty(), "another pair's DM is refused");
    sim.recv(a, ClientMsg::LeaveRoom { room: room("group:lobby") });
    sim.take(a);
    sim.recv(a, frame("group:lobby"));
    assert_eq!(errors(&sim.take(a)), [ErrorCode::NotAMember]);
    assert!(sim.take_searches().is_empty(), "refused searches never reach the driver");
}

#[test]
fn hits_are_checked_against_membership_when_the_answer_arrives() {
    let (mut sim, a, b, _c) = world();
    sim.hold_searches();
    sim.recv(b, search("plans"));
    let held = sim.take_searches();
    assert!(held[0].rooms.contains(&key("group:secret")));
    // Bob is removed from the private room while the query runs.
    sim.recv(a, ClientMsg::Remove { room: room("group:secret"), username: "bob".into() });
    sim.take(b);
    let answer = SearchResults {
        items: vec![item("group:secret", 1), item("group:lobby", 1), item("dm:carol:dave", 1), item("dm:alice:bob", 1)],
        next: Some("more".into()),
        stale: true,
    };
    sim.input(Input::Searched { load: held[0].load, result: Ok(answer) });
    let page = results(&sim.take(b)).remove(0);
    let got: Vec<String> = page.items.iter().map(|i| i.room.to_string()).collect();
    assert_eq!(got, ["group:lobby", "dm:alice:bob"]);
    assert_eq!((page.next.as_deref(), page.stale), (Some("more"), true), "paging and staleness pass through");

    // And a fresh search no longer asks for the room at all.
    sim.recv(b, search("plans"));
    assert!(!sim.take_searches()[0].rooms.contains(&key("group:secret")));
}

#[test]
fn rest_requests_search_too() {
    let (mut sim, _a, _b, _c) = world();
    let reply = sim.request("carol", search("PLANS"));
    let ServerMsg::SearchResults(page) = reply else { panic!("{reply:?}") };
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].room, key("dm:carol:dave"));
    assert_eq!(page.items[0].snippet, "carol's plans");
    assert_eq!(page.items[0].highlights, [[8, 13]]);
    let reply = sim.request("dave", search(""));
    assert!(matches!(reply, ServerMsg::Error { code: ErrorCode::InvalidQuery, .. }), "{reply:?}");
}

#[test]
fn bounds_are_checked_before_the_driver_is_asked() {
    let (mut sim, a, _b, _c) = world();
    sim.hold_searches();
    let cases = [
        (search(&"x".repeat(chat_core::MAX_SEARCH_QUERY_BYTES + 1)), ErrorCode::InvalidRequest),
        (search("   "), ErrorCode::InvalidQuery),
        (
            ClientMsg::Search(SearchFrame { query: "x".into(), limit: Some(0), ..Default::default() }),
            ErrorCode::InvalidRequest,
        ),
        (
            ClientMsg::Search(SearchFrame { query: "x".into(), limit: Some(51), ..Default::default() }),
            ErrorCode::InvalidRequest,
        ),
        (
            ClientMsg::Search(SearchFrame { query: "x".into(), cursor: Some("c".repeat(129)), ..Default::default() }),
            ErrorCode::InvalidRequest,
        ),
        (
            ClientMsg::Search(SearchFrame { from: Some("no one".into()), ..Default::default() }),
            ErrorCode::InvalidUsername,
        ),
        (
            ClientMsg::Search(SearchFrame { query: "x".into(), room: Some("nope".into()), ..Default::default() }),
            ErrorCode::InvalidRoom,
        ),
    ];
    for (msg, code) in cases {
        sim.recv(a, msg.clone());
        assert_eq!(errors(&sim.take(a)), [code], "{msg:?}");
    }
    assert!(sim.take_searches().is_empty());
    // At the bounds: accepted.
    let frame = SearchFrame {
        query: "x".repeat(chat_core::MAX_SEARCH_QUERY_BYTES),
        limit: Some(chat_core::MAX_SEARCH_LIMIT),
        cursor: Some("c".repeat(chat_core::MAX_SEARCH_CURSOR_BYTES)),
        order: Some(SearchOrder::Relevance),
        before: Some(10),
        after: Some(5),
        ..Default::default()
    };
    sim.recv(a, ClientMsg::Search(frame));
    let held = sim.take_searches();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].query.order, SearchOrder::Relevance);
    assert_eq!((held[0].query.before, held[0].query.after), (Some(Timestamp(10)), Some(Timestamp(5))));
}

#[test]
fn searches_in_flight_are_bounded_per_user() {
    let (mut sim, a, b, _c) = world();
    let a2 = sim.connect("alice");
    sim.take(a);
    sim.take(a2);
    sim.hold_searches();
    let max = sim.config().max_searches_per_user;
    for i in 0..max {
        sim.recv(if i % 2 == 0 { a } else { a2 }, search("plans"));
    }
    // The bound is per user, across sessions and REST.
    sim.recv(a2, search("plans"));
    assert_eq!(errors(&sim.take(a2)), [ErrorCode::TooManySearches]);
    let reply = sim.request("alice", search("plans"));
    assert!(matches!(reply, ServerMsg::Error { code: ErrorCode::TooManySearches, .. }), "{reply:?}");
    // Bob is not affected.
    sim.recv(b, search("plans"));
    assert!(errors(&sim.take(b)).is_empty());
    let held = sim.take_searches();
    assert_eq!(held.len(), max as usize + 1);
    // An answer frees a slot (also when its session went away).
    sim.disconnect(a);
    sim.input(Input::Searched { load: held[0].load, result: Ok(SearchResults::default()) });
    sim.recv(a2, search("plans"));
    assert!(errors(&sim.take(a2)).is_empty());
    // A stale or repeated answer changes nothing.
    sim.input(Input::Searched { load: held[0].load, result: Ok(SearchResults::default()) });
    assert!(results(&sim.take(a2)).is_empty());
}

#[test]
fn driver_failures_become_error_codes() {
    let (mut sim, a, _b, _c) = world();
    sim.hold_searches();
    sim.recv(a, search("\"unclosed"));
    sim.recv(a, search("plans"));
    sim.recv(a, search("plans"));
    let held = sim.take_searches();
    let failures = [
        SearchFailure::Query("unclosed quote".into()),
        SearchFailure::Unavailable,
        SearchFailure::index(std::io::Error::other("disk")),
    ];
    for (h, f) in held.iter().zip(failures) {
        sim.input(Input::Searched { load: h.load, result: Err(f) });
    }
    let frames = sim.take(a);
    assert_eq!(errors(&frames), [ErrorCode::InvalidQuery, ErrorCode::SearchUnavailable, ErrorCode::SearchUnavailable]);
    let ServerMsg::Error { message, .. } = &frames[0] else { panic!() };
    assert_eq!(message, "unclosed quote");
}

#[test]
fn the_frame_round_trips_in_json() {
    let json = r#"{"type":"search","query":"deploy from:bob","room":"group:lobby","limit":5,"order":"relevance"}"#;
    let msg: ClientMsg = serde_json::from_str(json).unwrap();
    let ClientMsg::Search(frame) = &msg else { panic!("{msg:?}") };
    assert_eq!(frame.limit, Some(5));
    assert_eq!(frame.order, Some(SearchOrder::Relevance));
    let page =
        ServerMsg::SearchResults(SearchResults { items: vec![item("group:lobby", 3)], next: None, stale: false });
    let out = serde_json::to_value(&page).unwrap();
    assert_eq!(out["type"], "search_results");
    assert_eq!(out["items"][0]["room"], "group:lobby");
    assert_eq!(out["items"][0]["highlights"], serde_json::json!([[0, 6]]));
    assert!(out.get("next").is_none());
}

fn around(seq: u64, limit: Option<u32>) -> ClientMsg {
    ClientMsg::History { room: room("group:lobby"), before: None, after: None, limit, around: Some(seq) }
}

fn page_of(frames: &[ServerMsg]) -> (Vec<u64>, bool) {
    frames
        .iter()
        .find_map(|f| match f {
            ServerMsg::History { messages, more, .. } => Some((messages.iter().map(|m| m.seq).collect(), *more)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no history in {frames:?}"))
}

#[test]
fn history_around_loads_the_context_of_a_message() {
    let mut sim = Sim::with_config(model::config());
    let a = sim.connect("alice");
    let b = sim.connect("bob");
    sim.recv(a, join("group:lobby"));
    sim.recv(b, join("group:lobby"));
    for i in 1..=30 {
        sim.recv(a, send("group:lobby", &format!("m{i}")));
    }
    sim.take(a);
    sim.recv(a, around(10, Some(5)));
    assert_eq!(page_of(&sim.take(a)), ((8..=12).collect(), true));
    sim.recv(a, around(2, Some(6)));
    assert_eq!(page_of(&sim.take(a)), ((1..=4).collect(), false), "older side short: no filling");
    sim.recv(a, around(29, Some(6)));
    assert_eq!(page_of(&sim.take(a)), ((26..=30).collect(), true));
    sim.recv(a, around(10, Some(1)));
    assert_eq!(page_of(&sim.take(a)).0, [10], "limit 1 is the message alone");
    let reply = sim.request("bob", around(15, None));
    let ServerMsg::History { messages, .. } = reply else { panic!("{reply:?}") };
    assert_eq!(messages.first().map(|m| m.seq), Some(1), "default limit 50: 25 before, the rest after");
    let both =
        ClientMsg::History { room: room("group:lobby"), before: Some(3), after: None, limit: None, around: Some(2) };
    sim.recv(a, both);
    assert_eq!(errors(&sim.take(a)), [ErrorCode::InvalidRequest]);
    // Members only, like every history read.
    let c = sim.connect("carol");
    sim.take(c);
    sim.recv(c, around(10, None));
    assert_eq!(errors(&sim.take(c)), [ErrorCode::NotAMember]);
}

#[test]
fn history_around_keeps_the_target_when_the_page_is_cut() {
    let mut config = model::config();
    config.max_page_bytes = 24 * 1024;
    let mut sim = Sim::with_config(config);
    let a = sim.connect("alice");
    sim.recv(a, join("group:lobby"));
    for i in 1..=40 {
        sim.recv(a, send("group:lobby", &format!("{i} {}", "y".repeat(3_000))));
    }
    sim.take(a);
    sim.recv(a, around(20, Some(40)));
    let (seqs, _) = page_of(&sim.take(a));
    assert!(seqs.len() < 40, "the byte budget cut the page");
    assert!(seqs.contains(&20), "{seqs:?}");
    let before = seqs.iter().filter(|&&s| s < 20).count();
    let after = seqs.len() - before;
    assert!(after.abs_diff(before) <= 1, "cut evenly around the target: {seqs:?}");
}

/// Every room a trace can name: the groups and every DM, the caller's or not.
fn every_room() -> Vec<RoomKey> {
    let mut rooms: Vec<RoomKey> = ["group:g0", "group:g1", "group:g2"].iter().map(|r| key(r)).collect();
    for (i, x) in USERS.iter().enumerate() {
        for y in &USERS[i + 1..] {
            rooms.push(key(&format!("dm:{x}:{y}")));
        }
    }
    rooms
}

proptest! {
    /// Whatever the index answers (here: a hit in every room there is, held while the trace
    /// goes on: leaves, removals from the private room, restarts), every hit a caller receives
    /// is in a room they are a member of when the answer is delivered; and searches answered
    /// by the naive index find only their rooms' messages.
    #[test]
    fn search_results_never_leave_the_callers_rooms(ops in trace(1..60), plan in proptest::collection::vec(0u8..5, 60)) {
        let mut sim = Sim::with_config(model::config());
        let mut model = model::Model::new();
        sim.hold_searches();
        let mut delivered = 0usize;
        for (op, step) in ops.iter().zip(plan.iter().cycle()) {
            model.step(&mut sim, op);
            model.check(&sim);
            if matches!(op, Op::Restart) {
                // A restart is a new machine: the driver drops what the old one asked for.
                sim.take_searches();
            }
            let live: Vec<SessionId> =
                (1..sim.peek_next_session()).map(SessionId).filter(|s| sim.chat().session_user(*s).is_some()).collect();
            match step {
                0 => {
                    for s in live {
                        sim.recv(s, search("x"));
                    }
                }
                1 => {
                    for held in sim.take_searches() {
                        let items = every_room().iter().map(|r| item(&r.to_string(), 1)).collect();
                        let before = sim.trace().len();
                        let answer = SearchResults { items, ..Default::default() };
                        sim.input(Input::Searched { load: held.load, result: Ok(answer) });
                        for event in &sim.trace()[before..] {
                            let Event::Deliver(sessions, msg) = event else { continue };
                            let ServerMsg::SearchResults(page) = &**msg else { continue };
                            prop_assert_eq!(sessions.len(), 1, "an answer goes to the asking session only");
                            let who = sim.chat().session_user(sessions[0]).expect("a live session").clone();
                            prop_assert_eq!(&who, &held.user);
                            for hit in &page.items {
                                prop_assert!(sim.chat().is_member(&who, &hit.room), "{} got a hit in {}", who, hit.room);
                                prop_assert!(held.rooms.contains(&hit.room) || sim.chat().is_member(&who, &hit.room));
                            }
                            delivered += page.items.len();
                        }
                    }
                }
                2 => {
                    // The naive index, given the authorised rooms, agrees.
                    for held in sim.take_searches() {
                        let result = naive_search(sim.journal(), &held.rooms, &held.query);
                        sim.input(Input::Searched { load: held.load, result });
                    }
                }
                _ => {}
            }
        }
        let _ = delivered;
    }
}
