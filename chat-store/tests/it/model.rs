//! The model test: the store against `MemoryJournal` (the reference), for random logs from real
//! `Chat` activity (the message lifecycle included: edits, deletions, reactions, replies) and
//! from raw arbitrary entries, before and after close + reopen; and deleted text gone from the
//! store's bytes. Honours `PROPTEST_CASES`.

use std::collections::BTreeMap;

use chat_core::{
    Chat, ClientMsg, Config, HistoryQuery, HistoryRange, Input, Journal, LoadError, LogEntry, MemoryJournal, Output,
    RoomKey, RoomRef, SessionId, Timestamp,
};
use chat_store::Store;
use proptest::prelude::*;

use crate::common::*;

fn queries() -> impl Strategy<Value = Vec<HistoryQuery>> {
    let range = prop_oneof![
        Just(HistoryRange::Latest),
        (0..35u64).prop_map(HistoryRange::Before),
        (0..35u64).prop_map(HistoryRange::After),
        Just(HistoryRange::Before(u64::MAX)),
        Just(HistoryRange::After(u64::MAX)),
    ];
    let query = (0..ROOMS.len() + 1, range, 0..12u32).prop_map(|(r, range, limit)| HistoryQuery {
        // One past the pool: a room nothing was ever written to.
        room: room(ROOMS.get(r).copied().unwrap_or("group:empty")),
        range,
        limit,
    });
    proptest::collection::vec(query, 1..12)
}

fn same_state(store: &Store, model: &MemoryJournal, queries: &[HistoryQuery]) -> Result<(), TestCaseError> {
    prop_assert_eq!(store.snapshot().unwrap(), model.snapshot().unwrap());
    for query in queries {
        prop_assert_eq!(store.history(query).unwrap(), model.history(query).unwrap(), "query {:?}", query);
    }
    // Whole rooms, so that every stored message is compared at least once.
    for r in ROOMS {
        let all = HistoryQuery { room: room(r), range: HistoryRange::After(0), limit: u32::MAX };
        prop_assert_eq!(store.history(&all).unwrap(), model.history(&all).unwrap());
    }
    Ok(())
}

/// Appends `batches[..split]`, compares, reopens, appends the rest, compares, reopens, compares.
fn check(batches: Vec<Vec<LogEntry>>, split: usize, queries: &[HistoryQuery]) -> Result<(), TestCaseError> {
    let split = split % (batches.len() + 1);
    let backend = SharedMemory::default();
    let mut store = Store::with_backend(backend.clone()).unwrap();
    let mut model = MemoryJournal::new();
    for batch in &batches[..split] {
        store.append(batch).unwrap();
        model.append(batch).unwrap();
        prop_assert_eq!(store.snapshot().unwrap(), model.snapshot().unwrap());
    }
    same_state(&store, &model, queries)?;
    drop(store);

    let mut store = Store::with_backend(backend.clone()).unwrap();
    same_state(&store, &model, queries)?;
    for batch in &batches[split..] {
        store.append(batch).unwrap();
        model.append(batch).unwrap();
    }
    same_state(&store, &model, queries)?;
    drop(store);

    let store = Store::with_backend(backend).unwrap();
    same_state(&store, &model, queries)
}

proptest! {
    #[test]
    fn raw_entries_match_memory_journal(batches in raw_batches(), split in 0..8usize, queries in queries()) {
        check(raw_entries(&batches), split, &queries)?;
    }

    #[test]
    fn chat_activity_matches_memory_journal(batches in chat_batches(), split in 0..8usize, queries in queries()) {
        let entries = chat_entries(&batches);
        check(entries, split, &queries)?;
    }
}

/// Files fsync on every append (tens of ms each on the shared CI disk): a few cases suffice, the
/// in-memory cases above cover the logic and the crash test covers files.
fn file_cases() -> ProptestConfig {
    let cases = (ProptestConfig::default().cases / 100).max(4);
    ProptestConfig { cases, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(file_cases())]

    /// The same, on a real file closed and reopened by path.
    #[test]
    fn file_store_matches_memory_journal(batches in chat_batches(), queries in queries()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chat.redb");
        let entries = chat_entries(&batches);
        let mut model = MemoryJournal::new();
        {
            let mut store = Store::open(&path).unwrap();
            for batch in &entries {
                store.append(batch).unwrap();
                model.append(batch).unwrap();
            }
            same_state(&store, &model, &queries)?;
        }
        let store = Store::open(&path).unwrap();
        same_state(&store, &model, &queries)?;
    }
}

/// Long enough to evict notifications (inbox cap 500) and client ids (window 1,000), which random
/// cases never reach.
#[test]
fn eviction_paths_match_memory_journal() {
    let lobby = room("group:lobby");
    let (alice, bob) = (user("alice"), user("bob"));
    let mut setup = vec![
        LogEntry::UserAdded { user: alice.clone() },
        LogEntry::UserAdded { user: bob.clone() },
        LogEntry::RoomCreated {
            room: lobby.clone(),
            kind: chat_core::RoomKind::Public,
            owner: None,
            timestamp: chat_core::Timestamp(T0),
        },
    ];
    setup.push(LogEntry::MemberAdded { room: lobby.clone(), user: alice.clone() });
    setup.push(LogEntry::MemberAdded { room: lobby.clone(), user: bob.clone() });
    let backend = SharedMemory::default();
    let mut store = Store::with_backend(backend.clone()).unwrap();
    let mut model = MemoryJournal::new();
    store.append(&setup).unwrap();
    model.append(&setup).unwrap();
    for chunk in (1..=1_300u64).collect::<Vec<_>>().chunks(250) {
        let mut batch: Vec<LogEntry> = chunk
            .iter()
            .map(|&seq| {
                LogEntry::Message(std::sync::Arc::new(chat_core::Message {
                    attachments: Vec::new(),
                    room: lobby.clone(),
                    seq,
                    timestamp: chat_core::Timestamp(T0 + seq),
                    sender: alice.clone(),
                    content: format!("@bob number {seq}"),
                    mentions: vec![bob.clone()],
                    client_id: Some(format!("id-{seq}")),
                    rev: 0,
                    changed_rev: 0,
                    edited_at: None,
                    deleted: false,
                    deleted_at: None,
                    reply_to: None,
                    reactions: Vec::new(),
                }))
            })
            .collect();
        batch.push(LogEntry::NotificationsRead { user: bob.clone(), ids: Some(vec![chunk[0], chunk[0] + 700]) });
        store.append(&batch).unwrap();
        model.append(&batch).unwrap();
    }
    let expected = model.snapshot().unwrap();
    assert_eq!(expected.notification_count(&bob), 500, "the inbox cap was reached");
    assert_eq!(expected.client_id_count(&alice), 1_000, "the client id window was reached");
    assert_eq!(store.snapshot().unwrap(), expected);
    drop(store);
    assert_eq!(Store::with_backend(backend).unwrap().snapshot().unwrap(), expected);
}

// ---------------------------------------------------------------------------------------------
// The lifecycle: sends (some replies), edits, deletions, reactions and reads of four members in
// two rooms, run through a real `Chat` whose loads (the targets of the changes) are answered
// from the committed log, so the entries are exactly the ones a server writes.

const LIFE_ROOMS: [&str; 2] = ["group:lobby", "group:dev"];
const EMOJI: [&str; 3] = ["👍", "🎉", "x"];

#[derive(Debug, Clone)]
enum LifeOp {
    /// sender, room, mentions (bitmask), reply target
    Send(usize, usize, u8, Option<u64>),
    /// sender, room, seq, mentions
    Edit(usize, usize, u64, u8),
    /// sender, room, seq
    Delete(usize, usize, u64),
    /// sender, room, seq, emoji, add
    React(usize, usize, u64, usize, bool),
    /// reader, room, seq
    Read(usize, usize, u64),
}

fn life_op() -> impl Strategy<Value = LifeOp> {
    let (u, r) = (0..USERS.len(), 0..LIFE_ROOMS.len());
    prop_oneof![
        5 => (u.clone(), r.clone(), any::<u8>(), proptest::option::weighted(0.3, 0..10u64))
            .prop_map(|(u, r, m, to)| LifeOp::Send(u, r, m, to)),
        3 => (u.clone(), r.clone(), 0..10u64, any::<u8>()).prop_map(|(u, r, s, m)| LifeOp::Edit(u, r, s, m)),
        3 => (u.clone(), r.clone(), 0..10u64).prop_map(|(u, r, s)| LifeOp::Delete(u, r, s)),
        3 => (u.clone(), r.clone(), 0..10u64, 0..EMOJI.len(), any::<bool>())
            .prop_map(|(u, r, s, e, a)| LifeOp::React(u, r, s, e, a)),
        1 => (u, r, 0..10u64).prop_map(|(u, r, s)| LifeOp::Read(u, r, s)),
    ]
}

/// A text no other message or edit shares (the token `zqNNNNx`), with the mentions of `mentions`.
fn life_text(step: usize, mentions: u8) -> String {
    let mut text = format!("zq{step:04}x");
    for (i, name) in USERS.iter().enumerate() {
        if mentions & (1 << i) != 0 {
            text.push_str(&format!(" @{name}"));
        }
    }
    text
}

/// Every text each message ever had (sent, then each edit).
type Texts = BTreeMap<(RoomKey, u64), Vec<String>>;

/// Runs the ops through a `Chat` (everyone a member of both rooms), each batch drained until
/// quiescent as a driver does: entries committed to a reference journal, then the loads
/// answered from it. Returns the committed batches and every text each message ever had.
fn life_entries(batches: &[Vec<LifeOp>]) -> (Vec<Vec<LogEntry>>, Texts) {
    let mut config = Config::default();
    config.send_burst = 10_000;
    config.op_burst = 10_000;
    let mut chat = Chat::new(config);
    let mut reference = MemoryJournal::new();
    let mut out = Vec::new();
    let mut now = T0;
    let mut inputs = Vec::new();
    for (i, name) in USERS.iter().enumerate() {
        let session = SessionId(i as u64 + 1);
        inputs.push(Input::Connect { session, user: user(name) });
        for r in LIFE_ROOMS {
            inputs.push(Input::Receive { session, msg: ClientMsg::JoinRoom { room: RoomRef::key(&room(r)) } });
        }
    }
    let mut step = 0;
    let mut texts = Texts::new();
    let mut batch_iter = batches.iter();
    loop {
        for input in inputs.drain(..) {
            now += 13;
            chat.handle(Timestamp(now), input);
        }
        // Drain until quiescent: commit, then answer the loads from what is committed.
        loop {
            let (persist, rest) = chat.drain().into_parts();
            if persist.is_empty() && rest.is_empty() {
                break;
            }
            if !persist.is_empty() {
                for entry in &persist {
                    match entry {
                        LogEntry::Message(m) => {
                            texts.entry((m.room.clone(), m.seq)).or_default().push(m.content.clone())
                        }
                        LogEntry::Edited(e) => {
                            texts.entry((e.room.clone(), e.seq)).or_default().push(e.content.clone())
                        }
                        _ => {}
                    }
                }
                reference.append(&persist).unwrap();
                out.push(persist);
            }
            for output in rest {
                if let Output::Load { load, query } = output {
                    let result = reference.history(&query).map_err(LoadError::journal);
                    chat.handle(Timestamp(now), Input::Loaded { load, result });
                }
            }
        }
        let Some(batch) = batch_iter.next() else { break };
        for op in batch {
            step += 1;
            let (u, r) = match op {
                LifeOp::Send(u, r, ..)
                | LifeOp::Edit(u, r, ..)
                | LifeOp::Delete(u, r, _)
                | LifeOp::React(u, r, ..)
                | LifeOp::Read(u, r, _) => (*u, RoomRef::key(&room(LIFE_ROOMS[*r]))),
            };
            let msg = match op {
                LifeOp::Send(_, _, m, reply_to) => ClientMsg::SendMessage {
                    attachments: Vec::new(),
                    room: r,
                    content: life_text(step, *m),
                    client_id: Some(format!("c{step}")),
                    reply_to: *reply_to,
                },
                LifeOp::Edit(_, _, seq, m) => {
                    ClientMsg::EditMessage { room: r, seq: *seq, content: life_text(step, *m), client_id: None }
                }
                LifeOp::Delete(_, _, seq) => ClientMsg::DeleteMessage { room: r, seq: *seq },
                LifeOp::React(_, _, seq, e, add) => {
                    ClientMsg::React { room: r, seq: *seq, emoji: EMOJI[*e].into(), add: *add }
                }
                LifeOp::Read(_, _, seq) => ClientMsg::MarkRead { room: r, seq: Some(*seq) },
            };
            inputs.push(Input::Receive { session: SessionId(u as u64 + 1), msg });
        }
    }
    (out, texts)
}

fn lifecycle_queries() -> impl Strategy<Value = Vec<HistoryQuery>> {
    let range = prop_oneof![
        Just(HistoryRange::Latest),
        (0..12u64).prop_map(HistoryRange::Before),
        (0..12u64).prop_map(HistoryRange::After),
        (0..12u64).prop_map(HistoryRange::At),
        (0..30u64, 0..12u64, 0..12u64).prop_map(|(rev, after, through)| HistoryRange::ChangedSince {
            rev,
            after,
            through
        }),
    ];
    let query = (0..LIFE_ROOMS.len(), range, 0..12u32).prop_map(|(r, range, limit)| HistoryQuery {
        room: room(LIFE_ROOMS[r]),
        range,
        limit,
    });
    proptest::collection::vec(query, 1..12)
}

/// Every deleted message's texts (all it ever had), by their unique `zqNNNNx` tokens.
fn deleted_tokens(entries: &[Vec<LogEntry>], texts: &Texts) -> Vec<(RoomKey, u64, String)> {
    let deleted = entries.iter().flatten().filter_map(|e| match e {
        LogEntry::Deleted(d) => Some((d.room.clone(), d.seq)),
        _ => None,
    });
    deleted
        .flat_map(|(room, seq)| texts[&(room.clone(), seq)].iter().map(move |t| (room.clone(), seq, t[..7].to_owned())))
        .collect()
}

proptest! {
    /// With edits, deletions, reactions and replies: the store's snapshot and every history
    /// page (`At` and `ChangedSince` included) equal `MemoryJournal`'s, before and after a
    /// reopen between batches and after the last.
    #[test]
    fn lifecycle_matches_memory_journal(
        batches in proptest::collection::vec(proptest::collection::vec(life_op(), 1..12), 1..6),
        split in 0..8usize,
        queries in lifecycle_queries(),
    ) {
        let (entries, _) = life_entries(&batches);
        let split = split % (entries.len() + 1);
        let backend = SharedMemory::default();
        let mut store = Store::with_backend(backend.clone()).unwrap();
        let mut model = MemoryJournal::new();
        for (i, batch) in entries.iter().enumerate() {
            if i == split {
                // A restart in between: the store is closed and opened again on the same bytes.
                drop(store);
                store = Store::with_backend(backend.clone()).unwrap();
                same_state(&store, &model, &queries)?;
            }
            store.append(batch).unwrap();
            model.append(batch).unwrap();
        }
        same_state(&store, &model, &queries)?;
        for q in &queries {
            let all = HistoryQuery { limit: u32::MAX, ..q.clone() };
            prop_assert_eq!(store.history(&all).unwrap(), model.history(&all).unwrap(), "query {:?}", all);
        }
        drop(store);
        let store = Store::with_backend(backend).unwrap();
        same_state(&store, &model, &queries)?;
    }
}

proptest! {
    #![proptest_config(file_cases())]

    /// No text a deleted message ever had (sent or edited) is in the store's data: a backup
    /// (every table's rows, copied into a new file) holds none of their bytes. The store's own
    /// file may keep them in pages redb freed until it reuses them (docs/design.md).
    #[test]
    fn deleted_text_is_gone_from_the_stores_data(
        batches in proptest::collection::vec(proptest::collection::vec(life_op(), 1..12), 1..6),
    ) {
        let (entries, texts) = life_entries(&batches);
        let store = Store::in_memory().unwrap();
        let mut store = store;
        for batch in &entries {
            store.append(batch).unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("backup.redb");
        store.backup_to(&copy).unwrap();
        let bytes = std::fs::read(&copy).unwrap();
        for (room, seq, token) in deleted_tokens(&entries, &texts) {
            prop_assert!(
                !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
                "the text {} of deleted {}#{} is in the backup", token, room, seq
            );
        }
        // The live texts are there: the search above would find them.
        let live = texts.iter().filter(|(k, _)| !deleted_tokens(&entries, &texts).iter().any(|(r, s, _)| (r, s) == (&k.0, &k.1)));
        for (_, versions) in live {
            let token = &versions.last().unwrap().as_bytes()[..7];
            prop_assert!(bytes.windows(token.len()).any(|w| w == token), "a live message's text is in the backup");
        }
    }
}
