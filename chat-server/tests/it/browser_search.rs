//! Search in the web UI: `/` (not while typing in the composer) and Ctrl+K open the box,
//! results are grouped by room with the matched words marked, a hostile message shows as text,
//! arrows and Enter pick a hit, and the jump loads the hit's context (history around) far
//! before the page the room opened with, and highlights it.

use serde_json::json;

use super::harness;
use super::two_in_lobby;

/// Posts `n` messages `"{prefix} {i}"` to `room` over REST with the page's session cookie,
/// waiting out the send rate limit (429) as a client would.
const POST_MANY: &str = "const [room, prefix, n, done] = arguments;\
    (async () => {\
      for (let i = 1; i <= n; i++) {\
        for (;;) {\
          const r = await fetch('/api/messages', {method: 'POST', credentials: 'same-origin',\
            headers: {'Content-Type': 'application/json'}, body: JSON.stringify({room, content: `${prefix} ${i}`})});\
          if (r.status !== 429) break;\
          await new Promise((ok) => setTimeout(ok, 200));\
        }\
      }\
      window.__posted = true;\
    })();\
    return true;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_box_finds_marks_and_jumps_with_context() {
    let Some(tools) = harness::tools() else { return };
    let _one_at_a_time = harness::serial().await;
    harness::run(tools, &["alice", "bob"], |pages, server| async move {
        let (alice, bob) = (&pages[0], &pages[1]);
        two_in_lobby(alice, bob, &server).await;
        alice.say("the needle alpha is here").await;
        alice.wait_message("the needle alpha is here").await;
        alice.js(POST_MANY, vec![json!("group:lobby"), json!("filler"), json!(70), json!(null)]).await;
        alice.wait("70 filler messages posted", "return window.__posted === true;", vec![]).await;
        let xss = "<img src=x onerror=\"window.__pwned=1\"> needle from bob";
        bob.say(xss).await;
        alice.wait_message(xss).await;
        // Reload: the room opens with its latest page only, far after the first message.
        alice.open(&server.base()).await;
        alice.wait_online().await;
        alice.wait_current("group:lobby").await;
        alice.wait_message(xss).await;
        let held_first = alice.js("return document.querySelector('#messages li.msg[data-seq=\"1\"]') !== null;", vec![]).await;
        assert_eq!(held_first, json!(false), "the first message is not on the opening page");

        // `/` typed into the composer is text, not a shortcut.
        alice.fill("#composer", "").await;
        alice.keys("#composer", "/").await;
        let state = alice.js("return [document.querySelector('#search-panel').hidden, document.querySelector('#composer').value];", vec![]).await;
        assert_eq!(state, json!([true, "/"]));
        alice.fill("#composer", "").await;
        // Ctrl+K opens it from anywhere; Escape closes it; `/` outside a field opens it.
        alice.keys("#message-scroll", "\u{E009}k\u{E000}").await;
        alice.wait("the search box open (Ctrl+K)", "return !document.querySelector('#search-panel').hidden && document.activeElement.id === 'search-input';", vec![]).await;
        alice.keys("#search-input", "\u{E00C}").await;
        alice.wait("the search box closed (Escape)", "return document.querySelector('#search-panel').hidden;", vec![]).await;
        alice.keys("#message-scroll", "/").await;
        alice.wait("the search box open (/)", "return !document.querySelector('#search-panel').hidden;", vec![]).await;

        // Type, and ask again until the index shows both hits (it indexes within about 0.5 s).
        alice.fill("#search-input", "needle").await;
        let hits = alice
            .wait(
                "two hits for needle",
                "const hits = [...document.querySelectorAll('#search-results .search-hit')];\
                 if (hits.length < 2) { document.querySelector('#search-form').requestSubmit(); return null; }\
                 return hits.map((li) => [li.closest('.search-group').dataset.room, Number(li.dataset.seq),\
                   li.querySelector('.search-snippet').textContent, [...li.querySelectorAll('mark')].map((m) => m.textContent)]);",
                vec![],
            )
            .await;
        assert_eq!(
            hits,
            json!([
                ["group:lobby", 72, xss, ["needle"]],
                ["group:lobby", 1, "the needle alpha is here", ["needle"]],
            ]),
            "newest first, grouped under the room, the matched word marked"
        );
        let group = alice.js("return [...document.querySelectorAll('#search-results .search-group h3')].map((e) => e.textContent);", vec![]).await;
        assert_eq!(group, json!(["#lobby"]));
        // The hostile message is text: no element was made from it, no script ran.
        let safe = alice.js("return [document.querySelectorAll('#search-results img').length, window.__pwned === undefined];", vec![]).await;
        assert_eq!(safe, json!([0, true]));

        // Arrows move the selection; Enter jumps to the hit.
        let active = "return document.querySelector('#search-results .search-hit.active')?.dataset.seq;";
        assert_eq!(alice.js(active, vec![]).await, json!("72"));
        alice.keys("#search-input", "\u{E015}").await;
        assert_eq!(alice.js(active, vec![]).await, json!("1"));
        alice.keys("#search-input", "\u{E013}").await;
        assert_eq!(alice.js(active, vec![]).await, json!("72"));
        alice.keys("#search-input", "\u{E015}").await;
        alice.keys("#search-input", "\u{E007}").await;
        alice.wait("the search box closed (Enter)", "return document.querySelector('#search-panel').hidden;", vec![]).await;
        // The first message is loaded with its context, and highlighted.
        alice
            .wait(
                "message 1 revealed with the messages after it",
                "const li = document.querySelector('#messages li.msg[data-seq=\"1\"]');\
                 return li && li.classList.contains('revealed') && document.querySelector('#messages li.msg[data-seq=\"2\"]') !== null;",
                vec![],
            )
            .await;

        // Clicking a hit in another room opens that room there.
        bob.js(POST_MANY, vec![json!("dm:alice:bob"), json!("private needle"), json!(1), json!(null)]).await;
        alice.wait_badge("dm:alice:bob", ".unread-count", "1").await;
        alice.keys("#message-scroll", "/").await;
        alice.fill("#search-input", "private").await;
        alice
            .wait(
                "the DM hit",
                "const li = document.querySelector('#search-results .search-group[data-room=\"dm:alice:bob\"] .search-hit');\
                 if (!li) { document.querySelector('#search-form').requestSubmit(); return false; } return true;",
                vec![],
            )
            .await;
        alice.click("#search-results .search-group[data-room=\"dm:alice:bob\"] .search-hit").await;
        alice.wait_current("dm:alice:bob").await;
        alice.wait("the DM message revealed", "return document.querySelector('#messages li.msg.revealed .content')?.textContent === 'private needle 1';", vec![]).await;
    })
    .await;
}
