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
