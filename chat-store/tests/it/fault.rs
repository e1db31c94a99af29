//! Fault injection through a storage backend: an I/O error or a full disk during a commit makes
//! `append` fail, nothing of that batch is visible (now, after the fault clears, or after a power
//! loss), and the store keeps working once the fault is gone.

use std::sync::{Arc, Mutex};

use chat_core::{HistoryQuery, HistoryRange, Journal, LogEntry, MemoryJournal};
use chat_store::{Store, StoreError};
use redb::StorageBackend;

use crate::common::*;

/// What the disk does wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Every write fails with an I/O error.
    WriteIo,
    /// Writes and growth fail with "no space left on device".
    DiskFull,
    /// `fsync` fails; as with Linux after a failed fsync, unsynced writes are lost.
    SyncIo,
    /// The next `n` writes succeed, then writes fail with an I/O error.
    WriteIoAfter(u32),
}

/// A disk in memory: what the OS has (`live`) and what would survive a power cut (`synced`).
#[derive(Debug, Default)]
struct Disk {
    live: Vec<u8>,
    synced: Vec<u8>,
    fault: Option<Fault>,
    writes: u64,
}

#[derive(Debug, Clone, Default)]
struct FaultyDisk(Arc<Mutex<Disk>>);

impl FaultyDisk {
    fn set_fault(&self, fault: Option<Fault>) {
        self.0.lock().unwrap().fault = fault;
    }

    fn writes(&self) -> u64 {
        self.0.lock().unwrap().writes
    }

    /// The bytes a power cut would leave.
    fn synced_image(&self) -> Vec<u8> {
        self.0.lock().unwrap().synced.clone()
    }
}

fn injected(kind: std::io::ErrorKind, what: &str) -> std::io::Error {
    std::io::Error::new(kind, format!("injected fault: {what}"))
}

impl StorageBackend for FaultyDisk {
    fn len(&self) -> std::io::Result<u64> {
        Ok(self.0.lock().unwrap().live.len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        let disk = self.0.lock().unwrap();
        let start = offset as usize;
        let bytes = disk
            .live
            .get(start..start + out.len())
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::UnexpectedEof))?;
        out.copy_from_slice(bytes);
        Ok(())
    }

    fn set_len(&self, len: u64) -> std::io::Result<()> {
        let mut disk = self.0.lock().unwrap();
        if disk.fault == Some(Fault::DiskFull) && len > disk.live.len() as u64 {
            return Err(injected(std::io::ErrorKind::StorageFull, "no space left on device"));
        }
        disk.live.resize(len as usize, 0);
        Ok(())
    }

    fn sync_data(&self) -> std::io::Result<()> {
        let mut disk = self.0.lock().unwrap();
        if disk.fault == Some(Fault::SyncIo) {
            // The kernel dropped the dirty pages it could not write back.
            disk.live = disk.synced.clone();
            return Err(injected(std::io::ErrorKind::Other, "fsync failed"));
        }
        disk.synced = disk.live.clone();
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        let mut disk = self.0.lock().unwrap();
        match disk.fault {
            Some(Fault::WriteIo) | Some(Fault::WriteIoAfter(0)) => {
                return Err(injected(std::io::ErrorKind::Other, "write failed"));
            }
            Some(Fault::DiskFull) => {
                return Err(injected(std::io::ErrorKind::StorageFull, "no space left on device"));
            }
            Some(Fault::WriteIoAfter(n)) => disk.fault = Some(Fault::WriteIoAfter(n - 1)),
            Some(Fault::SyncIo) | None => {}
        }
        let start = offset as usize;
        let end = start + data.len();
        if end > disk.live.len() {
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
        }
        disk.live[start..end].copy_from_slice(data);
        disk.writes += 1;
        Ok(())
    }
}

fn batches() -> Vec<Vec<LogEntry>> {
    chat_entries(&[
        vec![ChatOp::Join(0, 0), ChatOp::Join(1, 0), ChatOp::Join(2, 0)],
        vec![ChatOp::Send(0, 0, false, 0b110, Some(1)), ChatOp::Send(1, 2, true, 0, None)],
        vec![ChatOp::Send(2, 0, false, 0b1, Some(2)), ChatOp::MarkRead(1, 0, None)],
        vec![ChatOp::Send(1, 0, false, 0x80, None), ChatOp::ReadNotifications(0, None)],
        vec![ChatOp::Send(0, 1, true, 0, Some(3)), ChatOp::Leave(2, 0)],
    ])
}

fn assert_same(store: &Store, model: &MemoryJournal) {
    assert_eq!(store.snapshot().unwrap(), model.snapshot().unwrap());
    for r in ROOMS {
        let all = HistoryQuery { room: room(r), range: HistoryRange::After(0), limit: u32::MAX };
        assert_eq!(store.history(&all).unwrap(), model.history(&all).unwrap(), "room {r}");
    }
}

/// Opens the bytes a power cut would leave, from a real file.
fn assert_power_loss_image(disk: &FaultyDisk, model: &MemoryJournal) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("after-power-loss.redb");
    std::fs::write(&path, disk.synced_image()).unwrap();
    assert_same(&Store::open(&path).unwrap(), model);
}

/// Appends all batches; the one at `faulty` meets `fault`, then is retried once the fault clears.
fn run(fault: Fault, faulty: usize) {
    let disk = FaultyDisk::default();
    let mut store = Store::with_backend(disk.clone()).unwrap();
    let mut model = MemoryJournal::new();
    let batches = batches();
    for (i, batch) in batches.iter().enumerate() {
        if i == faulty {
            disk.set_fault(Some(fault));
            let err = store.append(batch).expect_err("the commit must fail");
            assert!(matches!(err, StoreError::Storage(_)), "{fault:?}: {err:?}");
            // While the fault lasts, reads either fail or show the previous state.
            if let Ok(snapshot) = store.snapshot() {
                assert_eq!(snapshot, model.snapshot().unwrap(), "{fault:?}: the failed batch is invisible");
            }
            disk.set_fault(None);
            assert_same(&store, &model);
            assert_power_loss_image(&disk, &model);
        }
        store.append(batch).unwrap();
        model.append(batch).unwrap();
        assert_same(&store, &model);
    }
    drop(store);
    assert_power_loss_image(&disk, &model);
    assert_same(&Store::with_backend(disk).unwrap(), &model);
}

#[test]
fn write_error_fails_the_batch_and_the_store_recovers() {
    for faulty in 0..batches().len() {
        run(Fault::WriteIo, faulty);
    }
}

#[test]
fn full_disk_fails_the_batch_and_the_store_recovers() {
    for faulty in 0..batches().len() {
        run(Fault::DiskFull, faulty);
    }
}

#[test]
fn fsync_error_fails_the_batch_and_the_store_recovers() {
    for faulty in 0..batches().len() {
        run(Fault::SyncIo, faulty);
    }
}

/// Fails the commit at every write it makes, one position per round: whether the failure hits
/// the first data page or the last header write, the batch is all-or-nothing and acknowledged
/// batches survive a power cut.
#[test]
fn write_error_at_every_point_of_a_commit() {
    let batches = batches();
    let (before, faulty) = batches.split_at(3);
    let faulty = &faulty[0];
    // How many writes a healthy commit of this batch makes.
    let healthy = {
        let disk = FaultyDisk::default();
        let mut store = Store::with_backend(disk.clone()).unwrap();
        for batch in before {
            store.append(batch).unwrap();
        }
        let start = disk.writes();
        store.append(faulty).unwrap();
        disk.writes() - start
    };
    assert!(healthy >= 2, "a commit writes pages and a header");
    for allowed in 0..healthy as u32 + 1 {
        let disk = FaultyDisk::default();
        let mut store = Store::with_backend(disk.clone()).unwrap();
        let mut model = MemoryJournal::new();
        for batch in before {
            store.append(batch).unwrap();
            model.append(batch).unwrap();
        }
        disk.set_fault(Some(Fault::WriteIoAfter(allowed)));
        let committed = store.append(faulty).is_ok();
        disk.set_fault(None);
        if committed {
            model.append(faulty).unwrap();
        }
        assert!(committed || allowed < healthy as u32, "a commit with all its writes succeeds");
        assert_same(&store, &model);
        assert_power_loss_image(&disk, &model);
        drop(store);
        assert_same(&Store::with_backend(disk).unwrap(), &model);
    }
}
