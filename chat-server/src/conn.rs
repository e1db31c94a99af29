//! Open connections per client address, so one machine cannot take every connection slot
//! (issue: 100 trickled request bodies filled a server limited to 100 connections).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// Counts open connections per client address (IPv4-mapped IPv6 counted as IPv4). The map
/// holds only addresses with an open connection.
#[derive(Debug)]
pub(crate) struct PerAddress {
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One open connection of an address; dropping it frees its place. Shared (`Arc`) between the
/// HTTP connection and a WebSocket upgraded from it, so an upgraded socket keeps counting.
#[derive(Debug)]
pub(crate) struct AddrSlot {
    owner: Arc<PerAddress>,
    ip: IpAddr,
}

impl PerAddress {
    pub(crate) fn new(max: usize) -> PerAddress {
        PerAddress { max: max.max(1), open: Mutex::new(HashMap::new()) }
    }

    /// A place for one more connection from `ip`, or `None` when it has `max` open.
    pub(crate) fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Option<AddrSlot> {
        let ip = ip.to_canonical();
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(ip).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(AddrSlot { owner: self.clone(), ip })
    }
}

impl Drop for AddrSlot {
    fn drop(&mut self) {
        let mut open = self.owner.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_each_address_and_frees_on_drop() {
        let limits = Arc::new(PerAddress::new(2));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = limits.try_acquire(a).unwrap();
        let _second = limits.try_acquire(mapped).unwrap();
        assert!(limits.try_acquire(a).is_none(), "the mapped address is the same client");
        let _other = limits.try_acquire(b).unwrap();
        drop(first);
        assert!(limits.try_acquire(a).is_some());
        drop(_other);
        assert!(!limits.open.lock().unwrap().contains_key(&b), "no entry for an address without connections");
    }
}
