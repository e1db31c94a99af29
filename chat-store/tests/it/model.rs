//! The model test: the store against `MemoryJournal` (the reference), for random logs from real
//! `Chat` activity and from raw arbitrary entries, before and after close + reopen.
//! Honours `PROPTEST_CASES`.

use chat_core::{HistoryQuery, HistoryRange, Journal, LogEntry, MemoryJournal};
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
                    room: lobby.clone(),
                    seq,
                    timestamp: chat_core::Timestamp(T0 + seq),
                    sender: alice.clone(),
                    content: format!("@bob number {seq}"),
                    mentions: vec![bob.clone()],
                    client_id: Some(format!("id-{seq}")),
                    rev: 0,
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
