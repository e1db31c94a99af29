//! Open connections per client address, so one machine cannot take every connection slot
//! (issue: 100 trickled request bodies filled a server limited to 100 connections), and the
//! WebSocket frame budget the connections of one address share.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use chat_ws::FrameBudget;

/// Counts open connections per client address (IPv4-mapped IPv6 counted as IPv4) and keeps
/// each address's shared frame budget. The map holds only addresses with an open connection,
/// so an address's budget lasts as long as it has one (reconnecting while connected does not
/// refill it).
#[derive(Debug)]
pub(crate) struct PerAddress {
    max: usize,
    /// Frames per second and burst of each address's budget; `None`: no budget.
    frames: Option<(u32, u32)>,
    open: Mutex<HashMap<IpAddr, Open>>,
}

#[derive(Debug)]
struct Open {
    count: usize,
    budget: Option<Arc<FrameBudget>>,
}

/// One open connection of an address; dropping it frees its place. Shared (`Arc`) between the
/// HTTP connection and a WebSocket upgraded from it, so an upgraded socket keeps counting.
#[derive(Debug)]
pub(crate) struct AddrSlot {
    owner: Arc<PerAddress>,
    ip: IpAddr,
    budget: Option<Arc<FrameBudget>>,
}

impl PerAddress {
    /// At most `max` connections per address; `frames`: the per-address frame budget.
    pub(crate) fn new(max: usize, frames: Option<(u32, u32)>) -> PerAddress {
        PerAddress { max: max.max(1), frames, open: Mutex::new(HashMap::new()) }
    }

    /// A place for one more connection from `ip`, or `None` when it has `max` open.
    pub(crate) fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Option<AddrSlot> {
        let ip = ip.to_canonical();
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = open.entry(ip).or_insert_with(|| Open {
            count: 0,
            budget: self.frames.map(|(rate, burst)| Arc::new(FrameBudget::new(rate, burst))),
        });
        if entry.count >= self.max {
            return None;
        }
        entry.count += 1;
        Some(AddrSlot { owner: self.clone(), ip, budget: entry.budget.clone() })
    }
}

impl AddrSlot {
    /// The frame budget every connection of this address shares, if there is one.
    pub(crate) fn frame_budget(&self) -> Option<Arc<FrameBudget>> {
        self.budget.clone()
    }
}

impl Drop for AddrSlot {
    fn drop(&mut self) {
        let mut open = self.owner.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = open.get_mut(&self.ip) {
            entry.count -= 1;
            if entry.count == 0 {
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
        let limits = Arc::new(PerAddress::new(2, Some((10, 10))));
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

    #[test]
    fn connections_of_one_address_share_one_budget() {
        let limits = Arc::new(PerAddress::new(4, Some((10, 10))));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let one = limits.try_acquire(a).unwrap();
        let two = limits.try_acquire("::ffff:192.0.2.1".parse().unwrap()).unwrap();
        let other = limits.try_acquire("192.0.2.2".parse().unwrap()).unwrap();
        let same = |x: &AddrSlot, y: &AddrSlot| Arc::ptr_eq(&x.frame_budget().unwrap(), &y.frame_budget().unwrap());
        assert!(same(&one, &two));
        assert!(!same(&one, &other));
        assert!(Arc::new(PerAddress::new(4, None)).try_acquire(a).unwrap().frame_budget().is_none());
    }
}
