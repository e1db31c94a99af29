//! Model property of the message lifecycle: random sends (some replies), edits, deletions,
//! reactions, reads and restarts by three members of a room; after every step unread and
//! highlight equal a naive recount, the journal's history equals the naive current state, and
//! the journal's fold (what a restart restores) equals the live state.

use chat_core::{ClientMsg, HistoryQuery, HistoryRange, Journal, RoomKey};
use proptest::prelude::*;

use crate::lifecycle::{delete, edit, react, reply};
use crate::sim::*;

const USERS: [&str; 3] = ["alice", "bob", "carol"];
const EMOJI: [&str; 2] = ["👍", "🎉"];

#[derive(Debug, Clone)]
enum Op {
    Send { from: usize, mentions: u8, reply_to: Option<u64> },
    Edit { from: usize, seq: u64, mentions: u8 },
    Delete { from: usize, seq: u64 },
    React { from: usize, seq: u64, emoji: usize, add: bool },
    Read { who: usize, seq: u64 },
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3usize, 0..8u8, proptest::option::weighted(0.3, 1..8u64))
            .prop_map(|(from, mentions, reply_to)| Op::Send { from, mentions, reply_to }),
        3 => (0..3usize, 1..8u64, 0..8u8).prop_map(|(from, seq, mentions)| Op::Edit { from, seq, mentions }),
        2 => (0..3usize, 1..8u64).prop_map(|(from, seq)| Op::Delete { from, seq }),
        2 => (0..3usize, 1..8u64, 0..2usize, any::<bool>())
            .prop_map(|(from, seq, emoji, add)| Op::React { from, seq, emoji, add }),
        2 => (0..3usize, 0..9u64).prop_map(|(who, seq)| Op::Read { who, seq }),
        1 => Just(Op::Restart),
    ]
}

/// The naive current state of one message.
#[derive(Debug, Clone)]
struct Msg {
    sender: usize,
    content: String,
    mentions: Vec<usize>,
    deleted: bool,
    reactions: Vec<(usize, Vec<usize>)>,
}

fn text(step: usize, from: usize, mentions: u8) -> (String, Vec<usize>) {
    let mut content = format!("m{step}");
    let mut who = Vec::new();
    for (i, name) in USERS.iter().enumerate() {
        if mentions & (1 << i) != 0 {
            content.push_str(&format!(" @{name}"));
            if i != from {
                who.push(i);
            }
        }
    }
    (content, who)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    #[test]
    fn counts_history_and_fold_follow_a_naive_model(ops in proptest::collection::vec(op(), 1..40)) {
        let mut sim = Sim::new();
        let lobby: RoomKey = "group:lobby".parse().unwrap();
        let mut sessions: Vec<_> = USERS.iter().map(|u| sim.connect(u)).collect();
        for s in &sessions {
            sim.recv(*s, join("group:lobby"));
        }
        let mut msgs: Vec<Msg> = Vec::new();
        let mut cursors = [0u64; 3];
        for (step, op) in ops.into_iter().enumerate() {
            sim.advance(1_000); // within every rate limit
            let live = |m: &[Msg], seq: u64| seq >= 1 && (seq as usize) <= m.len() && !m[seq as usize - 1].deleted;
            match op {
                Op::Send { from, mentions, reply_to } => {
                    let (content, who) = text(step, from, mentions);
                    let valid_reply = reply_to.is_none_or(|r| r >= 1 && r as usize <= msgs.len());
                    let msg = match reply_to {
                        Some(r) => reply("group:lobby", r, &content),
                        None => send("group:lobby", &content),
                    };
                    sim.recv(sessions[from], msg);
                    if valid_reply {
                        msgs.push(Msg { sender: from, content, mentions: who, deleted: false, reactions: Vec::new() });
                        cursors[from] = msgs.len() as u64;
                    }
                }
                Op::Edit { from, seq, mentions } => {
                    let (content, who) = text(step, from, mentions);
                    sim.recv(sessions[from], edit("group:lobby", seq, &content));
                    if live(&msgs, seq) && msgs[seq as usize - 1].sender == from {
                        let m = &mut msgs[seq as usize - 1];
                        m.content = content;
                        m.mentions = who;
                    }
                }
                Op::Delete { from, seq } => {
                    sim.recv(sessions[from], delete("group:lobby", seq));
                    if live(&msgs, seq) && msgs[seq as usize - 1].sender == from {
                        let m = &mut msgs[seq as usize - 1];
                        *m = Msg { deleted: true, content: String::new(), mentions: Vec::new(), reactions: Vec::new(), ..m.clone() };
                    }
                }
                Op::React { from, seq, emoji, add } => {
                    sim.recv(sessions[from], react("group:lobby", seq, EMOJI[emoji], add));
                    if live(&msgs, seq) {
                        let r = &mut msgs[seq as usize - 1].reactions;
                        let at = r.iter().position(|(e, _)| *e == emoji);
                        match (add, at) {
                            (true, Some(i)) if !r[i].1.contains(&from) => r[i].1.push(from),
                            (true, None) => r.push((emoji, vec![from])),
                            (false, Some(i)) => {
                                r[i].1.retain(|u| *u != from);
                                if r[i].1.is_empty() {
                                    r.remove(i);
                                }
                            }
                            _ => {}
                        }
                    }
                }
                Op::Read { who, seq } => {
                    sim.recv(sessions[who], ClientMsg::MarkRead { room: room("group:lobby"), seq: Some(seq) });
                    cursors[who] = cursors[who].max(seq.min(msgs.len() as u64));
                }
                Op::Restart => {
                    sim.restart();
                    sessions = USERS.iter().map(|u| sim.connect(u)).collect();
                }
            }
            // Counts: a naive recount of the live messages of others after each cursor.
            for (u, name) in USERS.iter().enumerate() {
                let after = msgs.iter().enumerate().filter(|(i, m)| *i as u64 >= cursors[u] && !m.deleted);
                let unread = after.clone().filter(|(_, m)| m.sender != u).count() as u64;
                let highlight = after.filter(|(_, m)| m.mentions.contains(&u)).count() as u64;
                let got = sim.chat().unread(&user(name), &lobby).unwrap();
                prop_assert_eq!((got.read_seq, got.unread, got.highlight), (cursors[u], unread, highlight), "{} at step {}", name, step);
            }
            // History: the journal holds exactly the naive current state.
            let page = sim.journal().history(&HistoryQuery { room: lobby.clone(), range: HistoryRange::Latest, limit: 100 }).unwrap();
            prop_assert_eq!(page.len(), msgs.len());
            for (m, naive) in page.iter().zip(&msgs) {
                prop_assert_eq!(&m.content, &naive.content);
                prop_assert_eq!(m.deleted, naive.deleted);
                let mentions: Vec<String> = naive.mentions.iter().map(|&i| USERS[i].to_owned()).collect();
                prop_assert_eq!(m.mentions.iter().map(|u| u.to_string()).collect::<Vec<_>>(), mentions);
                let reactions: Vec<(String, Vec<String>)> = naive
                    .reactions
                    .iter()
                    .map(|(e, us)| (EMOJI[*e].to_owned(), us.iter().map(|&i| USERS[i].to_owned()).collect()))
                    .collect();
                let got: Vec<(String, Vec<String>)> =
                    m.reactions.iter().map(|g| (g.emoji.clone(), g.users.iter().map(|u| u.to_string()).collect())).collect();
                prop_assert_eq!(got, reactions);
            }
            // The fold of the log (what restore starts from) is the live state.
            prop_assert_eq!(&sim.journal().snapshot().unwrap(), sim.chat().snapshot());
            chat_core::testing::assert_fold_invariants(sim.chat().snapshot());
            // Each live notification is about a live message that mentions its owner now.
            for (u, name) in USERS.iter().enumerate() {
                for n in sim.chat().snapshot().notifications_of(&user(name), 500) {
                    let m = &msgs[n.seq as usize - 1];
                    prop_assert!(!m.deleted && m.mentions.contains(&u), "{} keeps a notification about {}", name, n.seq);
                }
            }
        }
    }
}
