//! Accounts, tokens and settings: durable on their own, separate from the journal's tables.

use chat_core::{Journal, Timestamp};
use chat_store::{Store, TokenRecord};

use crate::common::*;

#[test]
fn accounts_are_created_once_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("accounts.redb");
    {
        let store = Store::open(&path).unwrap();
        assert!(store.create_account(&user("alice"), "hash-1", Timestamp(T0)).unwrap());
        assert!(
            !store.create_account(&user("Alice"), "hash-2", Timestamp(T0 + 1)).unwrap(),
            "names are case-insensitive"
        );
        assert_eq!(store.account(&user("bob")).unwrap(), None);
    }
    let store = Store::open(&path).unwrap();
    let account = store.account(&user("alice")).unwrap().unwrap();
    assert_eq!(account.user, user("alice"));
    assert_eq!(account.password_hash, "hash-1", "the first registration wins");
    assert_eq!(account.created, Timestamp(T0));
    // Accounts are not chat state: the journal's snapshot does not see them.
    assert!(store.snapshot().unwrap().users().next().is_none());
}

#[test]
fn tokens_are_stored_replaced_and_deleted() {
    let store = Store::in_memory().unwrap();
    let hash = [0xA5; 32];
    let other = [0x5A; 32];
    let record = TokenRecord { user: user("bob"), created: Timestamp(T0), expires: Timestamp(T0 + 1_000) };
    assert_eq!(store.token(&hash).unwrap(), None);
    store.put_token(hash, &record).unwrap();
    assert_eq!(store.token(&hash).unwrap(), Some(record.clone()));
    assert_eq!(store.token(&other).unwrap(), None);
    let renewed = TokenRecord { expires: Timestamp(T0 + 2_000), ..record };
    store.put_token(hash, &renewed).unwrap();
    assert_eq!(store.token(&hash).unwrap(), Some(renewed));
    store.delete_token(&hash).unwrap();
    assert_eq!(store.token(&hash).unwrap(), None);
    store.delete_token(&hash).unwrap();
}

#[test]
fn expired_tokens_are_swept_and_live_ones_kept() {
    let store = Store::in_memory().unwrap();
    let token = |expires| TokenRecord { user: user("bob"), created: Timestamp(T0), expires: Timestamp(expires) };
    store.put_token([1; 32], &token(T0 + 10)).unwrap();
    store.put_token([2; 32], &token(T0 + 20)).unwrap();
    store.put_token([3; 32], &token(T0 + 30)).unwrap();
    assert_eq!(store.delete_expired_tokens(Timestamp(T0 + 5)).unwrap(), 0);
    assert_eq!(store.delete_expired_tokens(Timestamp(T0 + 20)).unwrap(), 2, "expiry is inclusive");
    assert_eq!(store.token(&[1; 32]).unwrap(), None);
    assert_eq!(store.token(&[2; 32]).unwrap(), None);
    assert_eq!(store.token(&[3; 32]).unwrap(), Some(token(T0 + 30)));
    assert_eq!(store.delete_expired_tokens(Timestamp(T0 + 20)).unwrap(), 0);
}

#[test]
fn settings_round_trip_and_do_not_touch_the_schema_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.redb");
    {
        let store = Store::open(&path).unwrap();
        assert_eq!(store.meta("tls_fingerprint").unwrap(), None);
        store.put_meta("tls_fingerprint", b"12:34").unwrap();
        // A setting named like the store's own key lives in another table.
        store.put_meta("schema_version", &[0, 0, 0, 99]).unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.meta("tls_fingerprint").unwrap().as_deref(), Some(b"12:34".as_slice()));
    assert_eq!(store.meta("schema_version").unwrap().as_deref(), Some([0, 0, 0, 99].as_slice()));
}

#[test]
fn clones_share_one_database_across_threads() {
    let store = Store::in_memory().unwrap();
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let store = store.clone();
            std::thread::spawn(move || {
                for j in 0..10 {
                    let name = user(&format!("u{i}-{j}"));
                    assert!(store.create_account(&name, "h", Timestamp(T0)).unwrap());
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    for i in 0..4 {
        for j in 0..10 {
            assert!(store.account(&user(&format!("u{i}-{j}"))).unwrap().is_some());
        }
    }
}

#[test]
fn the_first_account_is_admin_and_invites_are_spent_atomically() {
    use chat_store::{Invite, NewAccount, Registered};
    let store = Store::in_memory().unwrap();
    let (alice, bob, carol, dave) = (user("alice"), user("bob"), user("carol"), user("dave"));
    assert_eq!(
        store.register_account(&NewAccount::new(&alice, "h", Timestamp(T0))).unwrap(),
        Registered::Created { admin: true }
    );
    assert_eq!(
        store.register_account(&NewAccount::new(&bob, "h", Timestamp(T0))).unwrap(),
        Registered::Created { admin: false }
    );
    let code = [4; 32];
    let invite = Invite::new(alice.clone(), Timestamp(T0), 1, Some(Timestamp(T0 + 100)));
    assert!(store.create_invite(code, &invite, 1).unwrap());
    assert!(!store.create_invite([5; 32], &invite, 1).unwrap(), "at most max_live invites");
    // A taken name spends nothing.
    let taken = NewAccount::new(&bob, "h", Timestamp(T0)).with_invite(code);
    assert_eq!(store.register_account(&taken).unwrap(), Registered::NameTaken);
    assert_eq!(store.invites().unwrap()[0].1.uses_left, 1);
    let with = |u| NewAccount::new(u, "h", Timestamp(T0 + 1)).with_invite(code);
    assert_eq!(store.register_account(&with(&carol)).unwrap(), Registered::Created { admin: false });
    assert_eq!(store.register_account(&with(&dave)).unwrap(), Registered::InvalidInvite, "used up");
    assert!(store.account(&dave).unwrap().is_none());
    assert_eq!(store.invites().unwrap()[0].1.used, 1);
    // Expiry.
    assert_eq!(store.revoke_invite(&code[..8]).unwrap(), 1);
    assert!(store.create_invite([6; 32], &Invite::new(alice, Timestamp(T0), 5, Some(Timestamp(T0 + 100))), 9).unwrap());
    let late = NewAccount::new(&dave, "h", Timestamp(T0 + 100)).with_invite([6; 32]);
    assert_eq!(store.register_account(&late).unwrap(), Registered::InvalidInvite, "expired");
    assert_eq!(
        store.register_account(&NewAccount::new(&dave, "h", Timestamp(T0)).with_invite([1; 32])).unwrap(),
        Registered::InvalidInvite
    );
    assert_eq!(store.delete_spent_invites(Timestamp(T0 + 100)).unwrap(), 1);
}

#[test]
fn sessions_are_indexed_per_user_bounded_and_end_together() {
    use chat_store::SessionMeta;
    let store = Store::in_memory().unwrap();
    let bob = user("bob");
    assert!(store.create_account(&bob, "h", Timestamp(T0)).unwrap());
    let record = |t| TokenRecord { user: bob.clone(), created: Timestamp(T0 + t), expires: Timestamp(T0 + 1_000) };
    for i in 0..3u8 {
        let evicted = store.put_session([i; 32], &record(u64::from(i)), &SessionMeta::default(), 2).unwrap();
        assert_eq!(evicted, if i == 2 { vec![[0; 32]] } else { vec![] }, "the oldest goes past the bound");
    }
    assert_eq!(store.sessions(&bob).unwrap().iter().map(|s| s.token_hash).collect::<Vec<_>>(), [[1; 32], [2; 32]]);
    let meta = SessionMeta::seen(Timestamp(T0 + 50), Some("192.0.2.9".into()), Some("Lynx".into()));
    store.touch_sessions(&[([2; 32], meta.clone()), ([9; 32], meta.clone())]).unwrap();
    assert_eq!(store.sessions(&bob).unwrap()[1].meta, meta);
    assert_eq!(store.account(&bob).unwrap().unwrap().last_seen, Some(Timestamp(T0 + 50)));
    // A password change keeps one session.
    assert_eq!(store.set_password(&bob, "h2", Some(&[2; 32])).unwrap(), Some(vec![[1; 32]]));
    assert_eq!(store.token(&[1; 32]).unwrap(), None);
    assert!(store.live_token(&[2; 32]).unwrap().is_some());
    // Disabling ends every session and refuses the account's tokens.
    store.put_token([3; 32], &record(3)).unwrap();
    assert_eq!(store.set_disabled(&bob, true).unwrap(), Some(vec![[2; 32], [3; 32]]));
    assert!(store.sessions(&bob).unwrap().is_empty());
    store.put_token([4; 32], &record(4)).unwrap();
    assert_eq!(store.live_token(&[4; 32]).unwrap(), None, "a disabled account's token does not authenticate");
    assert_eq!(store.set_disabled(&bob, false).unwrap(), Some(vec![]));
    assert!(store.live_token(&[4; 32]).unwrap().is_some());
    assert_eq!(store.set_disabled(&user("nobody"), true).unwrap(), None);
    // Deleting keeps the name taken and ends the sessions.
    assert_eq!(store.delete_account(&bob, Timestamp(T0 + 60)).unwrap(), Some(vec![[4; 32]]));
    let tomb = store.account(&bob).unwrap().unwrap();
    assert!(tomb.deleted.is_some() && tomb.password_hash.is_empty() && !tomb.is_active());
    assert!(!store.create_account(&bob, "h3", Timestamp(T0 + 70)).unwrap(), "the name is not reusable");
    assert!(!store.set_admin(&bob, true).unwrap());
    assert_eq!(store.delete_account(&bob, Timestamp(T0 + 80)).unwrap(), None);
}

#[test]
fn reset_codes_are_one_time_and_expire() {
    use chat_store::{Redeemed, ResetCode};
    let store = Store::in_memory().unwrap();
    let (alice, bob) = (user("alice"), user("bob"));
    assert!(store.create_account(&bob, "old", Timestamp(T0)).unwrap());
    store
        .put_token([1; 32], &TokenRecord { user: bob.clone(), created: Timestamp(T0), expires: Timestamp(T0 + 9) })
        .unwrap();
    let code = ResetCode::new([7; 32], alice.clone(), Timestamp(T0), Timestamp(T0 + 100));
    assert!(store.put_reset(&bob, &code).unwrap());
    assert!(!store.put_reset(&user("nobody"), &code).unwrap());
    assert_eq!(store.redeem_reset(&bob, &[8; 32], "new", Timestamp(T0 + 1)).unwrap(), Redeemed::Invalid);
    assert_eq!(store.redeem_reset(&alice, &[7; 32], "new", Timestamp(T0 + 1)).unwrap(), Redeemed::Invalid);
    assert_eq!(store.redeem_reset(&bob, &[7; 32], "new", Timestamp(T0 + 1)).unwrap(), Redeemed::Done(vec![[1; 32]]));
    assert_eq!(store.account(&bob).unwrap().unwrap().password_hash, "new");
    assert_eq!(store.redeem_reset(&bob, &[7; 32], "again", Timestamp(T0 + 2)).unwrap(), Redeemed::Invalid, "one time");
    assert!(store.put_reset(&bob, &code).unwrap());
    assert_eq!(store.redeem_reset(&bob, &[7; 32], "late", Timestamp(T0 + 100)).unwrap(), Redeemed::Invalid, "expired");
    assert_eq!(store.redeem_reset(&bob, &[7; 32], "late", Timestamp(T0 + 1)).unwrap(), Redeemed::Invalid, "gone");
}

#[test]
fn the_audit_log_keeps_the_newest_entries_in_pages() {
    use chat_store::AuditEntry;
    let store = Store::in_memory().unwrap();
    for i in 0..5 {
        let entry = AuditEntry::new(Timestamp(T0 + i), Some(user("alice")), "disable", Some(format!("u{i}")));
        assert_eq!(store.append_audit(&entry, 3).unwrap(), i + 1);
    }
    let page = store.audit(None, 2).unwrap();
    assert_eq!(page.iter().map(|e| e.id).collect::<Vec<_>>(), [5, 4]);
    let next = store.audit(Some(4), 10).unwrap();
    assert_eq!(next.iter().map(|e| e.id).collect::<Vec<_>>(), [3], "the oldest beyond the bound are gone");
    assert_eq!(next[0].target.as_deref(), Some("u2"));
}

#[test]
fn a_backup_taken_while_writing_is_consistent_and_checks() {
    use chat_core::LogEntry;
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("live.redb")).unwrap();
    let lobby = room("group:lobby");
    store
        .append(&[
            LogEntry::UserAdded { user: user("alice") },
            LogEntry::RoomCreated {
                room: lobby.clone(),
                kind: chat_core::RoomKind::Public,
                owner: None,
                timestamp: Timestamp(T0),
            },
            LogEntry::MemberAdded { room: lobby.clone(), user: user("alice") },
        ])
        .unwrap();
    assert!(store.create_account(&user("alice"), "h", Timestamp(T0)).unwrap());
    let writer = {
        let mut store = store.clone();
        let lobby = lobby.clone();
        std::thread::spawn(move || {
            for seq in 1..=200 {
                store.append(&[message(&lobby, seq, "alice", "hi")]).unwrap();
            }
        })
    };
    let dest = dir.path().join("copy.redb");
    let contents = store.backup_to(&dest).unwrap();
    writer.join().unwrap();
    assert!(!dir.path().join("copy.redb.partial").exists());
    let copied = contents.messages;
    let report = chat_store::inspect(&dest).unwrap();
    assert_eq!(report, contents);
    assert_eq!((report.accounts, report.admins, report.users, report.rooms), (1, 1, 1, 1));
    // The copy opens as a store whose room ends exactly where its message count says.
    let copy = Store::open(&dest).unwrap();
    assert_eq!(copy.snapshot().unwrap().room(&lobby).unwrap().last_seq(), copied);
    // A store in use cannot be inspected by another handle.
    drop(copy);
    assert!(matches!(chat_store::inspect(&dir.path().join("live.redb")), Err(chat_store::CheckError::Open(_))));
}

fn message(room: &chat_core::RoomKey, seq: u64, sender: &str, content: &str) -> chat_core::LogEntry {
    chat_core::LogEntry::Message(std::sync::Arc::new(chat_core::Message {
        attachments: Vec::new(),
        room: room.clone(),
        seq,
        timestamp: Timestamp(T0 + seq),
        sender: user(sender),
        content: content.to_owned(),
        mentions: vec![],
        client_id: None,
        rev: 0,
        changed_rev: 0,
        edited_at: None,
        deleted: false,
        deleted_at: None,
        reply_to: None,
        reactions: Vec::new(),
    }))
}

/// One step against the session tables.
#[derive(Debug, Clone)]
enum SessionOp {
    Put { user: usize, hash: u8, created: u64, max: usize },
    Delete(u8),
    DeleteAll { user: usize, keep: Option<u8> },
    Disable(usize),
    Password { user: usize, keep: Option<u8> },
    Sweep(u64),
}

fn session_op() -> impl proptest::strategy::Strategy<Value = SessionOp> {
    use proptest::prelude::*;
    let user = 0..3usize;
    let hash = 0..12u8;
    prop_oneof![
        5 => (user.clone(), hash.clone(), 0..20u64, 1..5usize)
            .prop_map(|(user, hash, created, max)| SessionOp::Put { user, hash, created, max }),
        2 => hash.clone().prop_map(SessionOp::Delete),
        1 => (user.clone(), proptest::option::of(hash.clone())).prop_map(|(user, keep)| SessionOp::DeleteAll { user, keep }),
        1 => user.clone().prop_map(SessionOp::Disable),
        1 => (user, proptest::option::of(hash)).prop_map(|(user, keep)| SessionOp::Password { user, keep }),
        1 => (0..25u64).prop_map(SessionOp::Sweep),
    ]
}

proptest::proptest! {
    /// The per-user index always lists exactly the tokens of that user (a model of token hash →
    /// (user, created, expires)), whatever mix of logins, logouts, bounds, disables, password
    /// changes and sweeps ran; a password change keeps exactly the kept session.
    #[test]
    fn the_session_index_matches_the_tokens(ops in proptest::collection::vec(session_op(), 1..40)) {
        use std::collections::BTreeMap;
        let store = Store::in_memory().unwrap();
        let users = [user("u0"), user("u1"), user("u2")];
        for u in &users {
            assert!(store.create_account(u, "h", Timestamp(T0)).unwrap());
        }
        // hash byte -> (user index, created, expires)
        let mut model: BTreeMap<u8, (usize, u64, u64)> = BTreeMap::new();
        let of = |model: &BTreeMap<u8, (usize, u64, u64)>, u: usize| -> Vec<u8> {
            model.iter().filter(|(_, v)| v.0 == u).map(|(k, _)| *k).collect()
        };
        for op in ops {
            match op {
                SessionOp::Put { user: u, hash, created, max } => {
                    let record = TokenRecord { user: users[u].clone(), created: Timestamp(T0 + created), expires: Timestamp(T0 + created + 5) };
                    let evicted = store.put_session([hash; 32], &record, &chat_store::SessionMeta::default(), max).unwrap();
                    // A token re-put under another user moves to that user.
                    model.insert(hash, (u, created, created + 5));
                    let mut mine: Vec<(u64, u8)> = of(&model, u).into_iter().map(|h| (model[&h].1, h)).collect();
                    mine.sort();
                    let excess = mine.len().saturating_sub(max);
                    let expect: Vec<u8> = mine.iter().map(|(_, h)| *h).filter(|h| *h != hash).take(excess).collect();
                    let mut got: Vec<u8> = evicted.iter().map(|h| h[0]).collect();
                    got.sort();
                    let mut want = expect.clone();
                    want.sort();
                    proptest::prop_assert_eq!(got, want);
                    for h in expect {
                        model.remove(&h);
                    }
                }
                SessionOp::Delete(hash) => {
                    store.delete_token(&[hash; 32]).unwrap();
                    model.remove(&hash);
                }
                SessionOp::DeleteAll { user: u, keep } => {
                    store.delete_sessions(&users[u], keep.map(|k| [k; 32]).as_ref()).unwrap();
                    model.retain(|h, v| v.0 != u || Some(*h) == keep);
                }
                SessionOp::Disable(u) => {
                    store.set_disabled(&users[u], true).unwrap();
                    store.set_disabled(&users[u], false).unwrap();
                    model.retain(|_, v| v.0 != u);
                }
                SessionOp::Password { user: u, keep } => {
                    store.set_password(&users[u], "h2", keep.map(|k| [k; 32]).as_ref()).unwrap();
                    model.retain(|h, v| v.0 != u || Some(*h) == keep);
                }
                SessionOp::Sweep(now) => {
                    store.delete_expired_tokens(Timestamp(T0 + now)).unwrap();
                    model.retain(|_, v| v.2 > now);
                }
            }
            for (u, name) in users.iter().enumerate() {
                let listed: Vec<u8> = store.sessions(name).unwrap().iter().map(|s| s.token_hash[0]).collect();
                proptest::prop_assert_eq!(&listed, &of(&model, u), "sessions of {}", name);
            }
            for hash in 0..12u8 {
                let stored = store.token(&[hash; 32]).unwrap().map(|t| t.user);
                proptest::prop_assert_eq!(stored, model.get(&hash).map(|v| users[v.0].clone()));
            }
        }
    }
}
