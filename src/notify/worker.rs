//! The worker: claims due notifications (a batch at a time, under a lease), sends them with
//! bounded concurrency, and records each result — sent, pending again after a backoff, or dead
//! after the last attempt. In `serve` it runs beside the server, woken by the writers' commits
//! and an operator's retry, and polling every second for retries that came due, rows of other
//! receivers and rows left by a crash; `dash-events notify` runs it until nothing is due.
//!
//! Delivery is at least once: a worker that dies after the endpoint answered but before the
//! result was recorded leaves the row claimed, and once the lease expires it is sent again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream;
use tokio::sync::{Notify, watch};

use super::NotifySettings;
use super::deliver::{self, SendFailure};
use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::store::{AttemptResult, Claim, ClaimedNotification, Store, StoreError};

/// Notifications claimed at once, and sent at once: a round then lasts at most one send timeout
/// (and reading the events), which the lease (`NotifySettings::lease`) comfortably covers.
const CLAIM_BATCH: i64 = 8;
/// Sends in flight at once: the whole claim.
const SEND_CONCURRENCY: usize = CLAIM_BATCH as usize;
/// How often the worker looks for due notifications without being woken.
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// The longest `dash-events notify` keeps draining (new events may keep arriving meanwhile).
pub const DRAIN_TIME_LIMIT: Duration = Duration::from_secs(300);
/// How far apart the clocks of receivers sharing a database may be before one takes another's
/// future due times and leases for times set before a clock step (see `Claim`).
const CLOCK_SLACK: Duration = Duration::from_secs(60);

/// What a round of sends came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Accepted by their endpoint.
    pub sent: u64,
    /// Failed; tried again later.
    pub failed: u64,
    /// Failed for the last time.
    pub dead: u64,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.sent += other.sent;
        self.failed += other.failed;
        self.dead += other.dead;
    }

    fn attempts(&self) -> u64 {
        self.sent + self.failed + self.dead
    }
}

/// Sends what the outbox holds.
pub struct Worker {
    store: Store,
    settings: NotifySettings,
    metrics: Metrics,
    client: reqwest::Client,
    clock: Clock,
}

impl Worker {
    /// A worker over `store` with `settings`, counting in `metrics`, timing by `clock`.
    pub fn new(
        store: Store,
        settings: NotifySettings,
        metrics: Metrics,
        clock: Clock,
    ) -> reqwest::Result<Self> {
        let client = deliver::client(settings.timeout)?;
        Ok(Self {
            store,
            settings,
            metrics,
            client,
            clock,
        })
    }

    /// Sends until `shutdown` turns true; sends in flight then finish (each within the timeout).
    pub async fn run(self, wake: Arc<Notify>, mut shutdown: watch::Receiver<bool>) {
        while !*shutdown.borrow() {
            let claimed = match self.round().await {
                Ok(tally) => tally.attempts(),
                Err(err) => {
                    tracing::warn!(error = ?err, "notification outbox unavailable; will retry");
                    0
                }
            };
            self.refresh_gauges().await;
            if claimed >= CLAIM_BATCH as u64 {
                continue;
            }
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(POLL_INTERVAL) => {}
                changed = shutdown.changed() => {
                    // The sender is gone without a shutdown: nothing will ever stop this loop.
                    if changed.is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// Sends every notification due now, and those that come due while it runs (a quick retry),
    /// until none is due or `limit` has passed.
    pub async fn drain(&self, limit: Duration) -> Result<Tally, StoreError> {
        let started = Instant::now();
        let mut total = Tally::default();
        while started.elapsed() < limit {
            let tally = self.round().await?;
            if tally.attempts() == 0 {
                break;
            }
            total.add(tally);
        }
        Ok(total)
    }

    /// Claims one batch of due notifications, sends them and records the results.
    async fn round(&self) -> Result<Tally, StoreError> {
        let claim = self.claim_now();
        let lease_until = claim.lease_until_us;
        let claimed = self.store.claim_notifications(claim).await?;
        if claimed.is_empty() {
            return Ok(Tally::default());
        }
        let results: Vec<(i64, AttemptResult)> = stream::iter(claimed)
            .map(|notification| self.attempt(notification))
            .buffer_unordered(SEND_CONCURRENCY)
            .collect()
            .await;
        if let Err(err) = self.store.record_attempts(lease_until, &results).await {
            // The leases run out and the notifications are claimed again: at least once.
            tracing::warn!(error = ?err, "could not record the results of a round of notifications");
        }
        let mut tally = Tally::default();
        for (_, result) in &results {
            match result {
                AttemptResult::Sent { .. } => tally.sent += 1,
                AttemptResult::Retry { .. } => tally.failed += 1,
                AttemptResult::Dead { .. } => tally.dead += 1,
            }
        }
        Ok(tally)
    }

    /// A claim at the clock's now. Nothing this worker sets is further ahead than the longer of
    /// its lease and its longest backoff; beyond that and a slack for other receivers' clocks, a
    /// time was set before the clock stepped back.
    fn claim_now(&self) -> Claim {
        let now_us = self.clock.now_us();
        let furthest = self.settings.lease().max(self.settings.backoff.max) + CLOCK_SLACK;
        Claim {
            now_us,
            lease_until_us: now_us.saturating_add(micros(self.settings.lease())),
            implausible_after_us: now_us.saturating_add(micros(furthest)),
            limit: CLAIM_BATCH,
        }
    }

    /// Sends one claimed notification and says what came of it.
    async fn attempt(&self, notification: ClaimedNotification) -> (i64, AttemptResult) {
        let result = match self.send(&notification).await {
            Ok(()) => AttemptResult::Sent {
                at_us: self.clock.now_us(),
            },
            Err(failure) => self.after_failure(&notification, failure),
        };
        self.log_and_count(&notification, &result);
        (notification.id, result)
    }

    async fn send(&self, notification: &ClaimedNotification) -> Result<(), SendFailure> {
        let Some(rule) = self.settings.rules.get(&notification.rule) else {
            return Err(SendFailure::permanent("rule no longer configured"));
        };
        let event = match self.store.get_event(&notification.event_id).await {
            Ok(Some(event)) => event,
            Ok(None) => return Err(SendFailure::permanent("event no longer stored")),
            Err(_) => return Err(SendFailure::new("database error")),
        };
        deliver::send(&self.client, &rule.target, &event).await
    }

    /// Pending again after a backoff, or dead after the last attempt (or when it can never
    /// succeed).
    fn after_failure(
        &self,
        notification: &ClaimedNotification,
        failure: SendFailure,
    ) -> AttemptResult {
        let attempts = u32::try_from(notification.attempts).unwrap_or(u32::MAX);
        if attempts >= self.settings.max_attempts || failure.permanent {
            return AttemptResult::Dead {
                error: failure.error,
            };
        }
        let backoff = self.settings.backoff;
        let delay = match failure.retry_after {
            Some(asked) => backoff.honour(asked),
            None => backoff.delay(attempts, fastrand::f64()),
        };
        AttemptResult::Retry {
            next_us: self.clock.now_us().saturating_add(micros(delay)),
            error: failure.error,
        }
    }

    fn log_and_count(&self, notification: &ClaimedNotification, result: &AttemptResult) {
        let (id, rule, event_id) = (notification.id, &notification.rule, &notification.event_id);
        let outcome = match result {
            AttemptResult::Sent { .. } => {
                tracing::debug!(id, rule, event_id, "notification sent");
                "sent"
            }
            AttemptResult::Retry { error, .. } => {
                tracing::warn!(
                    id,
                    rule,
                    event_id,
                    error,
                    attempts = notification.attempts,
                    "notification failed; will retry"
                );
                "failed"
            }
            AttemptResult::Dead { error } => {
                tracing::error!(
                    id,
                    rule,
                    event_id,
                    error,
                    attempts = notification.attempts,
                    "notification dead"
                );
                "dead"
            }
        };
        self.metrics.notification(rule, outcome);
    }

    async fn refresh_gauges(&self) {
        match self.store.count_outbox().await {
            Ok(counts) => self.metrics.outbox(counts.pending, counts.dead),
            Err(err) => tracing::debug!(error = ?err, "could not count the outbox"),
        }
    }
}

fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}
