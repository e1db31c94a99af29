//! The message lifecycle in the web UI: the store keeping each held message equal to the
//! server's state (edits, deletions, reactions, `message_updates` on resume, retracted
//! notifications) and the page drawing it ("(edited)", tombstones, reply quotes, reaction
//! chips) from hostile strings as text only.

use serde_json::json;

use super::harness;

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
                   s.dispatch({ type: 'messageUpdates', updates: { room: 'group:x', messages: [m(2, 2, 'me', 'yes!', { edited_at: 15, reactions: [{ emoji: 'A', users: ['bob'] }] }), m(50, 50, 'bob', 'not held')], more: false } });\
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
                               "mentions": [], "deleted": true, "deleted_at": 9 },
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
