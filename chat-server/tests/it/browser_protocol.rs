//! The web UI on the stage 2 protocol: presence deltas, `connected` without member lists plus
//! `room_summaries` pages, and the paged room directory with a name-prefix search.

use serde_json::json;

use super::{PASSWORD, harness, two_in_lobby};

/// Whether the presence dots of `arguments[0]` (in the open room's member line, and in the
/// sidebar entry of the DM `arguments[1]`) read `arguments[2]`: `[dot class, button online?,
/// sidebar dot class]`.
const DOTS_ARE: &str = "const [user, dm, want] = arguments;\
    const b = document.querySelector(`#online-line button[data-user=\"${user}\"]`);\
    const side = document.querySelector(`.room-item[data-room=\"${dm}\"] .dot`);\
    if (!b || !side) return false;\
    const got = [b.previousElementSibling.className, b.classList.contains('online'), side.className];\
    return JSON.stringify(got) === JSON.stringify(want);";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_presence_dot_follows_the_other_users_connect_and_disconnect() {
    let Some(tools) = harness::tools() else { return };
    let _one_at_a_time = harness::serial().await;
    harness::run(tools, &["alice", "bob"], |pages, server| async move {
        let (alice, bob) = (&pages[0], &pages[1]);
        two_in_lobby(alice, bob, &server).await;
        // A DM, so alice's sidebar has a dot for bob too.
        alice.click("#online-line button[data-user=\"bob\"]").await;
        alice.wait_current("dm:alice:bob").await;
        alice.say("ping").await;
        alice.wait_message("ping").await;
        alice.click(".room-item[data-room=\"group:lobby\"]").await;
        alice.wait_current("group:lobby").await;

        let dots = |want: serde_json::Value| vec![json!("bob"), json!("dm:alice:bob"), want];
        alice.wait("bob shown online", DOTS_ARE, dots(json!(["dot online", true, "dot online"]))).await;

        // bob's only tab goes away: his last session ends.
        bob.c.goto("about:blank").await.expect("leave the page");
        alice.wait("bob shown offline", DOTS_ARE, dots(json!(["dot", false, "dot"]))).await;

        // bob comes back (his session cookie still holds): online again.
        bob.c.goto(&server.base()).await.expect("come back");
        bob.wait_online().await;
        alice.wait("bob shown online again", DOTS_ARE, dots(json!(["dot online", true, "dot online"]))).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_search_finds_lobby_among_many_rooms() {
    let Some(tools) = harness::tools() else { return };
    let _one_at_a_time = harness::serial().await;
    harness::run(tools, &["mayor"], |pages, server| async move {
        let page = &pages[0];
        page.open(&server.base()).await;
        page.sign_up(PASSWORD).await;
        page.join("lobby").await;
        // 130 public rooms that sort before `lobby`, created through the REST API.
        let made = page
            .c
            .execute_async(
                "const done = arguments[arguments.length - 1];\
                 (async () => { for (let i = 1; i <= 130; i++) {\
                   const r = await fetch('/api/rooms', { method: 'POST', headers: { 'Content-Type': 'application/json' },\
                     body: JSON.stringify({ room_name: `a-${String(i).padStart(3, '0')}`, private: false }) });\
                   if (!r.ok) return done(`status ${r.status}`); } done('ok'); })();",
                vec![],
            )
            .await
            .expect("creating rooms runs");
        assert_eq!(made, json!("ok"));

        // A reload: `connected` lists 100 rooms, `room_summaries` the other 31; all show.
        page.c.refresh().await.expect("reload");
        page.wait_online().await;
        page.wait(
            "all 131 rooms in the sidebar",
            "return document.querySelectorAll('#room-list .room-item').length === 131;",
            vec![],
        )
        .await;
        page.wait_current("group:lobby").await;

        // The directory's first page holds the first 50 names, not lobby; "more" pages on.
        page.click("#directory summary").await;
        let first = page
            .wait(
                "the first directory page",
                "const b = [...document.querySelectorAll('#directory-list button')].map((b) => b.textContent);\
                 return b.length ? b : null;",
                vec![],
            )
            .await;
        let first: Vec<String> = serde_json::from_value(first).expect("names");
        assert_eq!(first.len(), 50);
        assert_eq!(first[0], "#a-001");
        assert!(!first.contains(&"#lobby".to_owned()));
        page.click("#directory-more").await;
        page.wait(
            "the second page appended",
            "const b = [...document.querySelectorAll('#directory-list button')].map((b) => b.textContent);\
             return b.length === 100 && b[50] === '#a-051';",
            vec![],
        )
        .await;

        // Searching by prefix finds lobby.
        page.fill("#directory-search", "lob").await;
        let found = page
            .wait(
                "the search result",
                "const b = [...document.querySelectorAll('#directory-list button')].map((b) => b.textContent);\
                 return b.length && !b.some((t) => t.startsWith('#a-')) ? b : null;",
                vec![],
            )
            .await;
        assert_eq!(found, json!(["#lobby"]));
        let more_hidden = page.js("return document.querySelector('#directory-more').hidden;", vec![]).await;
        assert_eq!(more_hidden, json!(true));
    })
    .await;
}

/// History pages are cut by size (`more: true`): long messages come a few per page, and
/// scrolling up keeps asking with `before` = the oldest held seq until the beginning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrolling_up_pages_through_size_cut_history() {
    let Some(tools) = harness::tools() else { return };
    let _one_at_a_time = harness::serial().await;
    harness::run(tools, &["reader"], |pages, server| async move {
        let page = &pages[0];
        page.open(&server.base()).await;
        page.sign_up(PASSWORD).await;
        page.join("essays").await;
        let posted = page
            .c
            .execute_async(
                "const done = arguments[arguments.length - 1];\
                 (async () => { for (let i = 1; i <= 40; i++) {\
                   const content = `essay ${i} ` + 'lorem ipsum '.repeat(300);\
                   const r = await fetch('/api/messages', { method: 'POST', headers: { 'Content-Type': 'application/json' },\
                     body: JSON.stringify({ room: 'group:essays', content, client_id: `e${i}` }) });\
                   if (!r.ok) return done(`status ${r.status}`); } done('ok'); })();",
                vec![],
            )
            .await
            .expect("posting runs");
        assert_eq!(posted, json!("ok"));

        page.c.refresh().await.expect("reload");
        page.wait_online().await;
        page.wait_current("group:essays").await;
        let first = page
            .wait("the latest page", "const n = document.querySelectorAll('#messages li.msg').length; return n || null;", vec![])
            .await;
        let first = first.as_u64().expect("a count");
        assert!(first < 40, "the first page was cut by size: {first} of 40 messages");

        let mut shown = first;
        while shown < 40 {
            page.js("document.querySelector('#message-scroll').scrollTop = 0;", vec![]).await;
            let now = page
                .wait(
                    "an older page after scrolling up",
                    "const n = document.querySelectorAll('#messages li.msg').length; return n > arguments[0] ? n : null;",
                    vec![json!(shown)],
                )
                .await;
            shown = now.as_u64().expect("a count");
        }
        let all = page.messages().await;
        let seqs: Vec<u64> = all.iter().map(|m| m.0).collect();
        assert_eq!(seqs, (1..=40).collect::<Vec<u64>>());
        assert!(all.iter().enumerate().all(|(i, m)| m.2.starts_with(&format!("essay {} ", i + 1))));
        page.wait(
            "the beginning marker",
            "return document.querySelector('#older-status').textContent.includes('beginning');",
            vec![],
        )
        .await;
    })
    .await;
}
