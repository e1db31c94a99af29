//! Fixed-window counters for login throttling, in a bounded map.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counts events per key in fixed windows; a key over its limit is refused until its window
/// ends. At most `capacity` keys are tracked: when full, expired windows are dropped and then
/// the oldest window, so memory stays bounded under a flood of distinct keys.
#[derive(Debug)]
pub(crate) struct Throttle<K> {
    limit: u32,
    window: Duration,
    capacity: usize,
    windows: Mutex<HashMap<K, Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    count: u32,
}

impl<K: Hash + Eq + Clone> Throttle<K> {
    pub(crate) fn new(limit: u32, window: Duration, capacity: usize) -> Throttle<K> {
        Throttle { limit, window, capacity: capacity.max(1), windows: Mutex::new(HashMap::new()) }
    }

    /// Whether `key` is under its limit at `now` (does not count anything).
    pub(crate) fn allowed(&self, now: Instant, key: &K) -> bool {
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        match windows.get(key) {
            Some(w) if now.duration_since(w.start) < self.window => w.count < self.limit,
            _ => true,
        }
    }

    /// Counts one event for `key`; returns whether it was within the limit.
    pub(crate) fn hit(&self, now: Instant, key: &K) -> bool {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if !windows.contains_key(key) && windows.len() >= self.capacity {
            windows.retain(|_, w| now.duration_since(w.start) < self.window);
            if windows.len() >= self.capacity
                && let Some(oldest) = windows.iter().min_by_key(|(_, w)| w.start).map(|(k, _)| k.clone())
            {
                windows.remove(&oldest);
            }
        }
        let w = windows.entry(key.clone()).or_insert(Window { start: now, count: 0 });
        if now.duration_since(w.start) >= self.window {
            *w = Window { start: now, count: 0 };
        }
        w.count = w.count.saturating_add(1);
        w.count <= self.limit
    }

    /// Forgets `key` (after a successful login).
    pub(crate) fn clear(&self, key: &K) {
        self.windows.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.windows.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_over_the_limit_until_the_window_ends() {
        let t = Throttle::new(2, Duration::from_secs(60), 10);
        let now = Instant::now();
        assert!(t.hit(now, &"a"));
        assert!(t.hit(now, &"a"));
        assert!(!t.allowed(now, &"a"));
        assert!(!t.hit(now, &"a"));
        assert!(t.allowed(now, &"b"));
        let later = now + Duration::from_secs(61);
        assert!(t.allowed(later, &"a"));
        assert!(t.hit(later, &"a"));
    }

    #[test]
    fn map_stays_bounded() {
        let t = Throttle::new(5, Duration::from_secs(60), 3);
        let now = Instant::now();
        for i in 0..100 {
            t.hit(now + Duration::from_millis(i), &i);
        }
        assert_eq!(t.len(), 3);
        // The newest keys survive.
        assert!(t.hit(now, &99));
    }

    #[test]
    fn clear_forgets() {
        let t = Throttle::new(1, Duration::from_secs(60), 3);
        let now = Instant::now();
        t.hit(now, &"a");
        assert!(!t.allowed(now, &"a"));
        t.clear(&"a");
        assert!(t.allowed(now, &"a"));
    }
}
