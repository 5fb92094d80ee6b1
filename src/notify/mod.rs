//! Notifications from a durable outbox. The rules (`rules`) say which event types go to which
//! Slack incoming webhook or HTTP endpoint; the batch insert records one outbox row per new event
//! and matching rule in the event's own transaction (`store::outbox`); a worker (`worker`) claims
//! due rows under a lease, sends them (`deliver`: Block Kit from `slack`, or the event's signed
//! body) and records the result, retrying failures on a `backoff` schedule until they are sent
//! or dead. Sending never happens inside an ingest request, and ingest never waits on it.

mod backoff;
mod deliver;
mod rules;
mod slack;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

pub use backoff::Backoff;
pub use rules::{InvalidRules, MAX_RULES, Rule, Rules, Target};
pub use slack::message as slack_message;
pub use worker::{DRAIN_TIME_LIMIT, Tally, Worker};

/// Default `NOTIFY_MAX_ATTEMPTS`.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 8;
/// Default `NOTIFY_RETRY_BASE_MS`.
pub const DEFAULT_RETRY_BASE: Duration = Duration::from_millis(1000);
/// Default `NOTIFY_RETRY_MAX_MS`.
pub const DEFAULT_RETRY_MAX: Duration = Duration::from_millis(300_000);
/// Default `NOTIFY_TIMEOUT_MS`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(10_000);

/// How notifications are recorded and sent.
#[derive(Debug, Clone)]
pub struct NotifySettings {
    /// The rules; empty: nothing is recorded and no worker runs.
    pub rules: Arc<Rules>,
    /// Attempts before a notification is dead.
    pub max_attempts: u32,
    /// When failed attempts are retried.
    pub backoff: Backoff,
    /// Longest one send may take (connect, request, answer head).
    pub timeout: Duration,
    /// Whether `serve` runs the worker itself (else `dash-events notify` must send).
    pub worker: bool,
}

impl NotifySettings {
    /// How long a claim holds a notification: a round sends its whole claim at once, so twice
    /// the send timeout and 5 s is well beyond a round, and a live worker always records its
    /// results before another may claim the rows; after a crash they are claimed again once
    /// this has passed.
    pub fn lease(&self) -> Duration {
        self.timeout.saturating_mul(2) + Duration::from_secs(5)
    }
}

impl Default for NotifySettings {
    fn default() -> Self {
        Self {
            rules: Arc::default(),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            backoff: Backoff {
                base: DEFAULT_RETRY_BASE,
                max: DEFAULT_RETRY_MAX,
            },
            timeout: DEFAULT_TIMEOUT,
            worker: true,
        }
    }
}

/// What the writers need of the outbox: the rules that decide which rows a batch records, and
/// the bell that wakes the worker once they are committed.
#[derive(Debug, Clone, Default)]
pub struct Outbox {
    /// The configured rules.
    pub rules: Arc<Rules>,
    /// Rung after a commit that recorded notifications (or an operator's retry).
    pub wake: Arc<Notify>,
}

impl Outbox {
    /// An outbox recording under `rules`.
    pub fn new(rules: Arc<Rules>) -> Self {
        Self {
            rules,
            wake: Arc::default(),
        }
    }
}
