//! The core's request answered: `SearchReader::answer` maps a `chat_core::SearchRequest` over
//! the authorised rooms onto a query, and the page onto `search_results` items.

use chat_core::{SearchFailure, SearchOrder, SearchRequest, Timestamp};

use crate::common::*;

fn request(text: &str) -> SearchRequest {
    SearchRequest {
        text: text.into(),
        from: None,
        before: None,
        after: None,
        limit: 20,
        cursor: None,
        order: SearchOrder::Newest,
    }
}

#[test]
fn requests_are_answered_over_the_authorised_rooms_only() {
    let (_dir, index) = index_with(&[
        message("group:lobby", 1, 1_000, "alice", "(see @bob)"),
        message("group:lobby", 2, 2_000, "bob", "ship it, bob"),
        message("dm:alice:bob", 1, 3_000, "alice", "bob?"),
    ]);
    let reader = index.reader();
    let page = reader.answer(&request("bob"), vec![room("group:lobby")]).unwrap();
    let got: Vec<(String, u64)> = page.items.iter().map(|i| (i.room.to_string(), i.seq)).collect();
    assert_eq!(got, [("group:lobby".to_owned(), 2), ("group:lobby".to_owned(), 1)]);
    // A short message is shown whole, punctuation included, with the match marked in it.
    let first = &page.items[1];
    assert_eq!(first.snippet, "(see @bob)");
    assert_eq!(first.highlights, [[6, 9]]);
    assert!(!first.cut_before && !first.cut_after);

    let only_alice = SearchRequest { from: Some(user("alice")), ..request("") };
    let page = reader.answer(&only_alice, vec![room("group:lobby"), room("dm:alice:bob")]).unwrap();
    assert_eq!(page.items.len(), 2);
    let window = SearchRequest { after: Some(Timestamp(1_000)), before: Some(Timestamp(3_000)), ..request("bob") };
    let page = reader.answer(&window, vec![room("group:lobby"), room("dm:alice:bob")]).unwrap();
    assert_eq!(page.items.iter().map(|i| i.seq).collect::<Vec<_>>(), [2]);

    let paged = SearchRequest { limit: 1, ..request("bob") };
    let page = reader.answer(&paged, vec![room("group:lobby")]).unwrap();
    let next = SearchRequest { cursor: page.next.clone(), ..paged };
    assert_eq!(reader.answer(&next, vec![room("group:lobby")]).unwrap().items[0].seq, 1);

    for bad in [request("\"unclosed"), SearchRequest { cursor: Some("zz".into()), ..request("bob") }, request("  ")] {
        let got = reader.answer(&bad, vec![room("group:lobby")]);
        assert!(matches!(got, Err(SearchFailure::Query(_))), "{bad:?}: {got:?}");
    }
}
