//! Retention: with `RETENTION_DAYS` set, events whose own `timestamp` is older than that many
//! days are deleted (`serve` in the background, `dash-events prune` once), and a delivery that old
//! is refused with 422 rather than stored. Since only events older than the window are deleted,
//! a replay of a pruned event is always refused: it cannot come back.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use crate::clock::{Clock, now_us};
use crate::config::ConfigError;
use crate::event::format_micros;
use crate::store::{DAY_US, Store, StoreError};

/// How often `serve` prunes, after the pass at start.
pub const PRUNE_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// How long events are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Events older than this many days (by their own timestamp) are deleted and refused.
    pub days: u32,
    /// How often `serve` prunes.
    pub prune_interval: Duration,
}

impl Retention {
    /// Parses `RETENTION_DAYS`: unset or empty keeps events forever; otherwise a whole number of
    /// days, at least 1.
    pub fn parse(
        value: Option<&str>,
        prune_interval: Duration,
    ) -> Result<Option<Self>, ConfigError> {
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        match value.trim().parse::<u32>() {
            Ok(days) if days >= 1 => Ok(Some(Self {
                days,
                prune_interval,
            })),
            _ => Err(ConfigError::new(format!(
                "RETENTION_DAYS (--retention-days) must be a whole number of days, at least 1; got {value:?}"
            ))),
        }
    }

    /// The oldest timestamp still kept at `now_us`: events before it are outside the window.
    pub fn cutoff_us(&self, now_us: i64) -> i64 {
        now_us.saturating_sub(i64::from(self.days).saturating_mul(DAY_US))
    }

    /// Whether an event of `timestamp_us` is outside the window at `now_us`.
    pub fn is_expired(&self, timestamp_us: i64, now_us: i64) -> bool {
        timestamp_us < self.cutoff_us(now_us)
    }

    /// Deletes the events outside the window now; answers how many and the cutoff.
    pub async fn prune(&self, store: &Store) -> Result<(u64, i64), StoreError> {
        let cutoff_us = self.cutoff_us(now_us());
        let deleted = store.prune_older_than(cutoff_us).await?;
        Ok((deleted, cutoff_us))
    }
}

/// The window as `serve` applies it, to deliveries and in its pruning. Its cutoff never moves
/// back, even when the clock steps back: an event once outside the window may have been pruned,
/// and a replay of it must stay refused rather than come back.
#[derive(Debug, Clone)]
pub struct Window {
    retention: Retention,
    clock: Clock,
    highest_cutoff_us: Arc<AtomicI64>,
}

impl Window {
    /// `retention` on `clock`.
    pub fn new(retention: Retention, clock: Clock) -> Self {
        Self {
            retention,
            clock,
            highest_cutoff_us: Arc::new(AtomicI64::new(i64::MIN)),
        }
    }

    /// The days kept.
    pub fn days(&self) -> u32 {
        self.retention.days
    }

    /// The oldest timestamp kept now: the clock's cutoff, or a later one used before a step back.
    pub fn cutoff_us(&self) -> i64 {
        let cutoff_us = self.retention.cutoff_us(self.clock.now_us());
        let highest = self
            .highest_cutoff_us
            .fetch_max(cutoff_us, Ordering::Relaxed);
        highest.max(cutoff_us)
    }

    /// Whether an event of `timestamp_us` is outside the window now.
    pub fn is_expired(&self, timestamp_us: i64) -> bool {
        timestamp_us < self.cutoff_us()
    }

    /// Deletes the events outside the window now; answers how many and the cutoff.
    pub async fn prune(&self, store: &Store) -> Result<(u64, i64), StoreError> {
        let cutoff_us = self.cutoff_us();
        let deleted = store.prune_older_than(cutoff_us).await?;
        Ok((deleted, cutoff_us))
    }
}

/// `serve`'s background pruning: a pass at start, then one every `prune_interval`. A failed
/// pass is logged and retried at the next tick; the task runs until it is aborted.
pub async fn prune_periodically(store: Store, window: Window) {
    let mut ticks = tokio::time::interval(window.retention.prune_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match window.prune(&store).await {
            Ok((0, _)) => {}
            Ok((deleted, cutoff_us)) => tracing::info!(
                deleted,
                before = %format_micros(cutoff_us),
                "pruned events older than the retention window"
            ),
            Err(err) => tracing::warn!(error = ?err, "pruning failed; will retry"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_or_empty_keeps_forever() {
        assert_eq!(Retention::parse(None, PRUNE_INTERVAL).unwrap(), None);
        assert_eq!(Retention::parse(Some(""), PRUNE_INTERVAL).unwrap(), None);
    }

    #[test]
    fn zero_negative_and_garbage_are_configuration_errors() {
        for value in ["0", "-1", "abc", "1.5", "99999999999"] {
            let err = Retention::parse(Some(value), PRUNE_INTERVAL).expect_err(value);
            assert!(err.to_string().contains("RETENTION_DAYS"), "{value}");
        }
    }

    #[test]
    fn the_window_ends_exactly_n_days_ago() {
        let retention = Retention::parse(Some("30"), PRUNE_INTERVAL)
            .unwrap()
            .unwrap();
        let now = 100 * DAY_US;
        assert_eq!(retention.cutoff_us(now), 70 * DAY_US);
        assert!(retention.is_expired(70 * DAY_US - 1, now));
        assert!(!retention.is_expired(70 * DAY_US, now));
        assert_eq!(retention.cutoff_us(i64::MIN + 1), i64::MIN);
    }
}
