//! The web UI against hostile input and a hostile network: state that changes only through
//! the store's named actions with the server's rules, reconnects that back off when every
//! socket drops, and user strings that cannot reorder the page around them.

use std::time::Duration;

use serde_json::{Value, json};

use super::proxy::{Mode, Proxy};
use super::{FAKE_NOTIFICATIONS_AND_VISIBILITY, PASSWORD, SOME_NOTES, harness, two_in_lobby};

/// The store, loaded as the page loads it, driven by named actions only: counts and
/// permissions are the server's (a public room where the server says "no invite" shows no
/// invite, whatever a JavaScript copy of the rule would say), and unknown actions are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_changes_only_through_named_actions_with_the_servers_rules() {
    let Some(tools) = harness::tools() else { return };
    let _one_at_a_time = harness::serial().await;
    harness::run(tools, &["state"], |pages, server| async move {
        let page = &pages[0];
        page.open(&server.base()).await;
        let got = page
            .c
            .execute_async(
                "const done = arguments[arguments.length - 1];\
                 import('/static/store.js').then(({ Store, ACTIONS }) => {\
                   const s = new Store(); const events = [];\
                   s.addEventListener('change', (e) => events.push(e.detail.what));\
                   const summary = { room: 'group:x', kind: 'public', owner: null, last_seq: 10, last_timestamp: 1,\
                     read_seq: 8, unread: 7, highlight: 3, can_invite: false, can_leave: false, can_remove: true };\
                   s.dispatch({ type: 'connected', frame: { session: 1, username: 'me', rooms: [summary], unread_notifications: 4 } });\
                   const r = s.rooms.get('group:x');\
                   const out = { connected: [r.unread, r.highlight, r.canInvite, r.canLeave, r.canRemove, s.status, s.current, s.unreadNotifications] };\
                   s.dispatch({ type: 'messageReceived', message: { room: 'group:x', seq: 11, timestamp: 2, sender: 'bob', content: 'hi @me', mentions: ['me'] } });\
                   out.message = [r.unread, r.highlight];\
                   s.dispatch({ type: 'readState', room: 'group:x', readSeq: 11, unread: 0, highlight: 0 });\
                   out.read = [r.unread, r.highlight, r.readSeq];\
                   s.dispatch({ type: 'messageReceived', message: { room: 'group:x', seq: 12, timestamp: 3, sender: 'me', content: 'mine', mentions: [] } });\
                   out.own = [r.unread, r.readSeq, r.seqs];\
                   s.dispatch({ type: 'messageReceived', message: { room: 'group:x', seq: 12, timestamp: 3, sender: 'me', content: 'mine', mentions: [] } });\
                   out.duplicate = r.seqs.length;\
                   s.dispatch({ type: 'roomLeft', room: 'group:x' });\
                   out.left = [s.rooms.size, s.current];\
                   try { s.dispatch({ type: 'setUnread', room: 'group:x', unread: 0 }); out.unknown = 'accepted'; }\
                   catch (e) { out.unknown = e.message; }\
                   out.events = events;\
                   out.actions = ACTIONS.includes('messageReceived') && ACTIONS.includes('readState') && !ACTIONS.includes('setUnread');\
                   done(out);\
                 }).catch((e) => done(String(e)));",
                vec![],
            )
            .await
            .expect("store.js runs");
        assert_eq!(
            got,
            json!({
                "connected": [7, 3, false, false, true, "online", "group:x", 4],
                "message": [8, 4],
                "read": [0, 0, 11],
                "own": [0, 12, [11, 12]],
                "duplicate": 2,
                "left": [0, null],
                "unknown": "unknown store action: setUnread",
                "events": ["status", "rooms", "current", "notifications", "invitations", "users", "messages", "room", "room",
                           "messages", "room", "messages", "room", "current", "rooms"],
                "actions": true,
            })
        );
    })
    .await;
}

/// Counts WebSocket upgrades through the proxy during `window`.
async fn attempts_during(proxy: &Proxy, window: Duration) -> usize {
    let before = proxy.upgrades();
    tokio::time::sleep(window).await;
    proxy.upgrades() - before
}

/// A server that accepts every socket, says `connected` and drops it (as when every resume
/// killed the connection), is retried with growing, jittered waits, not in a loop; so is one
/// that refuses sockets; "retry now" reconnects at once when the server is back.
///
/// The bounds come from the back-off (connection.js): the n-th wait is at least
/// min(15 s, 0.5 s * 2^n) / 2, so 10 s hold at most 5 retries (0.25 + 0.5 + 1 + 2 + 4 s), and at
/// most 1 s + 2 s + 4 s of waiting before the fourth. A page that reset its back-off on every
/// `connected` would retry every 0.25-0.5 s: 20 or more times.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_back_off_when_every_socket_drops() {
    let Some(tools) = harness::tools() else { return };
    let _one_at_a_time = harness::serial().await;
    harness::run(tools, &["flaky"], |pages, server| async move {
        let page = &pages[0];
        let proxy = Proxy::start(server.addr()).await;
        page.open(&proxy.base()).await;
        page.sign_up(PASSWORD).await;
        page.join("lobby").await;
        page.say("before the trouble").await;
        page.wait_message("before the trouble").await;

        proxy.set_mode(Mode::DropAfterConnected);
        let dropped = attempts_during(&proxy, Duration::from_secs(10)).await;
        assert!((2..=6).contains(&dropped), "{dropped} reconnects in 10 s while every socket dropped after `connected`");

        proxy.set_mode(Mode::Refuse);
        let refused = attempts_during(&proxy, Duration::from_secs(6)).await;
        assert!(refused <= 3, "{refused} reconnects in 6 s to a refusing server, after a long run of failures");
        let status = page
            .wait(
                "the page says it is offline and when it retries",
                "const s = document.querySelector('#conn-status');\
                 return s.dataset.state === 'offline' && !document.querySelector('#retry-btn').hidden ? s.textContent : null;",
                vec![],
            )
            .await;
        assert!(status.as_str().is_some_and(|s| s.starts_with("offline - retrying in ")), "{status}");

        // The server is reachable again: "retry now" does not wait for the back-off.
        proxy.set_mode(Mode::Pass);
        let before = proxy.upgrades();
        page.wait(
            "offline, then a click on retry now",
            "if (document.querySelector('#conn-status').dataset.state === 'online') return true;\
             const b = document.querySelector('#retry-btn'); if (b.hidden) return false; b.click(); return true;",
            vec![],
        )
        .await;
        page.wait_online().await;
        assert!(proxy.upgrades() > before);
        page.say("after the trouble").await;
        page.wait_message("after the trouble").await;
        let contents: Vec<String> = page.messages().await.into_iter().map(|m| m.2).collect();
        assert_eq!(contents, ["before the trouble", "after the trouble"]);
    })
    .await;
}

/// Every text node holding one of `needles` must sit in a bidi isolate (`<bdi>` or
/// `dir="auto"`) whose whole text is one user string from `allowed`. Answers the offenders and
/// the kinds of isolate seen (`"bdi isolate"`: tag and computed `unicode-bidi`).
const ISOLATION_SCAN: &str = "
    const [needles, allowed] = arguments;
    const bad = []; const kinds = new Set(); let count = 0;
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (!needles.some((x) => n.data.includes(x))) continue;
      const iso = n.parentElement.closest('bdi, [dir=\"auto\"]');
      if (!iso || !allowed.includes(iso.textContent)) {
        bad.push({ text: n.data, isolate: iso ? iso.textContent : null, parent: n.parentElement.className || n.parentElement.tagName });
        continue;
      }
      count += 1;
      kinds.add(`${iso.tagName.toLowerCase()} ${getComputedStyle(iso).unicodeBidi}`);
    }
    return { bad, kinds: [...kinds].sort(), count };
";

/// `evil \u202Egnp.exe` and other user strings are rendered inside bidi isolates everywhere
/// the page shows them (messages, names, room names, previews, typing, "seen by"), and desktop
/// notifications carry them with the bidi controls removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_strings_are_rendered_inside_bidi_isolates() {
    let Some(tools) = harness::tools() else { return };
    let _one_at_a_time = harness::serial().await;
    harness::run(tools, &["alice", "bob"], |pages, server| async move {
        let (alice, bob) = (&pages[0], &pages[1]);
        two_in_lobby(alice, bob, &server).await;
        bob.js(FAKE_NOTIFICATIONS_AND_VISIBILITY, vec![]).await;

        // The override may be refused by the server (then it stays in alice's outbox as not
        // sent) or delivered; either way it is shown isolated.
        let evil = "evil \u{202E}gnp.exe";
        alice.say(evil).await;
        let delivered = alice
            .wait(
                "the override message shown (delivered or refused)",
                "const [t] = arguments;\
                 if ([...document.querySelectorAll('#messages li.msg .content')].some((e) => e.textContent === t)) return 'delivered';\
                 if ([...document.querySelectorAll('#pending li.failed .content')].some((e) => e.textContent === t)) return 'refused';\
                 return null;",
                vec![json!(evil)],
            )
            .await
            == json!("delivered");

        // Right-to-left text with a mark, mentioning bob while his tab is hidden.
        bob.js("window.__setVisible(false);", vec![]).await;
        let rtl = "@bob \u{05E9}\u{05DC}\u{05D5}\u{05DD} evil \u{200F}gnp.exe";
        alice.say(rtl).await;
        bob.wait_message(rtl).await;
        if delivered {
            bob.wait_message(evil).await;
        }
        let notes = bob.wait("a desktop notification", SOME_NOTES, vec![]).await;
        assert_eq!(
            notes,
            json!([{ "title": "alice mentioned you in #lobby", "body": "@bob \u{05E9}\u{05DC}\u{05D5}\u{05DD} evil gnp.exe", "closed": false }]),
            "bidi controls are stripped from notification text"
        );
        bob.js("window.__setVisible(true);", vec![]).await;
        // bob reads (alice sees "seen by bob"), opens the bell (previews), sees alice typing.
        alice
            .wait(
                "seen by bob",
                "return [...document.querySelectorAll('#messages .seen')].some((e) => e.textContent === 'seen by bob');",
                vec![],
            )
            .await;
        bob.click("#bell").await;
        bob.wait_for("the notification in the dropdown", "#notif-list li.notif .preview").await;
        alice.fill("#composer", "typing").await;
        bob.wait(
            "alice typing",
            "return document.querySelector('#typing-line').textContent === 'alice is typing...';",
            vec![],
        )
        .await;
        bob.fill("#composer", "@a").await;
        bob.wait_for("autocomplete offers alice", "#mention-menu li[data-name=\"alice\"]").await;

        let allowed = ["alice", "bob", "@alice", "@bob", "#lobby", rtl, evil];
        let needles = json!(["alice", "bob", "lobby", "gnp", "\u{05E9}"]);
        for page in [alice, bob] {
            let scan: Value = page.js(ISOLATION_SCAN, vec![needles.clone(), json!(allowed)]).await;
            assert_eq!(scan["bad"], json!([]), "[{}] user strings outside an isolate: {scan}", page.name);
            assert_eq!(scan["kinds"], json!(["bdi isolate", "span isolate"]), "[{}] {scan}", page.name);
            assert!(scan["count"].as_u64().is_some_and(|n| n >= 8), "[{}] {scan}", page.name);
        }

        // The message body is its own isolate, with its direction taken from its first strong
        // character; the sender's name is a separate one.
        let structure = bob
            .js(
                "const [t] = arguments;\
                 const li = [...document.querySelectorAll('#messages li.msg')].find((li) => li.querySelector('.content').textContent === t);\
                 const c = li.querySelector('.content'); const s = li.querySelector('.sender bdi');\
                 return [c.getAttribute('dir'), getComputedStyle(c).direction, s.textContent, getComputedStyle(s).unicodeBidi];",
                vec![json!(rtl)],
            )
            .await;
        assert_eq!(structure, json!(["auto", "ltr", "alice", "isolate"]));

        // The same stripping, for every control the server might let through.
        let stripped = bob
            .c
            .execute_async(
                "const done = arguments[arguments.length - 1];\
                 import('/static/alerts.js').then((m) => done(m.plainText('a\\u202Eb\\u2066c\\u2069d\\u200Ee\\u200Ff\\u0000g\\u001Bh\\u0085i\\tj\\nk')));",
                vec![],
            )
            .await
            .expect("alerts.js runs");
        assert_eq!(stripped, json!("abcdefghi\tj\nk"));
    })
    .await;
}

/// A reader offline while 300 long messages arrive gets them all back on reconnect, in order
/// and once each, although one `history` frame cannot hold them: the server answers `resume`
/// with several pages (`more: true` until the last) and the page keeps the room resuming until
/// the last one, over a socket that stays up.
/// (Before pages were cut by size, the one oversized resume frame dropped the socket on every
/// reconnect: issue 11 item 2.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_resume_arrives_in_pages_over_one_socket() {
    let Some(tools) = harness::tools() else { return };
    let _one_at_a_time = harness::serial().await;
    harness::run(tools, &["writer", "reader"], |pages, server| async move {
        let (writer, reader) = (&pages[0], &pages[1]);
        let proxy = Proxy::start(server.addr()).await;
        writer.open(&server.base()).await;
        writer.sign_up(PASSWORD).await;
        writer.join("lobby").await;
        reader.open(&proxy.base()).await;
        reader.sign_up(PASSWORD).await;
        reader.join("lobby").await;
        writer.say("before").await;
        reader.wait_message("before").await;

        proxy.set_mode(Mode::Refuse);
        reader
            .wait("reader offline", "return document.querySelector('#conn-status').dataset.state === 'offline';", vec![])
            .await;
        // 300 messages of 900 characters: about 280 KB of JSON, past one 256 KiB frame.
        let posted = writer
            .c
            .execute_async(
                "const done = arguments[arguments.length - 1];\
                 (async () => { for (let i = 1; i <= 300; i++) {\
                   const content = `long ${i} ` + 'x'.repeat(900 - `long ${i} `.length);\
                   const r = await fetch('/api/messages', { method: 'POST', headers: { 'Content-Type': 'application/json' },\
                     body: JSON.stringify({ room: 'group:lobby', content, client_id: `long-${i}` }) });\
                   if (!r.ok) return done(`status ${r.status}`); } done('ok'); })();",
                vec![],
            )
            .await
            .expect("posting runs");
        assert_eq!(posted, json!("ok"));

        proxy.set_mode(Mode::Pass);
        let before = proxy.upgrades();
        reader
            .wait(
                "a click on retry now",
                "const b = document.querySelector('#retry-btn'); if (b.hidden) return false; b.click(); return true;",
                vec![],
            )
            .await;
        reader
            .wait(
                "all 301 messages",
                "return document.querySelectorAll('#messages li.msg').length === 301;",
                vec![],
            )
            .await;
        let seqs: Vec<u64> = reader.messages().await.iter().map(|m| m.0).collect();
        assert_eq!(seqs, (1..=301).collect::<Vec<u64>>());
        assert_eq!(proxy.upgrades() - before, 1, "the resume came over one socket");
    })
    .await;
}
