use chat_search::{MAX_LIMIT, Order, QueryError, SearchError, SearchQuery};

use crate::common::*;

const ROOMS: &[&str] = &["group:a", "group:b", "group:c"];

/// 90 messages over three rooms, three per millisecond (one per room): ties everywhere.
fn corpus() -> Vec<chat_core::Message> {
    let mut out = Vec::new();
    for i in 0..30u64 {
        for r in ROOMS {
            out.push(message(r, i + 1, 1_000 + i, "alice", &format!("common word{} text", i % 7)));
        }
    }
    out
}

fn all_pages(index: &chat_search::SearchIndex, q: SearchQuery) -> Vec<Vec<(String, u64)>> {
    let mut pages = Vec::new();
    let mut page = index.reader().query(&q).unwrap();
    loop {
        pages.push(keys(&page));
        let Some(next) = page.next.clone() else { break };
        page = index.reader().query(&q.clone().with_cursor(&next).unwrap()).unwrap();
    }
    pages
}

#[test]
fn newest_first_pages_cover_every_hit_once_in_order() {
    let messages = corpus();
    let (_dir, index) = index_with(&messages);
    let q = SearchQuery::parse("common", readable(ROOMS)).unwrap().with_limit(7).unwrap();
    let pages = all_pages(&index, q);
    assert_eq!(pages.len(), 13); // 90 = 12 * 7 + 6
    assert!(pages.iter().take(12).all(|p| p.len() == 7));
    let flat: Vec<(String, u64)> = pages.concat();
    assert_eq!(flat.len(), 90);
    // Newest first: seqs (= timestamps here) never increase.
    assert!(flat.windows(2).all(|w| w[0].1 >= w[1].1));
    let mut unique = flat.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 90);
}

#[test]
fn newest_first_paging_is_stable_while_new_messages_arrive() {
    let messages = corpus();
    let (_dir, mut index) = index_with(&messages);
    let q = SearchQuery::parse("common", readable(ROOMS)).unwrap().with_limit(10).unwrap();
    let first = index.reader().query(&q).unwrap();
    // New messages land between two pages: the next page continues where the first stopped.
    for r in ROOMS {
        index.index(&message(r, 31, 5_000, "bob", "common newer")).unwrap();
    }
    index.commit().unwrap();
    let second = index.reader().query(&q.clone().with_cursor(first.next.as_deref().unwrap()).unwrap()).unwrap();
    let mut seen: Vec<_> = keys(&first);
    seen.extend(keys(&second));
    assert!(seen.iter().all(|(_, seq)| *seq <= 30));
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 20);
}

#[test]
fn relevance_pages_rank_and_do_not_repeat() {
    let mut messages = corpus();
    messages.push(message("group:a", 31, 10, "bob", "needle needle needle"));
    messages.push(message("group:b", 31, 20, "bob", "a needle in a very long haystack of many words here"));
    let (_dir, index) = index_with(&messages);
    let q = SearchQuery::parse("needle", readable(ROOMS)).unwrap().with_order(Order::Relevance);
    let page = index.reader().query(&q).unwrap();
    assert_eq!(keys(&page), [("group:a".into(), 31), ("group:b".into(), 31)]);
    let q = SearchQuery::parse("common", readable(ROOMS)).unwrap().with_order(Order::Relevance).with_limit(25).unwrap();
    let flat: Vec<_> = all_pages(&index, q).concat();
    let mut unique = flat.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((flat.len(), unique.len()), (90, 90));
}

#[test]
fn limits_are_bounded_and_cursors_checked() {
    let (_dir, index) = index_with(&corpus());
    let q = SearchQuery::parse("common", readable(ROOMS)).unwrap().with_limit(10_000).unwrap();
    assert_eq!(q.limit(), MAX_LIMIT);
    assert_eq!(index.reader().query(&q).unwrap().hits.len(), MAX_LIMIT as usize);
    // A newest-first cursor does not fit a relevance query.
    let next = index.reader().query(&q).unwrap().next.unwrap();
    let mixed = q.with_order(Order::Relevance).with_cursor(&next).unwrap();
    assert!(matches!(index.reader().query(&mixed), Err(SearchError::Query(QueryError::BadCursor))));
    // Relevance paging stops at its depth bound.
    let deep = format!("r{:x}", chat_search::MAX_RELEVANCE_OFFSET + 1);
    assert_eq!(SearchQuery::parse("x", readable(ROOMS)).unwrap().with_cursor(&deep), Err(QueryError::BadCursor));
}
