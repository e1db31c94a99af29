//! [`FrameBudget`]: an inbound-frame budget shared by several connections (for example every
//! connection from one client address), so many accounts on one machine cannot together flood
//! the hub past what the per-user buckets of the core allow each of them.
//!
//! It is a token bucket that may go into debt: every frame takes one token at once, and a
//! connection that finds the bucket in debt stops reading its socket until the debt is paid
//! back at `rate_per_sec`. Nothing is refused or lost: the peer's frames wait in its TCP buffers
//! (back-pressure), while the connection keeps writing its outbound events. Since a waiting
//! connection reads nothing, the debt is at most one frame per connection sharing the budget.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// An inbound-frame budget shared by the connections given it with
/// [`SocketOptions::frame_budget`](crate::SocketOptions::frame_budget).
#[derive(Debug)]
pub struct FrameBudget {
    rate_per_sec: f64,
    burst: f64,
    state: Mutex<Tokens>,
}

#[derive(Debug)]
struct Tokens {
    /// Tokens available; negative while in debt.
    balance: f64,
    /// When `balance` was last brought up to date.
    at: Instant,
}

impl FrameBudget {
    /// A full budget allowing `burst` frames at once and `rate_per_sec` sustained (both at
    /// least 1).
    pub fn new(rate_per_sec: u32, burst: u32) -> FrameBudget {
        let (rate_per_sec, burst) = (f64::from(rate_per_sec.max(1)), f64::from(burst.max(1)));
        FrameBudget { rate_per_sec, burst, state: Mutex::new(Tokens { balance: burst, at: Instant::now() }) }
    }

    /// Takes one frame's token at `now`. `None`: go on; `Some(wait)`: the budget is in debt,
    /// read nothing more for `wait`.
    pub fn take(&self, now: Instant) -> Option<Duration> {
        let mut tokens = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let elapsed = now.saturating_duration_since(tokens.at).as_secs_f64();
        tokens.balance = (tokens.balance + elapsed * self.rate_per_sec).min(self.burst) - 1.0;
        tokens.at = tokens.at.max(now);
        (tokens.balance < 0.0).then(|| Duration::from_secs_f64(-tokens.balance / self.rate_per_sec))
    }
}

/// Per-connection options of [`serve_socket_with`](crate::serve_socket_with).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SocketOptions {
    /// A budget this connection's inbound frames draw from (shared with other connections, for
    /// example all of one client address). `None`: only the core's per-user buckets apply.
    pub frame_budget: Option<std::sync::Arc<FrameBudget>>,
}

impl SocketOptions {
    /// Draws inbound frames from `budget`.
    pub fn frame_budget(mut self, budget: std::sync::Arc<FrameBudget>) -> SocketOptions {
        self.frame_budget = Some(budget);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_debt_paid_back_at_the_rate() {
        let budget = FrameBudget::new(10, 3);
        let t0 = Instant::now();
        assert_eq!(budget.take(t0), None);
        assert_eq!(budget.take(t0), None);
        assert_eq!(budget.take(t0), None);
        // Fourth frame at once: one token of debt, 100 ms at 10/s.
        let wait = budget.take(t0).expect("in debt");
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-9, "{wait:?}");
        // A second connection sharing it waits for both debts.
        let wait = budget.take(t0).expect("in debt");
        assert!((wait.as_secs_f64() - 0.2).abs() < 1e-9, "{wait:?}");
        // After the debt is paid and one more token earned, one frame goes through.
        assert_eq!(budget.take(t0 + Duration::from_millis(300)), None);
        assert!(budget.take(t0 + Duration::from_millis(300)).is_some());
    }

    #[test]
    fn never_saves_more_than_the_burst() {
        let budget = FrameBudget::new(1_000, 2);
        let later = Instant::now() + Duration::from_secs(3_600);
        assert_eq!(budget.take(later), None);
        assert_eq!(budget.take(later), None);
        assert!(budget.take(later).is_some());
    }
}
