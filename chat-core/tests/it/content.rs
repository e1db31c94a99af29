//! Content controls: messages with control or bidi-override characters are refused with
//! `invalid_content`, and nothing is stored.

use chat_core::{ClientMsg, ErrorCode, LogEntry, ServerMsg};
use proptest::prelude::*;

use crate::sim::*;

fn stored(sim: &Sim) -> usize {
    sim.journal().entries().iter().filter(|e| matches!(e, LogEntry::Message(_))).count()
}

#[test]
fn control_and_bidi_override_characters_are_refused_and_not_stored() {
    let (mut sim, a, b) = two_in_lobby();
    for bad in
        ["evil \u{202E}gnp.exe", "nul\0byte", "bell\u{7}", "del\u{7f}", "c1\u{85}", "iso\u{2067}late", "esc\u{1b}[2J"]
    {
        let msg = ClientMsg::SendMessage {
            attachments: Vec::new(),
            room: room("group:lobby"),
            content: bad.into(),
            client_id: Some("c".into()),
            reply_to: None,
        };
        sim.recv(a, msg);
        let frames = sim.take(a);
        assert!(
            matches!(&frames[..], [ServerMsg::Error { code: ErrorCode::InvalidContent, client_id: Some(c), .. }] if c == "c"),
            "{bad:?}: {frames:?}"
        );
    }
    assert_eq!(stored(&sim), 0);
    assert!(messages(&sim.take(b)).is_empty());
    // Tabs, newlines, marks and joiners are text.
    for good in ["two\nlines\tand a tab\r\n", "שלום \u{200f}!", "👩\u{200d}💻"] {
        sim.recv(a, send("group:lobby", good));
    }
    assert_eq!(messages(&sim.take(b)).len(), 3);
    // Over REST too.
    let reply = sim.request("alice", send("group:lobby", "x\u{202D}y"));
    assert!(matches!(reply, ServerMsg::Error { code: ErrorCode::InvalidContent, .. }), "{reply:?}");
}

/// The documented refusal set, written out naively.
fn naive_refused(c: char) -> bool {
    let c = c as u32;
    (c < 0x20 && ![0x09, 0x0a, 0x0d].contains(&c))
        || (0x7f..=0x9f).contains(&c)
        || (0x202a..=0x202e).contains(&c)
        || (0x2066..=0x2069).contains(&c)
}

fn any_text() -> impl Strategy<Value = String> {
    let interesting = prop_oneof![
        4 => proptest::char::range('a', 'z'),
        1 => proptest::char::range('\0', '\u{a0}'),
        1 => proptest::char::range('\u{2000}', '\u{2070}'),
        1 => proptest::char::any(),
    ];
    proptest::collection::vec(interesting, 1..12).prop_map(|cs| format!("x{}", cs.into_iter().collect::<String>()))
}

proptest! {
    #[test]
    fn a_message_is_stored_exactly_when_it_has_no_refused_character(text in any_text()) {
        let (mut sim, a, _b) = two_in_lobby();
        sim.recv(a, send("group:lobby", &text));
        let refused = text.chars().any(naive_refused);
        prop_assert_eq!(stored(&sim), usize::from(!refused), "{:?}", text);
        prop_assert_eq!(errors(&sim.take(a)).contains(&ErrorCode::InvalidContent), refused);
    }
}
