use chat_search::{ReadableRooms, SearchQuery};

use crate::common::*;

fn corpus() -> Vec<chat_core::Message> {
    vec![
        message("group:lobby", 1, 10, "alice", "hello lobby"),
        message("group:secret", 1, 11, "carol", "hello secret plans"),
        message("dm:alice:bob", 1, 12, "alice", "hello bob, privately"),
        message("dm:bob:carol", 1, 13, "carol", "hello bob from carol"),
        message("group:lobby", 2, 14, "bob", "hello again"),
    ]
}

#[test]
fn hits_come_only_from_readable_rooms() {
    let (_dir, index) = index_with(&corpus());
    // alice reads the lobby and her DM with bob: never the secret room or bob and carol's DM.
    let page = search(&index, "hello", &["group:lobby", "dm:alice:bob"]);
    assert_eq!(keys(&page), [("group:lobby".into(), 2), ("dm:alice:bob".into(), 1), ("group:lobby".into(), 1)]);
    let page = search(&index, "hello", &["dm:bob:carol"]);
    assert_eq!(keys(&page), [("dm:bob:carol".into(), 1)]);
}

#[test]
fn in_filter_cannot_reach_an_unreadable_room() {
    let (_dir, index) = index_with(&corpus());
    assert!(search(&index, "in:secret plans", &["group:lobby"]).hits.is_empty());
    assert!(search(&index, "in:dm:bob:carol hello", &["group:lobby", "dm:alice:bob"]).hits.is_empty());
    assert_eq!(search(&index, "in:#secret plans", &["group:secret"]).hits.len(), 1);
}

#[test]
fn no_readable_room_means_no_hit() {
    let (_dir, index) = index_with(&corpus());
    let q = SearchQuery::parse("hello", ReadableRooms::default()).unwrap();
    assert!(index.reader().query(&q).unwrap().hits.is_empty());
}

#[test]
fn removal_from_a_private_room_ends_its_hits() {
    let (_dir, index) = index_with(&corpus());
    // Carol was a member of the secret room: the core passed it in her set.
    assert_eq!(search(&index, "plans", &["group:lobby", "group:secret"]).hits.len(), 1);
    // After her removal, the core's set no longer has it: the same query finds nothing.
    assert!(search(&index, "plans", &["group:lobby"]).hits.is_empty());
}

/// Many rooms, random readable subsets: the hits are exactly the matching messages of the set.
#[test]
fn random_room_sets_match_a_naive_filter() {
    let rooms: Vec<String> = (0..12).map(|i| format!("group:r{i}")).collect();
    let mut messages = Vec::new();
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut seqs = vec![0u64; rooms.len()];
    for i in 0..400u64 {
        let r = (next() % rooms.len() as u64) as usize;
        seqs[r] += 1;
        let word = if next() % 3 == 0 { "needle" } else { "hay" };
        messages.push(message(&rooms[r], seqs[r], 1_000 + i, "alice", &format!("{word} number {i}")));
    }
    let (_dir, index) = index_with(&messages);
    for _ in 0..30 {
        let set: Vec<&str> = rooms.iter().filter(|_| next() % 2 == 0).map(String::as_str).collect();
        let q = SearchQuery::parse("needle", readable(&set)).unwrap().with_limit(50).unwrap();
        let mut got = Vec::new();
        let mut page = index.reader().query(&q).unwrap();
        loop {
            got.extend(keys(&page));
            let Some(next) = page.next.clone() else { break };
            page = index.reader().query(&q.clone().with_cursor(&next).unwrap()).unwrap();
        }
        let mut want: Vec<(String, u64)> = messages
            .iter()
            .filter(|m| set.contains(&m.room.to_string().as_str()) && m.content.starts_with("needle"))
            .map(|m| (m.room.to_string(), m.seq))
            .collect();
        want.sort();
        got.sort();
        assert_eq!(got, want, "rooms {set:?}");
    }
}

/// More readable rooms than the index filters by terms: the same rule through the other path.
#[test]
fn many_readable_rooms_filter_the_same_way() {
    let rooms: Vec<String> = (0..150).map(|i| format!("group:many{i}")).collect();
    let messages: Vec<_> =
        rooms.iter().enumerate().map(|(i, r)| message(r, 1, 1_000 + i as u64, "alice", "shared topic")).collect();
    let (_dir, index) = index_with(&messages);
    let set: Vec<&str> = rooms.iter().step_by(2).map(String::as_str).collect();
    assert_eq!(set.len(), 75);
    for text in ["shared", "from:alice"] {
        let q = SearchQuery::parse(text, readable(&set)).unwrap().with_limit(50).unwrap();
        let mut got = Vec::new();
        let mut page = index.reader().query(&q).unwrap();
        loop {
            got.extend(keys(&page));
            let Some(next) = page.next.clone() else { break };
            page = index.reader().query(&q.clone().with_cursor(&next).unwrap()).unwrap();
        }
        got.sort();
        let mut want: Vec<(String, u64)> = set.iter().map(|r| (r.to_string(), 1)).collect();
        want.sort();
        assert_eq!(got, want, "{text}");
    }
    // A relevance query, too.
    let q = SearchQuery::parse("topic", readable(&set)).unwrap().with_order(chat_search::Order::Relevance);
    let page = index.reader().query(&q).unwrap();
    assert!(page.hits.iter().all(|h| set.contains(&h.room.to_string().as_str())));
    assert_eq!(page.hits.len(), 20);
}
