//! When to try a failed notification again: exponential backoff from `base`, doubling per
//! attempt up to `max`, with full jitter (a uniformly random delay between zero and that
//! ceiling), so that many notifications failing together — an endpoint down — do not come back
//! in lockstep. A `Retry-After` from the endpoint wins, bounded by the same `max`.

use std::time::Duration;

/// The retry schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling after the first failed attempt.
    pub base: Duration,
    /// The largest ceiling (and the longest `Retry-After` honoured).
    pub max: Duration,
}

impl Backoff {
    /// The ceiling after `attempts` failed attempts: `base · 2^(attempts-1)`, at most `max`.
    pub fn ceiling(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(31);
        self.base.saturating_mul(1_u32 << doublings).min(self.max)
    }

    /// The delay before the next attempt after `attempts` failed ones; `random` is uniform in
    /// `[0, 1)` and picks the point between zero and the ceiling.
    pub fn delay(&self, attempts: u32, random: f64) -> Duration {
        self.ceiling(attempts).mul_f64(random.clamp(0.0, 1.0))
    }

    /// The delay an endpoint asked for with `Retry-After`, bounded by `max`.
    pub fn honour(&self, retry_after: Duration) -> Duration {
        retry_after.min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEDULE: Backoff = Backoff {
        base: Duration::from_secs(1),
        max: Duration::from_secs(300),
    };

    #[test]
    fn the_ceiling_doubles_from_base_up_to_max() {
        let ceilings: Vec<u64> = (1..=10).map(|n| SCHEDULE.ceiling(n).as_secs()).collect();
        assert_eq!(ceilings, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300]);
        assert_eq!(SCHEDULE.ceiling(0), SCHEDULE.base);
        assert_eq!(SCHEDULE.ceiling(u32::MAX), SCHEDULE.max);
    }

    #[test]
    fn the_delay_stays_between_zero_and_the_ceiling() {
        for attempts in [1, 2, 5, 9, 40] {
            let ceiling = SCHEDULE.ceiling(attempts);
            assert_eq!(SCHEDULE.delay(attempts, 0.0), Duration::ZERO);
            assert_eq!(SCHEDULE.delay(attempts, 1.0), ceiling);
            for random in [0.1, 0.5, 0.99, -3.0, 7.0] {
                assert!(
                    SCHEDULE.delay(attempts, random) <= ceiling,
                    "{attempts} {random}"
                );
            }
        }
        assert_eq!(SCHEDULE.delay(3, 0.5), Duration::from_secs(2));
    }

    #[test]
    fn retry_after_is_bounded_by_max() {
        assert_eq!(
            SCHEDULE.honour(Duration::from_secs(7)),
            Duration::from_secs(7)
        );
        assert_eq!(SCHEDULE.honour(Duration::from_secs(86_400)), SCHEDULE.max);
    }
}
