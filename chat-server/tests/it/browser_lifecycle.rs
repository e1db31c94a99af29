//! The message lifecycle in the web UI: editing (the menu, and Up-arrow in an empty box),
//! deleting with a confirmation (the owner of a private room deletes other members' messages
//! too), reaction chips from two users (mouse and keyboard), replies
//! whose quote jumps to the original (paging older history in when it is not on screen), a
//! deleted or edited mention moving the other user's badge and bell live, and a client that
//! was offline through edits, deletions and reactions showing exactly what one that stayed
//! online shows. Underneath: the store keeping each held message equal to the server's state,
//! and the page drawing it from hostile strings as text only.

use serde_json::{Value, json};

use super::harness::{self, Page};
use super::proxy::{Mode, Proxy};
use super::{PASSWORD, two_in_lobby};

const THUMBS: &str = "\u{1F44D}";
const PARTY: &str = "\u{1F389}";

/// The `seq` of the message shown with exactly `content` (waits for it).
async fn seq_of(page: &Page, content: &str) -> u64 {
    let v = page
        .wait(
            &format!("the seq of {content:?}"),
            "const li = [...document.querySelectorAll('#messages li.msg')]\
               .find((li) => li.querySelector('.content').textContent === arguments[0]);\
             return li ? Number(li.dataset.seq) : null;",
            vec![json!(content)],
        )
        .await;
    v.as_u64().expect("a seq")
}

fn msg(seq: u64) -> String {
    format!("#messages li.msg[data-seq=\"{seq}\"]")
}

/// Opens the actions menu of message `seq` and picks the item with class `item`.
async fn menu(page: &Page, seq: u64, item: &str) {
    page.click(&format!("{} .msg-actions", msg(seq))).await;
    page.click(&format!("{} .msg-menu .{item}", msg(seq))).await;
}

/// Sends `keys` to the focused element.
async fn press(page: &Page, keys: &str) {
    let el = page.c.active_element().await.expect("a focused element");
    el.send_keys(keys).await.expect("keys reach the focused element");
}

/// `[emoji, count, who reacted, pressed]` of each reaction chip of message `seq`.
const CHIPS: &str = "const li = document.querySelector(`#messages li.msg[data-seq=\"${arguments[0]}\"]`);\
    return li ? [...li.querySelectorAll('.chip:not(.add-reaction)')].map((b) =>\
      [b.dataset.emoji, Number(b.querySelector('.chip-count').textContent), b.title, b.getAttribute('aria-pressed')]) : null;";

async fn wait_chips(page: &Page, seq: u64, want: Value) {
    page.wait(
        &format!("the reaction chips of {seq} to be {want}"),
        &format!("return JSON.stringify((() => {{ {CHIPS} }})()) === JSON.stringify(arguments[1]);"),
        vec![json!(seq), want],
    )
    .await;
}

/// Waits until message `seq` reads `content` and is marked edited (or not).
async fn wait_content(page: &Page, seq: u64, content: &str, edited: bool) {
    page.wait(
        &format!("message {seq} to read {content:?} (edited: {edited})"),
        "const li = document.querySelector(`#messages li.msg[data-seq=\"${arguments[0]}\"]`);\
         return !!li && li.querySelector('.content').textContent === arguments[1]\
           && (li.querySelector('.edited')?.textContent === '(edited)') === arguments[2];",
        vec![json!(seq), json!(content), json!(edited)],
    )
    .await;
}

async fn wait_tombstone(page: &Page, seq: u64) {
    page.wait(
        &format!("message {seq} shown deleted"),
        "const li = document.querySelector(`#messages li.msg[data-seq=\"${arguments[0]}\"]`);\
         return !!li && li.classList.contains('deleted') && li.querySelector('.content').textContent === 'message deleted'\
           && !li.querySelector('.msg-actions, .reactions, .edited, .mention');",
        vec![json!(seq)],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edit_from_the_menu_and_with_up_arrow_then_delete_after_confirming() {
    let Some(tools) = harness::tools() else { return };
    let _one_at_a_time = harness::serial().await;
    harness::run(tools, &["alice", "bob"], |pages, server| async move {
        let (alice, bob) = (&pages[0], &pages[1]);
        two_in_lobby(alice, bob, &server).await;
        alice.say("helo wrold").await;
        let seq = seq_of(bob, "helo wrold").await;
        assert_eq!(seq_of(alice, "helo wrold").await, seq);

        // Bob's menu on alice's message offers reply and react only.
        bob.click(&format!("{} .msg-actions", msg(seq))).await;
        let items = bob
            .wait(
                "bob's menu",
                "return [...document.querySelectorAll('.msg-menu .menu-item')].map((b) => b.textContent);",
                vec![],
            )
            .await;
        assert_eq!(items, json!(["Reply", "React..."]));
        press(bob, "\u{e00c}").await; // Escape closes it and gives the focus back
        bob.wait(
            "the menu closed, focus on its button",
            "return !document.querySelector('.msg-menu') && document.activeElement.classList.contains('msg-actions');",
            vec![],
        )
        .await;

        // Alice edits from the menu: the box holds the text, Enter saves; both see it edited.
        menu(alice, seq, "do-edit").await;
        let value = alice.js("return document.querySelector('#composer').value;", vec![]).await;
        assert_eq!(value, json!("helo wrold"));
        alice
            .wait("the edit bar", "return document.querySelector('#composer-mode').dataset.kind === 'edit';", vec![])
            .await;
        alice.fill("#composer", "hello world\u{e007}").await;
        for page in [alice, bob] {
            wait_content(page, seq, "hello world", true).await;
        }
        alice.wait("the edit bar gone", "return document.querySelector('#composer-mode').hidden;", vec![]).await;

        // Up-arrow in the empty box edits her last message; Escape would cancel, Enter saves.
        alice.say("second thought").await;
        let second = seq_of(bob, "second thought").await;
        alice.fill("#composer", "").await;
        alice.keys("#composer", "\u{e013}").await; // ArrowUp
        let value = alice.js("return document.querySelector('#composer').value;", vec![]).await;
        assert_eq!(value, json!("second thought"));
        alice.keys("#composer", "\u{e00c}").await; // Escape: nothing changes
        let value = alice.js("return document.querySelector('#composer').value;", vec![]).await;
        assert_eq!(value, json!(""));
        alice.keys("#composer", "\u{e013}").await;
        alice.keys("#composer", ", revised\u{e007}").await;
        for page in [alice, bob] {
            wait_content(page, second, "second thought, revised", true).await;
            wait_content(page, seq, "hello world", true).await;
        }

        // Delete asks first; "Keep it" keeps it.
        menu(alice, second, "do-delete").await;
        alice.wait_for("the confirmation", &format!("{} .confirm-delete[role=\"alertdialog\"]", msg(second))).await;
        let focused = alice.js("return document.activeElement.textContent;", vec![]).await;
        assert_eq!(focused, json!("Keep it"), "the safe choice has the focus");
        alice.click(&format!("{} .confirm-no", msg(second))).await;
        wait_content(alice, second, "second thought, revised", true).await;
        menu(alice, second, "do-delete").await;
        alice.click(&format!("{} .confirm-yes", msg(second))).await;
        for page in [alice, bob] {
            wait_tombstone(page, second).await;
            wait_content(page, seq, "hello world", true).await;
        }
        // Up-arrow now skips the deleted message.
        alice.keys("#composer", "\u{e013}").await;
        let value = alice.js("return document.querySelector('#composer').value;", vec![]).await;
        assert_eq!(value, json!("hello world"));
        alice.keys("#composer", "\u{e00c}").await;

        // A reload shows the same from the server's history.
        bob.c.refresh().await.expect("reload");
        bob.wait_online().await;
        wait_content(bob, seq, "hello world", true).await;
        wait_tombstone(bob, second).await;
    })
    .await;
}

/// The labels of the open actions menu.
async fn menu_items(page: &Page, what: &str) -> Value {
    page.wait(
        what,
        "const items = [...document.querySelectorAll('.msg-menu .menu-item')].map((b) => b.textContent);\
         return items.length ? items : null;",
        vec![],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_of_a_private_room_deletes_a_members_message_and_every_view_follows() {
    let Some(tools) = harness::tools() else { return };
    let _one_at_a_time = harness::serial().await;
    harness::run(tools, &["owner", "bob", "carol"], |pages, server| async move {
        let (owner, bob, carol) = (&pages[0], &pages[1], &pages[2]);
        two_in_lobby(owner, bob, &server).await;
        carol.open(&server.base()).await;
        carol.sign_up(PASSWORD).await;
        carol.join("lobby").await;

        // The owner creates a private room and invites bob and carol, who accept.
        owner.fill("#join-input", "backroom").await;
        owner.click("#create-private-btn").await;
        owner.wait_current("group:backroom").await;
        for guest in ["bob", "carol"] {
            owner.fill("#invite-input", guest).await;
            owner.click("#invite-btn").await;
            owner
                .wait(
                    "the server confirms the invitation",
                    "return document.querySelector('#toast').textContent.includes('sent to ' + arguments[0]);",
                    vec![json!(guest)],
                )
                .await;
        }
        for page in [bob, carol] {
            page.click("#invite-list li.invitation[data-room=\"group:backroom\"] .accept-invite").await;
            page.wait_current("group:backroom").await;
        }
        bob.say("something bob regrets").await;
        let seq = seq_of(owner, "something bob regrets").await;
        assert_eq!(seq_of(carol, "something bob regrets").await, seq);

        // Carol, a member, may not delete bob's message: her menu does not offer it.
        carol.click(&format!("{} .msg-actions", msg(seq))).await;
        assert_eq!(menu_items(carol, "carol's menu").await, json!(["Reply", "React..."]));
        press(carol, "\u{e00c}").await;

        // The owner may (the room summary's `can_delete`): delete, confirmed.
        owner.click(&format!("{} .msg-actions", msg(seq))).await;
        assert_eq!(menu_items(owner, "the owner's menu").await, json!(["Reply", "React...", "Delete..."]));
        owner.click(&format!("{} .msg-menu .do-delete", msg(seq))).await;
        owner.click(&format!("{} .confirm-yes", msg(seq))).await;
        for page in [owner, bob, carol] {
            wait_tombstone(page, seq).await;
        }
        // In the lobby (public, no owner) the owner is offered delete on her own messages only.
        owner.click(".room-item[data-room=\"group:lobby\"]").await;
        owner.wait_current("group:lobby").await;
        carol.click(".room-item[data-room=\"group:lobby\"]").await;
        carol.wait_current("group:lobby").await;
        carol.say("carol in the lobby").await;
        let lobby_seq = seq_of(owner, "carol in the lobby").await;
        owner.click(&format!("{} .msg-actions", msg(lobby_seq))).await;
        assert_eq!(menu_items(owner, "the owner's menu in the lobby").await, json!(["Reply", "React..."]));

        // Carol's reload shows the tombstone from the server's history.
        carol.c.refresh().await.expect("reload");
        carol.wait_online().await;
        carol.click(".room-item[data-room=\"group:backroom\"]").await;
        carol.wait_current("group:backroom").await;
        wait_tombstone(carol, seq).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reaction_chips_count_both_users_and_work_from_the_keyboard() {
    let Some(tools) = harness::tools() else { return };
    let _one_at_a_time = harness::serial().await;
    harness::run(tools, &["alice", "bob"], |pages, server| async move {
        let (alice, bob) = (&pages[0], &pages[1]);
        two_in_lobby(alice, bob, &server).await;
        alice.say("the build is green").await;
        let seq = seq_of(bob, "the build is green").await;

        // Bob reacts from the menu's picker.
        menu(bob, seq, "do-react").await;
        bob.click(&format!("{} .picker .pick[data-emoji=\"{THUMBS}\"]", msg(seq))).await;
        for page in [alice, bob] {
            let pressed = if page.name == "bob" { "true" } else { "false" };
            wait_chips(page, seq, json!([[THUMBS, 1, "bob", pressed]])).await;
        }

        // Alice clicks bob's chip: two users, in the order they reacted.
        alice.click(&format!("{} .chip[data-emoji=\"{THUMBS}\"]", msg(seq))).await;
        wait_chips(alice, seq, json!([[THUMBS, 2, "bob, alice", "true"]])).await;
        wait_chips(bob, seq, json!([[THUMBS, 2, "bob, alice", "true"]])).await;

        // Alice adds a second emoji with the keyboard: the chips' "+", arrows, Enter.
        alice.click(&format!("{} .add-reaction", msg(seq))).await;
        alice.wait("the picker has the focus", "return document.activeElement.classList.contains('pick');", vec![]).await;
        let target = alice
            .js(
                "const b = [...document.querySelectorAll('.picker .pick')]; return b.findIndex((x) => x.dataset.emoji === arguments[0]);",
                vec![json!(PARTY)],
            )
            .await
            .as_u64()
            .expect("party is offered");
        for _ in 0..target {
            press(alice, "\u{e014}").await; // ArrowRight
        }
        press(alice, "\u{e007}").await; // Enter
        for page in [alice, bob] {
            let thumbs_pressed = "true";
            let party_pressed = if page.name == "alice" { "true" } else { "false" };
            wait_chips(page, seq, json!([[THUMBS, 2, "bob, alice", thumbs_pressed], [PARTY, 1, "alice", party_pressed]])).await;
        }

        // Bob takes his thumbs back with the keyboard from the actions button.
        bob.js(&format!("document.querySelector('{} .msg-actions').focus();", msg(seq)), vec![]).await;
        press(bob, "\u{e007}").await; // opens the menu, focus on Reply
        bob.wait("the menu is open", "return document.activeElement.classList.contains('do-reply');", vec![]).await;
        press(bob, "\u{e015}").await; // ArrowDown to React...
        press(bob, "\u{e007}").await;
        bob.wait("the picker has the focus", "return document.activeElement.classList.contains('pick');", vec![]).await;
        let at = bob
            .js(
                "const b = [...document.querySelectorAll('.picker .pick')]; return b.findIndex((x) => x.dataset.emoji === arguments[0]);",
                vec![json!(THUMBS)],
            )
            .await
            .as_u64()
            .expect("thumbs is offered");
        for _ in 0..at {
            press(bob, "\u{e014}").await;
        }
        press(bob, "\u{e007}").await; // his own thumbs: picking it again takes it back
        for page in [alice, bob] {
            let party_pressed = if page.name == "alice" { "true" } else { "false" };
            let thumbs_pressed = if page.name == "alice" { "true" } else { "false" };
            wait_chips(page, seq, json!([[THUMBS, 1, "alice", thumbs_pressed], [PARTY, 1, "alice", party_pressed]])).await;
        }
        // Reactions never count as unread.
        alice.wait_badge("group:lobby", ".unread-count", "").await;
        bob.wait_badge("group:lobby", ".unread-count", "").await;

        // On a phone-sized window the actions, the menu and the picker fit the screen.
        bob.c.set_window_size(400, 800).await.expect("resize");
        menu(bob, seq, "do-react").await;
        let fits = bob
            .wait(
                "the picker inside the window",
                "const p = document.querySelector('.picker'); if (!p) return null;\
                 const r = p.getBoundingClientRect(); const b = document.querySelector('.msg-actions').getBoundingClientRect();\
                 return [r.left >= 0 && r.right <= window.innerWidth, b.width >= 24 && b.right <= window.innerWidth];",
                vec![],
            )
            .await;
        assert_eq!(fits, json!([true, true]));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_quotes_its_original_and_jumps_to_it_loading_older_history() {
    let Some(tools) = harness::tools() else { return };
    let _one_at_a_time = harness::serial().await;
    harness::run(tools, &["alice", "bob"], |pages, server| async move {
        let (alice, bob) = (&pages[0], &pages[1]);
        two_in_lobby(alice, bob, &server).await;
        alice.say("the original question").await;
        let original = seq_of(bob, "the original question").await;

        // Bob replies from the menu: the bar quotes the original, the reply quotes it for both.
        menu(bob, original, "do-reply").await;
        let bar = bob
            .wait(
                "the reply bar",
                "const b = document.querySelector('#composer-mode'); return b.dataset.kind === 'reply' && !b.hidden ? b.textContent : null;",
                vec![],
            )
            .await;
        assert!(bar.as_str().is_some_and(|t| t.contains("<alice>") && t.contains("the original question")), "{bar}");
        bob.fill("#composer", "the answer\u{e007}").await;
        let reply = seq_of(alice, "the answer").await;
        for page in [alice, bob] {
            let quote = page
                .wait(
                    "the quoted excerpt",
                    "const q = document.querySelector(`#messages li.msg[data-seq=\"${arguments[0]}\"] .reply-quote`);\
                     return q ? [Number(q.dataset.replyTo), q.querySelector('.reply-sender').textContent, q.querySelector('.reply-excerpt').textContent] : null;",
                    vec![json!(reply)],
                )
                .await;
            assert_eq!(quote, json!([original, "<alice>", "the original question"]), "[{}]", page.name);
        }

        // 80 more messages push the original out of the latest page; after a reload only the
        // latest 50 are held, and the quote jumps back to it, paging older history in.
        let posted = alice
            .c
            .execute_async(
                "const done = arguments[arguments.length - 1];\
                 (async () => { for (let i = 1; i <= 80; i++) {\
                   const r = await fetch('/api/messages', { method: 'POST', headers: { 'Content-Type': 'application/json' },\
                     body: JSON.stringify({ room: 'group:lobby', content: `filler ${i}`, client_id: `f${i}` }) });\
                   if (!r.ok) return done(`status ${r.status}`); }\
                   const r = await fetch('/api/messages', { method: 'POST', headers: { 'Content-Type': 'application/json' },\
                     body: JSON.stringify({ room: 'group:lobby', content: 'late answer', client_id: 'late', reply_to: arguments[0] }) });\
                   done(r.ok ? 'ok' : `status ${r.status}`); })();",
                vec![json!(original)],
            )
            .await
            .expect("posting runs");
        assert_eq!(posted, json!("ok"));
        bob.c.refresh().await.expect("reload");
        bob.wait_online().await;
        let late = seq_of(bob, "late answer").await;
        let held = bob.js(&format!("return document.querySelector('{}') !== null;", msg(original)), vec![]).await;
        assert_eq!(held, json!(false), "the original is not on screen after the reload");
        bob.click(&format!("{} .reply-quote", msg(late))).await;
        bob.wait(
            "the original loaded, scrolled to and flashed",
            "const li = document.querySelector(`#messages li.msg[data-seq=\"${arguments[0]}\"]`);\
             if (!li || !li.classList.contains('flash')) return false;\
             const s = document.querySelector('#message-scroll').getBoundingClientRect(); const r = li.getBoundingClientRect();\
             return r.bottom > s.top && r.top < s.bottom;",
            vec![json!(original)],
        )
        .await;
        // Loaded as contiguous history, in order.
        let seqs: Vec<u64> = bob.messages().await.iter().map(|m| m.0).collect();
        assert_eq!(seqs.first(), Some(&1));
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");

        // The reply's original deleted: the quote says so, for both.
        menu(alice, original, "do-delete").await;
        alice.click(&format!("{} .confirm-yes", msg(original))).await;
        for page in [alice, bob] {
            page.wait(
                "the quote of a deleted message",
                "const q = document.querySelector(`#messages li.msg[data-seq=\"${arguments[0]}\"] .reply-excerpt`);\
                 return !!q && q.textContent === 'message deleted';",
                vec![json!(reply)],
            )
            .await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_or_edited_away_mention_clears_the_badge_and_the_bell() {
    let Some(tools) = harness::tools() else { return };
    let _one_at_a_time = harness::serial().await;
    harness::run(tools, &["alice", "bob"], |pages, server| async move {
        let (alice, bob) = (&pages[0], &pages[1]);
        two_in_lobby(alice, bob, &server).await;
        bob.join("random").await;

        alice.say("@bob are you there?").await;
        bob.wait_badge("group:lobby", ".unread-count", "1").await;
        bob.wait_badge("group:lobby", ".mention-badge", "@1").await;
        bob.wait_bell(1).await;
        let mention = seq_of(alice, "@bob are you there?").await;
        menu(alice, mention, "do-delete").await;
        alice.click(&format!("{} .confirm-yes", msg(mention))).await;
        wait_tombstone(alice, mention).await;
        bob.wait_badge("group:lobby", ".unread-count", "").await;
        bob.wait_badge("group:lobby", ".mention-badge", "").await;
        bob.wait_bell(0).await;
        bob.click("#bell").await;
        bob.wait(
            "the notification gone from the list",
            "return document.querySelectorAll('#notif-list li.notif').length === 0 && !document.querySelector('#notif-empty').hidden;",
            vec![],
        )
        .await;
        bob.js("document.body.click();", vec![]).await;

        // An edit that adds a mention rings the bell; editing it away takes it back again.
        alice.say("nothing to see").await;
        bob.wait_badge("group:lobby", ".unread-count", "1").await;
        let plain = seq_of(alice, "nothing to see").await;
        menu(alice, plain, "do-edit").await;
        // Enter first takes the autocomplete's suggestion, then saves.
        alice.fill("#composer", "nothing to see, @bob\u{e007}\u{e007}").await;
        bob.wait_badge("group:lobby", ".mention-badge", "@1").await;
        bob.wait_bell(1).await;
        bob.wait_badge("group:lobby", ".unread-count", "1").await;
        menu(alice, plain, "do-edit").await;
        alice.fill("#composer", "nothing to see\u{e007}").await;
        bob.wait_badge("group:lobby", ".mention-badge", "").await;
        bob.wait_bell(0).await;
        bob.wait_badge("group:lobby", ".unread-count", "1").await;

        // Opening the room shows the current text and reads it.
        bob.click(".room-item[data-room=\"group:lobby\"]").await;
        wait_content(bob, plain, "nothing to see", true).await;
        wait_tombstone(bob, mention).await;
        bob.wait_badge("group:lobby", ".unread-count", "").await;
    })
    .await;
}

/// What a message list shows, independent of who looks: per message its seq, classes, text
/// (quote, body, markers, chips) and who reacted; "seen by" lines and open popups left out.
const SNAPSHOT: &str = "return [...document.querySelectorAll('#messages li.msg')].map((li) => {\
      const c = li.cloneNode(true); c.querySelectorAll('.seen, .popup, .confirm-delete').forEach((e) => e.remove());\
      return [Number(li.dataset.seq), [...li.classList].filter((x) => x !== 'flash').sort().join(' '), c.textContent,\
        [...li.querySelectorAll('.chip:not(.add-reaction)')].map((b) => [b.dataset.emoji, b.title])];\
    });";

/// The sidebar badges of `#lobby` and the bell: `[unread, mentions, bell]`.
const COUNTS: &str = "const b = document.querySelector('.room-item[data-room=\"group:lobby\"]');\
    return [b?.querySelector('.unread-count')?.textContent || '', b?.querySelector('.mention-badge')?.textContent || '',\
      document.querySelector('#bell-count').dataset.count];";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_offline_through_edits_deletions_and_reactions_shows_what_an_online_one_shows() {
    let Some(tools) = harness::tools() else { return };
    let _one_at_a_time = harness::serial().await;
    harness::run(tools, &["alice", "bob", "carol"], |pages, server| async move {
        let (alice, bob, carol) = (&pages[0], &pages[1], &pages[2]);
        // bob goes through a proxy that can cut him off; alice and carol stay online.
        let proxy = Proxy::start(server.addr()).await;
        alice.open(&server.base()).await;
        bob.open(&proxy.base()).await;
        carol.open(&server.base()).await;
        for page in [alice, bob, carol] {
            page.sign_up(PASSWORD).await;
            page.join("lobby").await;
        }
        for text in ["first", "second, @bob and @carol", "third"] {
            alice.say(text).await;
        }
        let mut seqs = Vec::new();
        for text in ["first", "second, @bob and @carol", "third"] {
            seqs.push(seq_of(bob, text).await);
            seq_of(carol, text).await;
        }
        let (first, second, third) = (seqs[0], seqs[1], seqs[2]);
        carol.click(&format!("{} .msg-actions", msg(third))).await;
        carol.click(&format!("{} .msg-menu .do-react", msg(third))).await;
        carol.click(&format!("{} .pick[data-emoji=\"{THUMBS}\"]", msg(third))).await;
        wait_chips(bob, third, json!([[THUMBS, 1, "carol", "false"]])).await;
        // Both look elsewhere, so lobby's counts move.
        bob.join("random").await;
        carol.join("random").await;

        proxy.set_mode(Mode::Refuse);
        bob.wait("bob offline", "return document.querySelector('#conn-status').dataset.state === 'offline';", vec![]).await;

        // While bob is away: an edit, a deleted mention, reactions added and taken back (one
        // through REST), a reply.
        menu(alice, first, "do-edit").await;
        alice.fill("#composer", "first, fixed\u{e007}").await;
        wait_content(alice, first, "first, fixed", true).await;
        menu(alice, second, "do-delete").await;
        alice.click(&format!("{} .confirm-yes", msg(second))).await;
        wait_tombstone(alice, second).await;
        alice.click(&format!("{} .chip[data-emoji=\"{THUMBS}\"]", msg(third))).await;
        wait_chips(alice, third, json!([[THUMBS, 2, "carol, alice", "true"]])).await;
        menu(alice, third, "do-react").await;
        alice.click(&format!("{} .pick[data-emoji=\"{PARTY}\"]", msg(third))).await;
        wait_chips(alice, third, json!([[THUMBS, 2, "carol, alice", "true"], [PARTY, 1, "alice", "true"]])).await;
        let reacted = carol
            .c
            .execute_async(
                "const [seq, emoji, done] = arguments;\
                 fetch('/api/messages/react', { method: 'POST', headers: { 'Content-Type': 'application/json' },\
                   body: JSON.stringify({ room: 'group:lobby', seq, emoji, add: false }) }).then((r) => done(r.status));",
                vec![json!(third), json!(THUMBS)],
            )
            .await
            .expect("the REST reaction runs");
        assert_eq!(reacted, json!(200));
        wait_chips(alice, third, json!([[THUMBS, 1, "alice", "true"], [PARTY, 1, "alice", "true"]])).await;
        menu(alice, first, "do-reply").await;
        alice.fill("#composer", "replying to myself\u{e007}").await;
        let reply = seq_of(alice, "replying to myself").await;
        carol.wait_badge("group:lobby", ".unread-count", "1").await;

        // bob comes back: his lobby counts and bell, then his messages, equal carol's.
        proxy.set_mode(Mode::Pass);
        bob.wait(
            "bob back online",
            "if (document.querySelector('#conn-status').dataset.state === 'online') return true;\
             const b = document.querySelector('#retry-btn'); if (!b.hidden) b.click(); return false;",
            vec![],
        )
        .await;
        let want = carol.js(COUNTS, vec![]).await;
        bob.wait(
            &format!("bob's counts to equal carol's {want}"),
            &format!("return JSON.stringify((() => {{ {COUNTS} }})()) === JSON.stringify(arguments[0]);"),
            vec![want.clone()],
        )
        .await;
        // One unread (the reply: edits and reactions count nothing, the deleted mention had been
        // read), no mention left, and the deleted mention's notification retracted.
        assert_eq!(want, json!(["1", "", "0"]));
        for page in [bob, carol] {
            page.click(".room-item[data-room=\"group:lobby\"]").await;
            seq_of(page, "replying to myself").await;
        }
        let online = carol.js(SNAPSHOT, vec![]).await;
        bob.wait(
            "bob's messages to equal carol's",
            &format!("return JSON.stringify((() => {{ {SNAPSHOT} }})()) === JSON.stringify(arguments[0]);"),
            vec![online.clone()],
        )
        .await;
        let rows = online.as_array().expect("rows");
        assert_eq!(rows.len(), 4, "{online}");
        assert_eq!(rows.iter().map(|r| r[0].as_u64().unwrap()).collect::<Vec<_>>(), [first, second, third, reply]);
        assert!(rows[1][1].as_str().unwrap().contains("deleted"), "{online}");
        assert_eq!(rows[2][3], json!([[THUMBS, "alice"], [PARTY, "alice"]]));
        assert!(rows[0][2].as_str().unwrap().contains("first, fixed") && rows[0][2].as_str().unwrap().contains("(edited)"));
        assert!(rows[3][2].as_str().unwrap().contains("first, fixed"), "the reply quotes the edited text: {online}");
    })
    .await;
}

/// The store's lifecycle reducers, loaded as the page loads them: each held message follows
/// the server's events (an edit, reactions in order, a deletion's tombstone), events about
/// messages not held change nothing, `message_updates` replaces held copies only, retracted
/// notifications go, and `last_rev` only moves when it is safe to resume from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_keeps_each_held_message_equal_to_the_servers_state() {
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
                   const s = new Store(); const out = {};\
                   const summary = { room: 'group:x', kind: 'public', last_seq: 0, last_timestamp: 0, read_seq: 0, unread: 0, highlight: 0 };\
                   s.dispatch({ type: 'connected', frame: { session: 1, username: 'me', rooms: [summary], unread_notifications: 0 } });\
                   const r = s.rooms.get('group:x');\
                   const m = (seq, rev, sender, content, extra) => ({ room: 'group:x', seq, rev, timestamp: seq, sender, content, mentions: [], ...extra });\
                   s.dispatch({ type: 'messageReceived', message: m(1, 1, 'bob', 'helo') });\
                   s.dispatch({ type: 'messageReceived', message: m(2, 2, 'me', 'yes', { reply_to: { seq: 1, sender: 'bob', preview: 'helo' } }) });\
                   const before = r.messages.get(1);\
                   s.dispatch({ type: 'messageEdited', edit: { room: 'group:x', seq: 1, rev: 3, content: 'hello @me', mentions: ['me'], edited_at: 7 } });\
                   out.edited = [r.messages.get(1).content, r.messages.get(1).mentions, r.messages.get(1).edited_at, before.content, before !== r.messages.get(1)];\
                   const react = (rev, emoji, username, add) => s.dispatch({ type: 'reactionChanged', reaction: { room: 'group:x', seq: 1, rev, emoji, username, add } });\
                   react(4, 'A', 'me', true); react(5, 'B', 'bob', true); react(6, 'A', 'bob', true); react(7, 'A', 'bob', true); react(8, 'A', 'me', false); react(9, 'C', 'x', false);\
                   out.reactions = r.messages.get(1).reactions;\
                   react(10, 'B', 'bob', false); react(11, 'A', 'bob', false);\
                   out.none = 'reactions' in r.messages.get(1);\
                   react(12, 'A', 'bob', true);\
                   s.dispatch({ type: 'messageEdited', edit: { room: 'group:x', seq: 99, rev: 13, content: 'elsewhere', mentions: [], edited_at: 8 } });\
                   out.notHeld = [r.seqs, r.messages.has(99), r.lastRev];\
                   s.dispatch({ type: 'messageDeleted', deletion: { room: 'group:x', seq: 1, rev: 14, deleted_at: 9 } });\
                   out.tombstone = r.messages.get(1);\
                   out.reply = r.messages.get(2).reply_to;\
                   out.last = r.lastMessageOf('bob');\
                   s.dispatch({ type: 'notificationsReplaced', items: [{ id: 1, room: 'group:x', seq: 1 }, { id: 2, room: 'group:x', seq: 2 }], unread: 2 });\
                   s.dispatch({ type: 'notificationCount', unread: 1, removed: [1] });\
                   out.notifications = [[...s.notifications.keys()], s.unreadNotifications];\
                   s.dispatch({ type: 'disconnected' });\
                   s.dispatch({ type: 'connected', frame: { session: 2, username: 'me', rooms: [{ ...summary, last_seq: 2 }], unread_notifications: 1 } });\
                   s.dispatch({ type: 'resumeSent', rooms: [{ room: 'group:x', missed: false }] });\
                   out.resuming = [r.catchingUp, r.resuming, r.lastRev];\
                   s.dispatch({ type: 'reactionChanged', reaction: { room: 'group:x', seq: 2, rev: 20, emoji: 'A', username: 'bob', add: true } });\
                   out.gap = [r.catchingUp, r.lastRev];\
                   s.dispatch({ type: 'messageUpdates', updates: { room: 'group:x', messages: [m(2, 2, 'me', 'yes!', { edited_at: 15, reactions: [{ emoji: 'A', users: ['bob'] }] }), m(50, 50, 'bob', 'not held')], more: false, resume: true } });\
                   out.updated = [r.catchingUp, r.lastRev, r.messages.get(2).content, r.seqs];\
                   s.dispatch({ type: 'disconnected' });\
                   s.dispatch({ type: 'connected', frame: { session: 3, username: 'me', rooms: [{ ...summary, last_seq: 2 }], unread_notifications: 1 } });\
                   s.dispatch({ type: 'reactionChanged', reaction: { room: 'group:x', seq: 2, rev: 21, emoji: 'B', username: 'bob', add: true } });\
                   out.contiguous = [r.catchingUp, r.lastRev];\
                   out.actions = ['messageEdited', 'messageDeleted', 'reactionChanged', 'messageUpdates', 'resumeSent'].every((a) => ACTIONS.includes(a));\
                   done(out);\
                 }).catch((e) => done(String(e)));",
                vec![],
            )
            .await
            .expect("store.js runs");
        assert_eq!(
            got,
            json!({
                "edited": ["hello @me", ["me"], 7, "helo", true],
                "reactions": [{ "emoji": "A", "users": ["bob"] }, { "emoji": "B", "users": ["bob"] }],
                "none": false,
                "notHeld": [[1, 2], false, 13],
                "tombstone": { "room": "group:x", "seq": 1, "rev": 1, "timestamp": 1, "sender": "bob", "content": "",
                               "mentions": [], "deleted": true, "deleted_at": 9, "changed_rev": 14 },
                "reply": { "seq": 1, "sender": "bob", "preview": "" },
                "last": null,
                "notifications": [[2], 1],
                "resuming": [true, false, 14],
                "gap": [true, 14],
                "updated": [false, 20, "yes!", [1, 2]],
                "contiguous": [false, 21],
                "actions": true,
            })
        );
    })
    .await;
}

/// A message's lifecycle as the page draws it, from hostile strings: the "(edited)" marker,
/// the tombstone (no text, actions or chips), a reply's quote (an isolate, cut to 120
/// characters, "message deleted" when its original is), chips with counts and who reacted;
/// markup stays text everywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_markers_quotes_and_chips_render_as_text() {
    let Some(tools) = harness::tools() else { return };
    let _one_at_a_time = harness::serial().await;
    harness::run(tools, &["view"], |pages, server| async move {
        let page = &pages[0];
        page.open(&server.base()).await;
        let got = page
            .c
            .execute_async(
                "const done = arguments[arguments.length - 1];\
                 import('/static/message_view.js').then(({ messageItem }) => {\
                   const evil = '<img src=x onerror=\"window.__pwned = 1\">';\
                   const ctx = (target) => ({ me: 'me', target, onSender() {}, onJump() {}, onActions() {}, onReact() {}, onPicker() {} });\
                   const base = { room: 'group:x', timestamp: 1000, mentions: [] };\
                   const original = { ...base, seq: 1, rev: 1, sender: 'bob', content: evil + ' ' + 'x'.repeat(200), edited_at: 2000,\
                     reactions: [{ emoji: '\u{1F44D}', users: ['bob', evil] }, { emoji: evil, users: ['me'] }] };\
                   const reply = { ...base, seq: 2, rev: 2, sender: 'me', content: 'yes', reply_to: { seq: 1, sender: evil, preview: evil } };\
                   const gone = { ...base, seq: 1, rev: 1, sender: 'bob', content: '', deleted: true, deleted_at: 3000 };\
                   const box = document.createElement('ol'); document.body.appendChild(box);\
                   const items = [messageItem(original, ctx()), messageItem(reply, ctx(original)), messageItem(reply, ctx(gone)),\
                                  messageItem(reply, ctx(undefined)), messageItem(gone, ctx())];\
                   items.forEach((li) => box.appendChild(li));\
                   const chips = (li) => [...li.querySelectorAll('.chip:not(.add-reaction)')].map((b) =>\
                     [b.dataset.emoji, b.querySelector('.chip-count').textContent, b.title, b.getAttribute('aria-pressed')]);\
                   const quote = (li) => { const q = li.querySelector('.reply-quote');\
                     return [q.dataset.replyTo, q.querySelector('.reply-sender bdi').textContent, q.querySelector('.reply-excerpt').textContent,\
                             q.querySelector('.reply-excerpt').getAttribute('dir')]; };\
                   const out = {\
                     edited: [items[0].querySelector('.edited').textContent, !!items[0].querySelector('.msg-actions'), chips(items[0])],\
                     excerptLength: [...items[1].querySelector('.reply-excerpt').textContent].length,\
                     quotes: [quote(items[1])[1], quote(items[2]), quote(items[3])],\
                     tombstone: [items[4].className, items[4].querySelector('.content').textContent,\
                       items[4].querySelectorAll('.msg-actions, .reactions, .edited').length],\
                     markup: box.querySelectorAll('img, script').length,\
                   };\
                   box.remove();\
                   setTimeout(() => { out.pwned = typeof window.__pwned; done(out); }, 300);\
                 }).catch((e) => done(String(e)));",
                vec![],
            )
            .await
            .expect("message_view.js runs");
        let evil = "<img src=x onerror=\"window.__pwned = 1\">";
        assert_eq!(
            got,
            json!({
                "edited": ["(edited)", true, [["\u{1F44D}", "2", format!("bob, {evil}"), "false"], [evil, "1", "me", "true"]]],
                "excerptLength": 123,
                "quotes": [evil, ["1", evil, "message deleted", null], ["1", evil, evil, "auto"]],
                "tombstone": ["msg deleted", "message deleted", 0],
                "markup": 0,
                "pwned": "undefined",
            })
        );
    })
    .await;
}
