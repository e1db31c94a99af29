//! Pending invitations in the web UI: the invitee accepts one and chats; a declined one
//! disappears on every tab of the invitee.

use serde_json::json;

use super::{PASSWORD, harness, two_in_lobby};
use harness::Page;

/// The owner creates a private room and invites `guest` (by the room tools' form).
async fn invite_to_private_room(owner: &Page, room: &str, guest: &str) {
    owner.fill("#join-input", room).await;
    owner.click("#create-private-btn").await;
    owner.wait_current(&format!("group:{room}")).await;
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

const INVITATION: &str = "const li = document.querySelector(`#invite-list li.invitation[data-room=\"${arguments[0]}\"]`);\
    return li && !document.querySelector('#invitations').hidden ? li.textContent : null;";

const NO_INVITATION: &str = "return document.querySelector(`#invite-list li.invitation[data-room=\"${arguments[0]}\"]`) === null \
    && document.querySelector('#invitations').hidden;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_invitee_accepts_an_invitation_and_chats() {
    let Some(tools) = harness::tools() else { return };
    let _one_at_a_time = harness::serial().await;
    harness::run(tools, &["owner", "guest"], |pages, server| async move {
        let (owner, guest) = (&pages[0], &pages[1]);
        two_in_lobby(owner, guest, &server).await;
        invite_to_private_room(owner, "hideout", "guest").await;

        // Pending: listed with who invited, not a room yet.
        let text = guest.wait("the invitation", INVITATION, vec![json!("group:hideout")]).await;
        assert!(text.as_str().is_some_and(|t| t.starts_with("#hideout [priv] from owner")), "{text}");
        let is_room = guest
            .js("return document.querySelector('.room-item[data-room=\"group:hideout\"]') !== null;", vec![])
            .await;
        assert_eq!(is_room, json!(false), "an invitation is not a membership");

        // Accepting joins and opens the room; the two chat in it.
        guest.click("#invite-list li.invitation[data-room=\"group:hideout\"] .accept-invite").await;
        guest.wait_current("group:hideout").await;
        guest.wait("the invitation gone", NO_INVITATION, vec![json!("group:hideout")]).await;
        guest.say("thanks for the invite").await;
        owner.wait_message("thanks for the invite").await;
        owner.say("welcome to the hideout").await;
        guest.wait_message("welcome to the hideout").await;
        // The owner's member list shows the guest (a member_joined delta).
        owner.wait_for("guest in the owner's member list", "#online-line button[data-user=\"guest\"]").await;
        // Permissions are the server's: the guest may not invite or remove in a private room
        // and may leave; the owner may remove and may not leave.
        let guest_tools = guest
            .js(
                "return [document.querySelector('#invite-form').hidden, document.querySelector('#leave-btn').hidden,\
                  document.querySelectorAll('#online-line .remove-member').length];",
                vec![],
            )
            .await;
        assert_eq!(guest_tools, json!([true, false, 0]));
        let owner_tools = owner
            .js(
                "return [document.querySelector('#invite-form').hidden, document.querySelector('#leave-btn').hidden,\
                  document.querySelectorAll('#online-line .remove-member[data-user=\"guest\"]').length];",
                vec![],
            )
            .await;
        assert_eq!(owner_tools, json!([false, true, 1]));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_invitation_disappears_on_both_of_the_invitees_tabs() {
    let Some(tools) = harness::tools() else { return };
    let _one_at_a_time = harness::serial().await;
    harness::run(tools, &["owner", "guest", "guest"], |pages, server| async move {
        let (owner, guest, guest_tab) = (&pages[0], &pages[1], &pages[2]);
        two_in_lobby(owner, guest, &server).await;
        guest_tab.open(&server.base()).await;
        guest_tab.log_in(PASSWORD).await;
        invite_to_private_room(owner, "backroom", "guest").await;
        for tab in [guest, guest_tab] {
            tab.wait("the invitation on this tab", INVITATION, vec![json!("group:backroom")]).await;
        }

        guest_tab.click("#invite-list li.invitation[data-room=\"group:backroom\"] .decline-invite").await;
        for tab in [guest, guest_tab] {
            tab.wait("the invitation gone on this tab", NO_INVITATION, vec![json!("group:backroom")]).await;
            let joined = tab
                .js("return document.querySelector('.room-item[data-room=\"group:backroom\"]') !== null;", vec![])
                .await;
            assert_eq!(joined, json!(false));
        }
        // Still gone after a reload (the server no longer lists it in `connected`).
        guest.c.refresh().await.expect("reload");
        guest.wait_online().await;
        guest.wait_current("group:lobby").await;
        guest.wait("no invitation after the reload", NO_INVITATION, vec![json!("group:backroom")]).await;
    })
    .await;
}
