//! The web UI in a real headless Chromium (Debian's `chromium` + `chromium-driver`), driven
//! through WebDriver by fantoccini against the real server: sign-up, rooms, mentions, DMs,
//! unread counts, notifications (desktop ones and the blinking title in a hidden tab), XSS
//! payloads, and a server restart mid-conversation.
//!
//! Without Chromium the tests fail with an install hint; `CHAT_SKIP_BROWSER_TESTS=1` skips
//! them with a loud banner. `CHAT_UPDATE_SCREENSHOT=1` rewrites `docs/screenshot.png`.

#[path = "browser_harness.rs"]
mod harness;
// A proxy that drops or refuses WebSockets on purpose (reconnect back-off).
#[path = "browser_proxy.rs"]
mod proxy;
// One-way state, reconnect back-off, bidi isolation of user strings.
#[path = "browser_hardening.rs"]
mod hardening;
// Invitations, presence deltas, room summary pages, the paged directory (stage 2 protocol).
#[path = "browser_protocol.rs"]
mod protocol;
// Pending invitations: accept and chat, decline on one tab and gone on both.
#[path = "browser_invitations.rs"]
mod invitations;
// Edit, delete, reactions, replies, and resume after them (issue 13).
#[path = "browser_lifecycle.rs"]
mod lifecycle;
// Invite sign-up, a password change signing another browser out, an admin disabling (issue 15).
#[path = "browser_accounts.rs"]
mod accounts;
// Search: the box, marked results, keyboard navigation, the jump with context (issue 17).
#[path = "browser_search.rs"]
mod search;
// Paste and drop files, thumbnails and enlarging, no access outside the room (issue 16).
#[path = "browser_attachments.rs"]
mod attachments;

use chat_core::mention::{MentionTarget, mentions};
use harness::{Page, TestServer};
use serde_json::json;

const PASSWORD: &str = "correct horse battery";

/// Signs both users up and puts them in `#lobby`.
async fn two_in_lobby(alice: &Page, bob: &Page, server: &TestServer) {
    alice.open(&server.base()).await;
    bob.open(&server.base()).await;
    alice.sign_up(PASSWORD).await;
    bob.sign_up(PASSWORD).await;
    alice.join("lobby").await;
    bob.join("lobby").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_chat_mention_dm_and_read() {
    let Some(tools) = harness::tools() else { return };
    let _one_at_a_time = harness::serial().await;
    harness::run(tools, &["alice", "bob"], |pages, server| async move {
        let (alice, bob) = (&pages[0], &pages[1]);
        two_in_lobby(alice, bob, &server).await;

        // Exchange messages.
        alice.say("hello bob, welcome to the lobby").await;
        bob.wait_message("hello bob, welcome to the lobby").await;
        bob.say("hi alice!").await;
        alice.wait_message("hi alice!").await;

        // Alice looks at another room; bob mentions her in the lobby: unread count, a separate
        // mention badge, and the bell all update live.
        alice.join("random").await;
        bob.say("@alice are you there? also mail bob@example.com").await;
        alice.wait_badge("group:lobby", ".unread-count", "1").await;
        alice.wait_badge("group:lobby", ".mention-badge", "@1").await;
        alice.wait_bell(1).await;
        alice.wait("unread count in the title", "return document.title === '(1) Socket ChatApp';", vec![]).await;

        // Opening the room reads it: both counts clear; the mention is highlighted as hers,
        // the e-mail address is not a mention.
        alice.click(".room-item[data-room=\"group:lobby\"]").await;
        alice.wait_current("group:lobby").await;
        alice.wait_badge("group:lobby", ".unread-count", "").await;
        alice.wait_badge("group:lobby", ".mention-badge", "").await;
        let highlighted = alice
            .wait(
                "bob's mention of alice highlighted",
                "const li = [...document.querySelectorAll('#messages li.mentions-me')].pop();\
                 return li ? [...li.querySelectorAll('.mention')].map(s => [s.textContent, s.className]) : null;",
                vec![],
            )
            .await;
        assert_eq!(highlighted, json!([["@alice", "mention mention-me"]]));
        // Bob sees that alice read it.
        bob.wait(
            "seen by alice",
            "return [...document.querySelectorAll('#messages .seen')].some(e => e.textContent === 'seen by alice');",
            vec![],
        )
        .await;

        // The bell: the dropdown lists the mention; "mark all read" clears the count.
        alice.click("#bell").await;
        let item = alice
            .wait(
                "a notification in the dropdown",
                "const li = document.querySelector('#notif-list li.notif.unread'); return li ? li.textContent : '';",
                vec![],
            )
            .await;
        assert!(item.as_str().is_some_and(|t| t.contains("bob") && t.contains("#lobby")), "{item}");
        alice.click("#notif-clear").await;
        alice.wait_bell(0).await;
        alice
            .wait(
                "notification marked read",
                "return document.querySelector('#notif-list li.notif.read') !== null;",
                vec![],
            )
            .await;
        alice.js("document.body.click();", vec![]).await;

        // Mention autocomplete: '@b' offers bob; Tab picks him; Escape closes the menu.
        alice.fill("#composer", "thanks @b").await;
        alice
            .wait(
                "autocomplete offers bob",
                "return document.querySelector('#mention-menu li[data-name=\"bob\"]') !== null;",
                vec![],
            )
            .await;
        alice.keys("#composer", "\u{e004}").await; // Tab
        let value = alice.js("return document.querySelector('#composer').value;", vec![]).await;
        assert_eq!(value, json!("thanks @bob "));
        alice.keys("#composer", "@r").await;
        alice
            .wait(
                "autocomplete offers @room",
                "return document.querySelector('#mention-menu li[data-name=\"room\"]') !== null;",
                vec![],
            )
            .await;
        alice.keys("#composer", "\u{e00c}").await; // Escape
        alice.wait("menu closed", "return document.querySelector('#mention-menu').hidden;", vec![]).await;
        alice.fill("#composer", "").await;

        // Typing indicator.
        bob.fill("#composer", "thinking about it").await;
        alice
            .wait(
                "bob typing",
                "return document.querySelector('#typing-line').textContent === 'bob is typing...';",
                vec![],
            )
            .await;
        bob.fill("#composer", "").await;

        // Alice mentions bob (Enter sends); his view highlights it and his bell rings.
        alice.fill("#composer", "@bob look at this\u{e007}").await;
        bob.wait_message("@bob look at this").await;
        bob.wait_bell(1).await;
        let mine = bob
            .js("return [...document.querySelectorAll('#messages .mention-me')].map(s => s.textContent);", vec![])
            .await;
        assert_eq!(mine, json!(["@bob"]));

        // DM: alice clicks bob's name; her message reaches bob as an unread DM (counted as a
        // highlight) with a notification; reading it clears the counts.
        alice.click("#online-line button[data-user=\"bob\"]").await;
        alice.wait_current("dm:alice:bob").await;
        alice.say("psst, a secret").await;
        alice.wait_message("psst, a secret").await;
        bob.wait_badge("dm:alice:bob", ".unread-count", "1").await;
        bob.wait_badge("dm:alice:bob", ".mention-badge", "@1").await;
        bob.wait_bell(2).await;
        // The README's screenshot: bob in #lobby, mentioned, with an unread DM in the sidebar.
        if std::env::var("CHAT_UPDATE_SCREENSHOT").as_deref() == Ok("1") {
            let png = bob.c.screenshot().await.expect("screenshot");
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/screenshot.png");
            std::fs::write(path, png).expect("write docs/screenshot.png");
            eprintln!("wrote {path}");
        }
        bob.click(".room-item[data-room=\"dm:alice:bob\"]").await;
        bob.wait_message("psst, a secret").await;
        bob.wait_badge("dm:alice:bob", ".unread-count", "").await;
        bob.say("my lips are sealed").await;
        alice.wait_message("my lips are sealed").await;
        alice
            .wait(
                "seen by bob in the DM",
                "return [...document.querySelectorAll('#messages .seen')].some(e => e.textContent === 'seen by bob');",
                vec![],
            )
            .await;

        // All of the above ran under the server's strict CSP, with the stylesheet applied.
        let csp = alice
            .c
            .execute_async(
                "const done = arguments[0]; fetch('/').then(r => done(r.headers.get('content-security-policy')));",
                vec![],
            )
            .await
            .expect("fetch /");
        let csp = csp.as_str().unwrap_or_default();
        assert!(csp.contains("script-src 'self'") && csp.contains("style-src 'self'"), "{csp}");
        let styled =
            alice.js("return getComputedStyle(document.querySelector('.marquee-text')).animationName;", vec![]).await;
        assert_eq!(styled, json!("marquee"), "style.css applied");

        // Each side shows the DM exactly once, in seq order.
        for page in [alice, bob] {
            let msgs = page.messages().await;
            let seqs: Vec<u64> = msgs.iter().map(|m| m.0).collect();
            assert_eq!(seqs, [1, 2], "[{}] {msgs:?}", page.name);
        }
    })
    .await;
}

/// Stands in for what a headless browser cannot do: grant the Notification permission (the
/// fake records every notification the page shows) and hide or focus the tab.
const FAKE_NOTIFICATIONS_AND_VISIBILITY: &str = "
    window.__notes = [];
    class FakeNotification {
      constructor(title, options) {
        this.title = title; this.body = options.body; this.tag = options.tag; this.closed = false;
        window.__notes.push(this);
      }
      close() { this.closed = true; }
    }
    FakeNotification.permission = 'granted';
    FakeNotification.requestPermission = async () => 'granted';
    window.Notification = FakeNotification;
    window.__setVisible = (visible) => {
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => !visible });
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => visible ? 'visible' : 'hidden' });
      document.hasFocus = () => visible;
      document.dispatchEvent(new Event('visibilitychange'));
    };
    window.__setVisible(true);
";

const NOTES: &str = "return window.__notes.map(n => ({ title: n.title, body: n.body, closed: n.closed }));";
const SOME_NOTES: &str = "const n = window.__notes.map(n => ({ title: n.title, body: n.body, closed: n.closed })); return n.length ? n : null;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hidden_tab_gets_a_desktop_notification_and_a_blinking_title() {
    let Some(tools) = harness::tools() else { return };
    let _one_at_a_time = harness::serial().await;
    harness::run(tools, &["alice", "bob"], |pages, server| async move {
        let (alice, bob) = (&pages[0], &pages[1]);
        two_in_lobby(alice, bob, &server).await;
        bob.js(FAKE_NOTIFICATIONS_AND_VISIBILITY, vec![]).await;
        bob.join("random").await;

        // Looking at the page: the bell counts the mention, no desktop notification, no blinking.
        alice.say("@bob first ping").await;
        bob.wait_bell(1).await;
        tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
        assert_eq!(bob.js(NOTES, vec![]).await, json!([]), "no desktop notification while the tab is watched");
        let title = bob.js("return document.title;", vec![]).await;
        assert!(!title.as_str().unwrap().starts_with("***"), "no blinking while the tab is watched: {title}");

        // Tab hidden: a desktop notification naming sender, room and text, and a blinking title.
        bob.js("window.__setVisible(false);", vec![]).await;
        alice.say("@bob the build is green").await;
        let notes = bob.wait("a desktop notification", SOME_NOTES, vec![]).await;
        assert_eq!(
            notes,
            json!([{ "title": "alice mentioned you in #lobby", "body": "@bob the build is green", "closed": false }])
        );
        bob.wait("the title blinks", "return document.title === '*** alice mentioned you ***';", vec![]).await;

        // Clicking the notification opens the room it came from and closes the notification.
        bob.js("window.__notes[0].onclick();", vec![]).await;
        bob.wait_current("group:lobby").await;
        assert_eq!(bob.js("return window.__notes[0].closed;", vec![]).await, json!(true));

        // Back on the tab: the blinking stops and stays stopped.
        bob.js("window.__setVisible(true);", vec![]).await;
        bob.wait("the title stops blinking", "return !document.title.startsWith('***');", vec![]).await;
        tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
        let title = bob.js("return document.title;", vec![]).await;
        assert!(
            title.as_str().unwrap().ends_with("Socket ChatApp") && !title.as_str().unwrap().starts_with("***"),
            "{title}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_in_messages_is_shown_as_text_and_never_runs() {
    let Some(tools) = harness::tools() else { return };
    let _one_at_a_time = harness::serial().await;
    harness::run(tools, &["mallory", "victim"], |pages, server| async move {
        let (mallory, victim) = (&pages[0], &pages[1]);
        two_in_lobby(mallory, victim, &server).await;
        let payloads = [
            "<img src=x onerror=\"window.__pwned = 'img'\">",
            "<script>window.__pwned = 'script'</script>",
            "<b onmouseover=\"window.__pwned='b'\">bold?</b> & &amp; <iframe src=\"javascript:window.__pwned='iframe'\"></iframe>",
        ];
        for p in payloads {
            mallory.say(p).await;
        }
        for page in [mallory, victim] {
            for p in payloads {
                page.wait_message(p).await;
            }
            let check = page
                .js(
                    "return { pwned: typeof window.__pwned, \
                      elements: document.querySelectorAll('#messages img, #messages script, #messages iframe, #messages b').length };",
                    vec![],
                )
                .await;
            assert_eq!(check, json!({ "pwned": "undefined", "elements": 0 }), "[{}]", page.name);
        }
        // Give a late onerror (the image would have failed to load by now) a chance to fire.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let pwned = victim.js("return typeof window.__pwned;", vec![]).await;
        assert_eq!(pwned, json!("undefined"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_rooms_invites_directory_and_leaving() {
    let Some(tools) = harness::tools() else { return };
    let _one_at_a_time = harness::serial().await;
    harness::run(tools, &["owner", "guest"], |pages, server| async move {
        let (owner, guest) = (&pages[0], &pages[1]);
        two_in_lobby(owner, guest, &server).await;

        // The owner creates a private room and invites the guest, who sees it appear.
        owner.fill("#join-input", "hideout").await;
        owner.click("#create-private-btn").await;
        owner.wait_current("group:hideout").await;
        let kind = owner.js("return document.querySelector('#room-kind').textContent;", vec![]).await;
        assert_eq!(kind, json!("(private room, owner owner)"));
        owner.fill("#invite-input", "guest").await;
        owner.click("#invite-btn").await;
        // An invitation is pending until the guest accepts it (a server without pending
        // invitations adds the guest at once); accepting opens the room, so the guest goes back
        // to the lobby to see the next message arrive as unread.
        let how = guest
            .wait(
                "the invitation (accepted) or the invited room",
                "if (document.querySelector('.room-item[data-room=\"group:hideout\"]')) return 'member';\
                 const b = document.querySelector('#invite-list li.invitation[data-room=\"group:hideout\"] .accept-invite');\
                 if (!b) return null; b.click(); return 'accepted';",
                vec![],
            )
            .await;
        guest.wait_for("the invited room in the sidebar", ".room-item[data-room=\"group:hideout\"]").await;
        if how == json!("accepted") {
            guest.wait_current("group:hideout").await;
            guest.click(".room-item[data-room=\"group:lobby\"]").await;
            guest.wait_current("group:lobby").await;
        }
        owner.say("welcome to the hideout").await;
        guest.wait_badge("group:hideout", ".unread-count", "1").await;

        // The public directory lists #lobby but never the private room.
        guest.click("#directory summary").await;
        let listed = guest
            .wait(
                "the directory",
                "return [...document.querySelectorAll('#directory-list button')].map(b => b.textContent);",
                vec![],
            )
            .await;
        assert_eq!(listed, json!(["#lobby"]));

        // The guest reads it, then leaves: the room disappears from the guest's sidebar and the
        // owner's member list drops the guest.
        guest.click(".room-item[data-room=\"group:hideout\"]").await;
        guest.wait_message("welcome to the hideout").await;
        guest.click("#leave-btn").await;
        guest
            .wait(
                "the room gone",
                "return document.querySelector('.room-item[data-room=\"group:hideout\"]') === null;",
                vec![],
            )
            .await;
        owner
            .wait(
                "guest no longer a member",
                "return document.querySelector('#online-line button[data-user=\"guest\"]') === null;",
                vec![],
            )
            .await;
        // The owner of a private room has no leave button.
        let leave_hidden = owner.js("return document.querySelector('#leave-btn').hidden;", vec![]).await;
        assert_eq!(leave_hidden, json!(true));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restart_reconnects_and_shows_every_message_once() {
    let Some(tools) = harness::tools() else { return };
    let _one_at_a_time = harness::serial().await;
    harness::run(tools, &["alice", "bob"], |pages, mut server| async move {
        let (alice, bob) = (&pages[0], &pages[1]);
        two_in_lobby(alice, bob, &server).await;
        let mut expected = Vec::new();
        for (page, text) in [(alice, "one"), (bob, "two"), (alice, "three")] {
            page.say(text).await;
            bob.wait_message(text).await;
            alice.wait_message(text).await;
            expected.push((page.name.clone(), text.to_owned()));
        }

        server.stop().await;
        for page in [alice, bob] {
            page.wait(
                "connection lost",
                "return document.querySelector('#conn-status').dataset.state === 'offline';",
                vec![],
            )
            .await;
        }
        // Written while offline: kept in the outbox, shown as pending.
        alice.say("four (sent while offline)").await;
        alice
            .wait(
                "pending message",
                "return [...document.querySelectorAll('#pending li')].some(li => li.textContent.includes('four'));",
                vec![],
            )
            .await;
        expected.push(("alice".into(), "four (sent while offline)".into()));

        server.restart().await;
        alice.wait_online().await;
        bob.wait_online().await;
        alice.wait("outbox drained", "return document.querySelectorAll('#pending li').length === 0;", vec![]).await;
        bob.wait_message("four (sent while offline)").await;
        bob.say("five").await;
        expected.push(("bob".into(), "five".into()));
        alice.wait_message("five").await;

        for page in [alice, bob] {
            page.wait_message("five").await;
            let shown: Vec<(u64, String, String)> = page.messages().await;
            let seqs: Vec<u64> = shown.iter().map(|m| m.0).collect();
            assert_eq!(seqs, (1..=5).collect::<Vec<u64>>(), "[{}] {shown:?}", page.name);
            let got: Vec<(String, String)> = shown.into_iter().map(|(_, s, c)| (s, c)).collect();
            assert_eq!(got, expected, "[{}]", page.name);
        }

        // A reload after the restart shows the same history from the server.
        bob.c.refresh().await.expect("reload");
        bob.wait_online().await;
        bob.wait_message("five").await;
        let seqs: Vec<u64> = bob.messages().await.iter().map(|m| m.0).collect();
        assert_eq!(seqs, (1..=5).collect::<Vec<u64>>());

        // Narrow (phone) screen: the sidebar becomes a drawer behind a toggle.
        bob.c.set_window_size(400, 800).await.expect("resize");
        bob.wait(
            "toggle visible",
            "return getComputedStyle(document.querySelector('#sidebar-toggle')).display !== 'none';",
            vec![],
        )
        .await;
        bob.click("#sidebar-toggle").await;
        bob.wait("drawer open", "return document.querySelector('#sidebar').classList.contains('open');", vec![]).await;
        bob.click(".room-item[data-room=\"group:lobby\"]").await;
        bob.wait("drawer closed", "return !document.querySelector('#sidebar').classList.contains('open');", vec![])
            .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn older_pages_load_on_scroll_up_in_order() {
    let Some(tools) = harness::tools() else { return };
    let _one_at_a_time = harness::serial().await;
    harness::run(tools, &["reader"], |pages, server| async move {
        let page = &pages[0];
        page.open(&server.base()).await;
        page.sign_up(PASSWORD).await;
        page.join("archive").await;
        // 120 messages through the REST API (same origin, the page's cookie).
        let posted = page
            .c
            .execute_async(
                "const done = arguments[arguments.length - 1];\
                 (async () => { for (let i = 1; i <= 120; i++) {\
                   const r = await fetch('/api/messages', { method: 'POST', headers: { 'Content-Type': 'application/json' },\
                     body: JSON.stringify({ room: 'group:archive', content: `line ${i}`, client_id: `c${i}` }) });\
                   if (!r.ok) return done(`status ${r.status}`); } done('ok'); })();",
                vec![],
            )
            .await
            .expect("posting runs");
        assert_eq!(posted, json!("ok"));
        page.wait_message("line 120").await;

        // A fresh load shows only the latest page (50), in order, ending at the newest.
        page.c.refresh().await.expect("reload");
        page.wait_online().await;
        page.wait_current("group:archive").await;
        page.wait_message("line 120").await;
        let first = page.messages().await;
        assert_eq!(first.len(), 50, "{first:?}");
        assert_eq!(first.first().map(|m| m.0), Some(71));
        assert_eq!(first.last().map(|m| m.2.as_str()), Some("line 120"));

        // Scrolling to the top loads older pages until the beginning, keeping seq order.
        for expected in [100, 120] {
            page.js("document.querySelector('#message-scroll').scrollTop = 0;", vec![]).await;
            page.wait(
                &format!("{expected} messages after scrolling up"),
                "return document.querySelectorAll('#messages li.msg').length === arguments[0];",
                vec![json!(expected)],
            )
            .await;
            // The view stays where the reader was instead of jumping to the new top.
            let top = page.js("return document.querySelector('#message-scroll').scrollTop;", vec![]).await;
            assert!(top.as_f64().is_some_and(|t| t > 0.0), "scroll anchored: {top}");
        }
        page.wait("the beginning marker", "return document.querySelector('#older-status').textContent.includes('beginning');", vec![])
            .await;
        let all = page.messages().await;
        let seqs: Vec<u64> = all.iter().map(|m| m.0).collect();
        assert_eq!(seqs, (1..=120).collect::<Vec<u64>>());
        assert!(all.iter().enumerate().all(|(i, m)| m.2 == format!("line {}", i + 1)));
    })
    .await;
}

/// The page's mention grammar (mention.js) agrees with chat-core's on tricky inputs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_mention_grammar_matches_the_core() {
    let Some(tools) = harness::tools() else { return };
    let _one_at_a_time = harness::serial().await;
    harness::run(tools, &["grammar"], |pages, server| async move {
        let page = &pages[0];
        page.open(&server.base()).await;
        let corpus = [
            "@alice hi",
            "hi @alice.",
            "hi @alice-- and @bob.jones!",
            "(@ALICE)",
            "@alice,@bob",
            "mail bob@example.com",
            "x_@bob a.@bob a-@bob @@bob",
            "é@bob",
            "«@bob»",
            "𝒜@bob and 😀@carol",
            "`@alice`",
            "```\n@alice\n```",
            "`` ` @alice ``@bob",
            "unclosed ` @alice",
            "``` @a ` @b ```",
            "@",
            "@.",
            "@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "@room @Here @roomy",
            "tab\t@x\n@y",
        ];
        let expected: Vec<Vec<String>> = corpus
            .iter()
            .map(|text| {
                mentions(text)
                    .map(|m| match m.target {
                        MentionTarget::User(u) => u.to_ascii_lowercase(),
                        MentionTarget::Room => "@room".into(),
                        MentionTarget::Here => "@here".into(),
                    })
                    .collect()
            })
            .collect();
        let got = page
            .c
            .execute_async(
                "const [corpus, done] = arguments;\
                 import('/static/mention.js').then(m => done(corpus.map(t => m.mentions(t).map(x =>\
                   x.target.user !== undefined ? x.target.user.toLowerCase() : x.target.room ? '@room' : '@here'))));",
                vec![json!(corpus)],
            )
            .await
            .expect("mention.js runs");
        let got: Vec<Vec<String>> = serde_json::from_value(got).expect("lists of names");
        for ((text, want), have) in corpus.iter().zip(&expected).zip(&got) {
            assert_eq!(have, want, "mentions of {text:?}");
        }
        assert!(expected.iter().any(|m| !m.is_empty()), "the corpus has mentions at all");
    })
    .await;
}
