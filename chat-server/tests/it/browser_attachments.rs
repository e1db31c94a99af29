//! Attachments in the web UI: alice pastes an image into the composer (a progress bar, then a
//! chip), sends it; bob sees its thumbnail and enlarges it; a dropped file arrives as a download
//! chip with its name; a user outside the room cannot fetch the image.

use serde_json::json;

use super::harness;
use super::two_in_lobby;

/// Puts a file made in the page (a PNG drawn on a canvas, or text) into a DataTransfer and
/// dispatches `kind` (`paste` on the composer, `drop` on the conversation pane).
const INJECT: &str = "const [kind, name, text] = arguments; const done = arguments[arguments.length - 1];\
    const make = text !== null ? Promise.resolve(new Blob([text], {type: 'text/plain'})) : new Promise((ok) => {\
      const c = document.createElement('canvas'); c.width = 64; c.height = 48;\
      const g = c.getContext('2d'); g.fillStyle = '#c03'; g.fillRect(0, 0, 64, 48); c.toBlob(ok, 'image/png'); });\
    make.then((blob) => { const dt = new DataTransfer(); dt.items.add(new File([blob], name, {type: blob.type}));\
      if (kind === 'paste') document.getElementById('composer').dispatchEvent(new ClipboardEvent('paste', {clipboardData: dt, bubbles: true, cancelable: true}));\
      else document.getElementById('room-pane').dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));\
      done(true); });";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pasted_image_shows_at_the_other_user_and_not_outside_the_room() {
    let Some(tools) = harness::tools() else { return };
    let _one_at_a_time = harness::serial().await;
    harness::run(tools, &["alice", "bob"], |pages, server| async move {
        let (alice, bob) = (&pages[0], &pages[1]);
        two_in_lobby(alice, bob, &server).await;

        alice.c.execute_async(INJECT, vec![json!("paste"), json!("cat.png"), json!(null)]).await.expect("paste");
        alice.wait_for("the uploaded chip", "#attach-tray .file-chip.ready").await;
        let chip = alice.js("return document.querySelector('#attach-tray .file-name').textContent;", vec![]).await;
        assert_eq!(chip, json!("cat.png"));
        alice.say("look at this").await;
        alice.wait("the tray emptied", "return document.getElementById('attach-tray').hidden;", vec![]).await;

        let src = bob
            .wait(
                "bob sees the thumbnail, loaded",
                "const img = document.querySelector('#messages li.msg .attachments img.thumb');\
                 return img && img.complete && img.naturalWidth > 0 ? img.getAttribute('src') : null;",
                vec![],
            )
            .await;
        let src = src.as_str().unwrap().to_owned();
        assert!(src.starts_with("/api/attachments/") && src.ends_with("/thumbnail"), "{src}");
        bob.click("#messages li.msg .thumb-btn").await;
        bob.wait(
            "the enlarged image",
            "const img = document.querySelector('.image-overlay img'); return !!img && img.complete && img.naturalWidth === 64;",
            vec![],
        )
        .await;
        bob.click(".image-overlay").await;
        bob.wait("the overlay closed", "return !document.querySelector('.image-overlay');", vec![]).await;

        // A dropped text file, sent without text, is a download chip at bob's.
        alice.c.execute_async(INJECT, vec![json!("drop"), json!("notes.txt"), json!("hello")]).await.expect("drop");
        alice.wait_for("the second chip", "#attach-tray .file-chip.ready").await;
        alice.say("").await;
        let name = bob
            .wait(
                "bob sees the file chip",
                "const a = document.querySelector('#messages li.msg .attachments a.file-chip');\
                 return a ? a.querySelector('.file-name').textContent + '|' + a.getAttribute('download') : null;",
                vec![],
            )
            .await;
        assert_eq!(name, json!("notes.txt|notes.txt"));

        // Someone outside the room gets 404 for the image and its thumbnail.
        let carol = crate::support::register(server.addr(), "carol").await;
        let full = src.trim_end_matches("/thumbnail").to_owned();
        for path in [src.as_str(), full.as_str()] {
            assert_eq!(crate::support::get(server.addr(), path, Some(&carol)).await.status, 404, "{path}");
            assert_eq!(crate::support::get(server.addr(), path, None).await.status, 404, "{path}");
        }
    })
    .await;
}
