//! Attachment metadata: uploads and quotas, claims only by the uploader, garbage collection
//! after the grace period, all through a reopen.

use chat_core::Timestamp;
use chat_core::attachment::AttachmentId;
use chat_store::{AddAttachmentError, AttachmentRecord, Store};

use crate::common::*;

fn id(n: u8) -> AttachmentId {
    AttachmentId::from_bytes([n; 32])
}

fn record(size: u64, at: u64) -> AttachmentRecord {
    AttachmentRecord::new(size, "application/octet-stream", Timestamp(T0 + at))
}

#[test]
fn uploads_count_against_the_quota_once_per_file() {
    let store = Store::in_memory().unwrap();
    let (alice, bob) = (user("alice"), user("bob"));
    store.add_attachment(&alice, &id(1), "a", record(600, 0), 1000).unwrap();
    // The same file again costs nothing.
    store.add_attachment(&alice, &id(1), "a again", record(600, 1), 1000).unwrap();
    assert_eq!(store.attachment_usage(&alice).unwrap(), 600);
    let refused = store.add_attachment(&alice, &id(2), "b", record(500, 2), 1000).unwrap_err();
    assert!(matches!(refused, AddAttachmentError::QuotaExceeded { used: 600, quota: 1000 }), "{refused}");
    assert!(store.attachment(&id(2)).unwrap().is_none(), "a refused upload leaves no record");
    // Bob has his own quota, and his upload of the same file counts for him.
    store.add_attachment(&bob, &id(1), "mine", record(600, 3), 1000).unwrap();
    assert_eq!(store.attachment_usage(&bob).unwrap(), 600);
    assert_eq!(store.attachment(&id(1)).unwrap().unwrap().uploaders, [alice, bob]);
}

#[test]
fn only_the_uploader_claims_and_a_claim_delays_collection() {
    let store = Store::in_memory().unwrap();
    let (alice, bob) = (user("alice"), user("bob"));
    store.add_attachment(&alice, &id(1), "cat.png", record(10, 0), 1000).unwrap();
    store.add_attachment(&alice, &id(2), "dog.png", record(10, 0), 1000).unwrap();
    let claimed = store.claim_attachments(&bob, &[id(1)], Timestamp(T0 + 5)).unwrap();
    assert_eq!(claimed, [None], "bob did not upload it");
    let claimed = store.claim_attachments(&alice, &[id(1), id(3)], Timestamp(T0 + 500)).unwrap();
    assert_eq!(claimed[0].as_ref().map(|a| (a.name.as_str(), a.size)), Some(("cat.png", 10)));
    assert_eq!(claimed[1], None, "no such file");
    // Grace 100 ms at T0 + 550: dog (touched at 0) goes, cat (claimed at 500) stays.
    assert_eq!(store.collect_attachments(Timestamp(T0 + 550), 100, 10).unwrap(), [id(2)]);
    assert!(store.attachment_upload(&alice, &id(2)).unwrap().is_none());
    assert_eq!(store.attachment_usage(&alice).unwrap(), 10);
    assert_eq!(store.collect_attachments(Timestamp(T0 + 600), 100, 10).unwrap(), [id(1)]);
    assert!(store.attachment_ids().unwrap().is_empty());
}
