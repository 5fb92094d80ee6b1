//! The wall clock, in the unit the store keeps times in.
//!
//! The service reads it through a `Clock` value rather than a global so that a test can step it,
//! as NTP steps a system clock, and check everything that depends on it: notification backoff
//! and leases, the retention window. Cursors and stream positions never read the clock (they
//! are the event's own timestamp and the commit order), so a step cannot reorder them.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// The system clock, plus a step that only tests set (zero otherwise). Clones share the step.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    step_us: Arc<AtomicI64>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// Microseconds since the epoch, now.
    pub fn now_us(&self) -> i64 {
        now_us().saturating_add(self.step_us.load(Ordering::Relaxed))
    }

    /// Steps this clock (and its clones) by `by_us`, back when negative, as NTP steps a system
    /// clock. For tests: the service itself never calls it.
    pub fn step(&self, by_us: i64) {
        self.step_us.fetch_add(by_us, Ordering::Relaxed);
    }
}

/// Microseconds since the epoch, now, on the system clock.
pub fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_moves_every_clone_and_time_keeps_running() {
        let clock = Clock::system();
        let clone = clock.clone();
        let before = clock.now_us();
        clone.step(-3_600_000_000);
        let after = clock.now_us();
        assert!(after < before - 3_500_000_000, "{before} -> {after}");
        assert!(after > before - 3_700_000_000, "{before} -> {after}");
        assert!(Clock::system().now_us() >= before);
    }
}
