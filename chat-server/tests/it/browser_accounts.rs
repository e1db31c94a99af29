//! Accounts in the web UI (issue 15): signing up with an invite code from the admin page, a
//! password change on the settings page ending another browser's session, and an
//! administrator disabling an account whose open page then shows it is signed out.

use super::{PASSWORD, harness};
use harness::Page;

const SIGNED_OUT: &str = "return !document.querySelector('#auth-screen').hidden \
    && document.querySelector('#chat-screen').hidden;";

async fn goto(page: &Page, url: &str) {
    page.c.goto(url).await.unwrap_or_else(|e| panic!("[{}] cannot open {url}: {e}", page.name));
}

/// Opens the admin page and waits for its panel.
async fn open_admin(page: &Page, base: &str) {
    goto(page, &format!("{base}/static/admin.html")).await;
    page.wait("the admin panel", "return !document.querySelector('#admin-panel').hidden;", vec![]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_signs_up_with_an_invite_code_from_the_admin_page() {
    let Some(tools) = harness::tools() else { return };
    let _one_at_a_time = harness::serial().await;
    harness::run(tools, &["root", "guest"], |pages, server| async move {
        let (root, guest) = (&pages[0], &pages[1]);
        root.open(&server.base()).await;
        root.sign_up(PASSWORD).await;
        // The first account is the administrator: the admin page opens for it.
        open_admin(root, &server.base()).await;
        root.js("document.querySelector('#mode-select').value = 'invite';", vec![]).await;
        root.click("#mode-submit").await;
        root.wait("the mode saved", "return document.querySelector('#mode-result').textContent.includes('invite');", vec![])
            .await;
        root.fill("#invite-uses", "1").await;
        root.click("#invite-submit").await;
        let link = root
            .wait("the invite link", "return document.querySelector('#new-invite-link').textContent;", vec![])
            .await;
        let link = link.as_str().unwrap().to_owned();
        assert!(link.starts_with(&format!("{}/static/settings.html#invite=", server.base())), "{link}");
        root.wait_for("the invite listed", "#invites li.invite").await;

        // Without the code the main page's sign-up is refused, saying why.
        guest.open(&server.base()).await;
        guest.fill("#auth-username", "guest").await;
        guest.fill("#auth-password", PASSWORD).await;
        guest.click("#signup-btn").await;
        guest
            .wait(
                "the refusal",
                "const e = document.querySelector('#auth-error'); return !e.hidden && e.textContent.includes('invite');",
                vec![],
            )
            .await;
        // The link fills the code in; signing up lands in the chat, online.
        goto(guest, &link).await;
        let code = guest
            .wait("the code filled in", "return document.querySelector('#invite-code').value;", vec![])
            .await;
        assert_eq!(link.rsplit('=').next(), code.as_str());
        guest.fill("#invite-username", "guest").await;
        guest.fill("#invite-password", PASSWORD).await;
        guest.click("#invite-submit").await;
        guest.wait_online().await;
        // The code is spent: the admin page lists no live invite any more.
        open_admin(root, &server.base()).await;
        root.wait("no live invites", "return document.querySelector('#invites li.invite') === null && document.querySelector('#invites .empty') !== null;", vec![]).await;
        root.wait_for("the guest's account", "tr.user-row[data-user=\"guest\"]").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_signs_the_other_browser_out() {
    let Some(tools) = harness::tools() else { return };
    let _one_at_a_time = harness::serial().await;
    harness::run(tools, &["bob", "bob"], |pages, server| async move {
        let (desk, laptop) = (&pages[0], &pages[1]);
        desk.open(&server.base()).await;
        desk.sign_up(PASSWORD).await;
        laptop.open(&server.base()).await;
        laptop.log_in(PASSWORD).await;

        goto(laptop, &format!("{}/static/settings.html", server.base())).await;
        laptop.wait("the signed-in settings", "return !document.querySelector('#signed-in').hidden;", vec![]).await;
        let rows = laptop
            .wait(
                "both sessions listed",
                "const r = document.querySelectorAll('#sessions tr'); return r.length === 2 ? \
                 Array.from(r).map(t => t.dataset.current) : null;",
                vec![],
            )
            .await;
        let mut rows: Vec<String> = serde_json::from_value(rows).unwrap();
        rows.sort();
        assert_eq!(rows, ["no", "yes"], "this browser's session is marked");
        laptop.fill("#old-password", PASSWORD).await;
        laptop.fill("#new-password", "a brand new password").await;
        laptop.click("#password-submit").await;
        laptop
            .wait(
                "the change confirmed",
                "return document.querySelector('#password-result').textContent.includes('1 other session');",
                vec![],
            )
            .await;
        // The other browser's open chat page shows it is signed out.
        desk.wait("the desk signed out", SIGNED_OUT, vec![]).await;
        // This one goes on, and the new password works on the other.
        goto(laptop, &format!("{}/static/settings.html", server.base())).await;
        laptop
            .wait(
                "still signed in",
                "return document.querySelector('#me-label').textContent === 'signed in as bob';",
                vec![],
            )
            .await;
        desk.log_in("a brand new password").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_disables_an_account_and_its_open_page_signs_out() {
    let Some(tools) = harness::tools() else { return };
    let _one_at_a_time = harness::serial().await;
    harness::run(tools, &["root", "bob"], |pages, server| async move {
        let (root, bob) = (&pages[0], &pages[1]);
        root.open(&server.base()).await;
        root.sign_up(PASSWORD).await;
        bob.open(&server.base()).await;
        bob.sign_up(PASSWORD).await;
        bob.join("lobby").await;

        open_admin(root, &server.base()).await;
        root.click("tr.user-row[data-user=\"bob\"] .disable-user").await;
        root.wait_for("bob shown disabled", "tr.user-row[data-user=\"bob\"][data-status=\"disabled\"]").await;
        bob.wait("bob's page signed out", SIGNED_OUT, vec![]).await;
        // Logging in again is refused with the reason.
        bob.fill("#auth-username", "bob").await;
        bob.fill("#auth-password", PASSWORD).await;
        bob.click("#login-btn").await;
        bob.wait(
            "the disabled notice",
            "const e = document.querySelector('#auth-error'); return !e.hidden && e.textContent.includes('disabled');",
            vec![],
        )
        .await;
        // The audit log on the admin page records it.
        root.click("#audit-refresh").await;
        let row = root
            .wait(
                "the audit entry",
                "const r = document.querySelector('#audit tr.audit-row[data-action=\"disable\"]'); return r && r.textContent;",
                vec![],
            )
            .await;
        assert!(row.as_str().unwrap().contains("root") && row.as_str().unwrap().contains("bob"), "{row}");
    })
    .await;
}
