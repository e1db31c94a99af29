//! Login throttling in bounded maps: fixed-window counters ([`Throttle`], attempts per
//! address) and growing delays after failures ([`Backoff`], per user and address).

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

    #[cfg(test)]
    fn len(&self) -> usize {
        self.windows.lock().unwrap().len()
    }
}

/// Failures per key with growing delays: after `free` failures each attempt must wait
/// `base × 2^(n − free)` (capped at `max`) after the last failure, `n` being the failures so
/// far. A key without a failure for `forget_after` starts over. At most `capacity` keys are
/// tracked (when full: drop forgotten keys, then the one whose last failure is oldest).
#[derive(Debug)]
pub(crate) struct Backoff<K> {
    free: u32,
    base: Duration,
    max: Duration,
    forget_after: Duration,
    capacity: usize,
    failures: Mutex<HashMap<K, Failures>>,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

impl<K: Hash + Eq + Clone> Backoff<K> {
    pub(crate) fn new(free: u32, base: Duration, max: Duration, forget_after: Duration, capacity: usize) -> Backoff<K> {
        Backoff { free, base, max, forget_after, capacity: capacity.max(1), failures: Mutex::new(HashMap::new()) }
    }

    fn delay(&self, count: u32) -> Duration {
        match count.checked_sub(self.free) {
            None => Duration::ZERO,
            Some(over) => self.base.saturating_mul(1u32 << over.min(20)).min(self.max),
        }
    }

    /// How long `key` must still wait at `now` before its next attempt (`None`: it may try).
    pub(crate) fn wait(&self, now: Instant, key: &K) -> Option<Duration> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let f = failures.get(key)?;
        let since = now.saturating_duration_since(f.last);
        if since >= self.forget_after {
            return None;
        }
        self.delay(f.count).checked_sub(since).filter(|wait| !wait.is_zero())
    }

    /// Counts a failure of `key` at `now`.
    pub(crate) fn fail(&self, now: Instant, key: &K) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if !failures.contains_key(key) && failures.len() >= self.capacity {
            failures.retain(|_, f| now.saturating_duration_since(f.last) < self.forget_after);
            if failures.len() >= self.capacity
                && let Some(oldest) = failures.iter().min_by_key(|(_, f)| f.last).map(|(k, _)| k.clone())
            {
                failures.remove(&oldest);
            }
        }
        let f = failures.entry(key.clone()).or_insert(Failures { count: 0, last: now });
        if now.saturating_duration_since(f.last) >= self.forget_after {
            f.count = 0;
        }
        f.count = f.count.saturating_add(1);
        f.last = now;
    }

    /// Forgets `key` (after a successful login).
    pub(crate) fn clear(&self, key: &K) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
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
        assert!(!t.hit(now, &"a"));
        assert!(t.hit(now, &"b"));
        let later = now + Duration::from_secs(61);
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
    fn backoff_grows_after_the_free_failures_and_is_per_key() {
        let secs = Duration::from_secs;
        let b = Backoff::new(2, secs(1), secs(8), secs(900), 10);
        let t0 = Instant::now();
        b.fail(t0, &"a");
        assert_eq!(b.wait(t0, &"a"), None, "one failure is free");
        b.fail(t0, &"a");
        assert_eq!(b.wait(t0, &"a"), Some(secs(1)), "after two, wait");
        b.fail(t0 + secs(1), &"a");
        assert_eq!(b.wait(t0 + secs(1), &"a"), Some(secs(2)));
        assert_eq!(b.wait(t0 + secs(3), &"a"), None, "waited it out");
        for i in 0..10 {
            b.fail(t0 + secs(3 + i), &"a");
        }
        assert_eq!(b.wait(t0 + secs(12), &"a"), Some(secs(8)), "capped");
        assert_eq!(b.wait(t0 + secs(12), &"b"), None, "another key never waits for a's failures");
        assert_eq!(b.wait(t0 + secs(12 + 900), &"a"), None, "forgotten");
        b.clear(&"a");
        assert_eq!(b.wait(t0 + secs(12), &"a"), None);
    }

    #[test]
    fn backoff_map_stays_bounded() {
        let b = Backoff::new(0, Duration::from_secs(1), Duration::from_secs(1), Duration::from_secs(900), 3);
        let now = Instant::now();
        for i in 0..100u64 {
            b.fail(now + Duration::from_millis(i), &i);
        }
        assert_eq!(b.failures.lock().unwrap().len(), 3);
    }
}
