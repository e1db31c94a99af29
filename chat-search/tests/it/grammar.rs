use chat_search::{MAX_QUERY_BYTES, MAX_QUERY_TERMS, QueryError, SearchQuery, SearchTerm};

use crate::common::*;

const ROOMS: &[&str] = &["group:lobby", "group:dev"];

fn parse(text: &str) -> Result<SearchQuery, QueryError> {
    SearchQuery::parse(text, readable(ROOMS))
}

#[test]
fn words_phrases_and_filters_parse() {
    let q = parse(r#"  deploy "release notes"  FROM:@alice in:#dev before:2026-12-02 after:1700000000000 "#).unwrap();
    assert_eq!(q.terms(), [SearchTerm::Word("deploy".into()), SearchTerm::Phrase("release notes".into())]);
    assert_eq!(q.sender(), Some(&user("alice")));
    assert_eq!(q.room(), Some(&room("group:dev")));
    assert_eq!(q.before(), Some(1_796_169_600_000)); // 2026-12-02T00:00Z
    assert_eq!(q.after(), Some(1_700_000_000_000));
    // after:DAY means from the next day on.
    assert_eq!(parse("after:2026-12-01 x").unwrap().after(), Some(1_796_169_600_000 - 1));
    assert_eq!(parse("in:dm:bob:alice x").unwrap().room(), Some(&room("dm:alice:bob")));
    // Unknown filters and URLs are words.
    let q = parse("is:pinned https://example.invalid/x").unwrap();
    assert_eq!(q.terms().len(), 2);
    // Filters alone are a query.
    assert!(parse("from:bob").is_ok());
}

#[test]
fn bad_queries_are_refused() {
    assert_eq!(parse(""), Err(QueryError::Empty));
    assert_eq!(parse("   \"\"  "), Err(QueryError::Empty));
    assert_eq!(parse("\"open"), Err(QueryError::UnclosedQuote));
    assert_eq!(parse("from:not/a/name"), Err(QueryError::BadUser));
    assert_eq!(parse("in:bad/room"), Err(QueryError::BadRoom));
    assert_eq!(parse("before:tomorrow"), Err(QueryError::BadDate));
    assert_eq!(parse("after:2026-02-30"), Err(QueryError::BadDate));
    assert_eq!(parse("has:pdf"), Err(QueryError::BadHas));
    assert_eq!(parse(&"a".repeat(MAX_QUERY_BYTES + 1)), Err(QueryError::TooLong));
    let many = vec!["w"; MAX_QUERY_TERMS + 1].join(" ");
    assert_eq!(parse(&many), Err(QueryError::TooManyTerms));
    assert!(parse(&vec!["w"; MAX_QUERY_TERMS].join(" ")).is_ok());
    assert_eq!(parse("x").unwrap().with_limit(0), Err(QueryError::BadLimit));
    assert_eq!(parse("x").unwrap().with_cursor("nope"), Err(QueryError::BadCursor));
}

fn corpus() -> Vec<chat_core::Message> {
    vec![
        message("group:lobby", 1, 1_000, "alice", "The release notes are out"),
        message("group:lobby", 2, 2_000, "bob", "notes on the release"),
        message("group:dev", 1, 3_000, "alice", "ping @bob about `foo_bar()` please"),
        message("group:dev", 2, 4_000, "carol", "Café au lait, ÉCOLE"),
        message("group:lobby", 3, 86_400_000 * 2 + 5, "bob", "release party on day three"),
    ]
}

#[test]
fn phrases_need_adjacent_words_in_order() {
    let (_dir, index) = index_with(&corpus());
    assert_eq!(keys(&search(&index, "\"release notes\"", ROOMS)), [("group:lobby".into(), 1)]);
    assert_eq!(search(&index, "release notes", ROOMS).hits.len(), 2);
}

#[test]
fn sender_room_and_date_filters() {
    let (_dir, index) = index_with(&corpus());
    assert_eq!(
        keys(&search(&index, "release from:bob", ROOMS)),
        [("group:lobby".into(), 3), ("group:lobby".into(), 2)]
    );
    assert_eq!(keys(&search(&index, "from:alice in:dev", ROOMS)), [("group:dev".into(), 1)]);
    assert_eq!(keys(&search(&index, "release after:1970-01-02", ROOMS)), [("group:lobby".into(), 3)]);
    assert_eq!(keys(&search(&index, "release before:1970-01-02 after:1500", ROOMS)), [("group:lobby".into(), 2)]);
    assert!(search(&index, "release from:carol", ROOMS).hits.is_empty());
}

#[test]
fn mentions_and_code_spans_are_searchable_as_text() {
    let (_dir, index) = index_with(&corpus());
    assert_eq!(keys(&search(&index, "@bob", &["group:dev"])), [("group:dev".into(), 1)]);
    assert_eq!(keys(&search(&index, "foo_bar()", ROOMS)), [("group:dev".into(), 1)]);
    assert_eq!(keys(&search(&index, "`foo_bar()`", ROOMS)), [("group:dev".into(), 1)]);
    assert_eq!(keys(&search(&index, "bar", ROOMS)), [("group:dev".into(), 1)]);
    // Case and accents fold.
    assert_eq!(keys(&search(&index, "cafe ecole", ROOMS)), [("group:dev".into(), 2)]);
    assert_eq!(keys(&search(&index, "CAFÉ", ROOMS)), [("group:dev".into(), 2)]);
    // A word with nothing searchable in it matches nothing (not everything).
    assert!(search(&index, "@@", ROOMS).hits.is_empty());
}

#[test]
fn snippets_are_plain_text_with_match_ranges() {
    let long = format!("{} the needle is here {}", "padding ".repeat(60), "tail ".repeat(60));
    let mut messages = corpus();
    messages.push(message("group:lobby", 4, 9_000, "alice", &long));
    messages.push(message("group:lobby", 5, 9_001, "alice", "<b>needle</b> & \u{1F600} needle"));
    let (_dir, index) = index_with(&messages);
    let page = search(&index, "needle", ROOMS);
    let html = &page.hits[0].snippet;
    assert_eq!(html.text, "<b>needle</b> & \u{1F600} needle", "text, not HTML");
    let marked: Vec<&str> = html.highlights.iter().map(|r| &html.text[r.clone()]).collect();
    assert_eq!(marked, ["needle", "needle"]);
    assert_eq!(html.highlights, [3..9, 21..27]);
    assert_eq!(html.utf16_highlights(), [3..9, 19..25]); // the emoji: 4 bytes, 2 UTF-16 units
    assert!(!html.cut_before && !html.cut_after);
    let cut = &page.hits[1].snippet;
    assert!(cut.text.chars().count() <= chat_search::SNIPPET_CHARS);
    assert!(cut.cut_before && cut.cut_after);
    assert_eq!(&cut.text[cut.highlights[0].clone()], "needle");
    // Without words, the snippet is the start of the text, unmarked.
    let page = search(&index, "from:carol", ROOMS);
    assert_eq!(page.hits[0].snippet.text, "Café au lait, ÉCOLE");
    assert!(page.hits[0].snippet.highlights.is_empty());
}
