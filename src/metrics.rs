//! Prometheus metrics, kept in a registry owned by the app (no globals, so several servers can
//! run in one test process). Event types outside Dash's documented list are labelled `other`:
//! a label per arbitrary string would let a sender grow the series without bound.

use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

use crate::event::DOCUMENTED_TYPES;
use crate::store::{InsertOutcome, ReplicaLag};

/// The service's counters and histograms.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    received: IntCounterVec,
    rejected: IntCounterVec,
    request_duration: HistogramVec,
    notifications: IntCounterVec,
    notifications_pending: IntGauge,
    notifications_dead: IntGauge,
    deliveries_in_flight: IntGauge,
    tls_reloads: IntCounterVec,
}

/// One delivery being handled; the in-flight gauge counts it until this is dropped, however
/// the handler ends.
pub struct InFlight(IntGauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Self {
        let received = IntCounterVec::new(
            Opts::new(
                "dash_events_received_total",
                "Verified deliveries by type and outcome",
            ),
            &["type", "outcome"],
        )
        .expect("valid metric definition");
        let rejected = IntCounterVec::new(
            Opts::new(
                "dash_events_rejected_total",
                "Deliveries refused, by reason",
            ),
            &["reason"],
        )
        .expect("valid metric definition");
        let request_duration = HistogramVec::new(
            HistogramOpts::new(
                "dash_events_http_request_duration_seconds",
                "HTTP request latency by method, route and status",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["method", "route", "status"],
        )
        .expect("valid metric definition");
        // One series per configured rule: rule names come from the configuration, not from input.
        let notifications = IntCounterVec::new(
            Opts::new(
                "dash_events_notifications_total",
                "Notification attempts by rule and outcome (sent, failed and retried later, dead)",
            ),
            &["rule", "outcome"],
        )
        .expect("valid metric definition");
        let notifications_pending = IntGauge::new(
            "dash_events_notifications_pending",
            "Notifications waiting to be sent, as last counted by the worker",
        )
        .expect("valid metric definition");
        let notifications_dead = IntGauge::new(
            "dash_events_notifications_dead",
            "Notifications given up after their last attempt, as last counted by the worker",
        )
        .expect("valid metric definition");
        let deliveries_in_flight = IntGauge::new(
            "dash_events_deliveries_in_flight",
            "Webhook deliveries being handled and not yet answered",
        )
        .expect("valid metric definition");
        let tls_reloads = IntCounterVec::new(
            Opts::new(
                "dash_events_tls_reloads_total",
                "Changes of the TLS certificate or key files, by outcome (reloaded, failed and still serving the previous pair)",
            ),
            &["outcome"],
        )
        .expect("valid metric definition");
        let registry = Registry::new();
        for collector in [
            Box::new(received.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(rejected.clone()),
            Box::new(request_duration.clone()),
            Box::new(notifications.clone()),
            Box::new(notifications_pending.clone()),
            Box::new(notifications_dead.clone()),
            Box::new(deliveries_in_flight.clone()),
            Box::new(tls_reloads.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        Self {
            registry,
            received,
            rejected,
            request_duration,
            notifications,
            notifications_pending,
            notifications_dead,
            deliveries_in_flight,
            tls_reloads,
        }
    }

    /// Counts a delivery as in flight until the returned guard is dropped.
    pub fn delivery_in_flight(&self) -> InFlight {
        self.deliveries_in_flight.inc();
        InFlight(self.deliveries_in_flight.clone())
    }

    /// Counts one notification attempt: `sent`, `failed` (tried again later) or `dead`.
    pub fn notification(&self, rule: &str, outcome: &str) {
        self.notifications.with_label_values(&[rule, outcome]).inc();
    }

    /// Sets the outbox gauges.
    pub fn outbox(&self, pending: i64, dead: i64) {
        self.notifications_pending.set(pending);
        self.notifications_dead.set(dead);
    }

    /// Counts one reload of the TLS files: `reloaded` or `failed`.
    pub fn tls_reload(&self, outcome: &str) {
        self.tls_reloads.with_label_values(&[outcome]).inc();
    }

    /// Counts a verified delivery.
    pub fn received(&self, event_type: &str, outcome: InsertOutcome) {
        self.received
            .with_label_values(&[type_label(event_type), outcome.as_str()])
            .inc();
    }

    /// Counts a refused delivery.
    pub fn rejected(&self, reason: &str) {
        self.rejected.with_label_values(&[reason]).inc();
    }

    /// Records how long a request took.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let status = status.to_string();
        self.request_duration
            .with_label_values(&[method, route, status.as_str()])
            .observe(seconds);
    }

    /// Registers the gauges of a read replica (`DATABASE_READ_URL`), which exist only with one;
    /// call once.
    pub fn replica(&self) -> ReplicaGauges {
        let gauges = ReplicaGauges {
            up: IntGauge::new(
                "dash_events_replica_up",
                "1 when the read replica answered its last lag measurement, else 0",
            )
            .expect("valid metric definition"),
            lag_seconds: Gauge::new(
                "dash_events_replica_lag_seconds",
                "0 when the read replica has replayed all the primary's WAL, else the age of the \
                 newest transaction it replayed; NaN when unknown",
            )
            .expect("valid metric definition"),
            lag_bytes: Gauge::new(
                "dash_events_replica_lag_bytes",
                "Bytes of the primary's WAL the read replica has not replayed; NaN when unknown",
            )
            .expect("valid metric definition"),
        };
        for gauge in [
            Box::new(gauges.up.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(gauges.lag_seconds.clone()),
            Box::new(gauges.lag_bytes.clone()),
        ] {
            self.registry
                .register(gauge)
                .expect("the replica gauges are registered once");
        }
        gauges
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("encoding to memory cannot fail");
        String::from_utf8(buffer).expect("the text format is UTF-8")
    }
}

/// How far the read replica is behind, as last measured.
#[derive(Clone)]
pub struct ReplicaGauges {
    up: IntGauge,
    lag_seconds: Gauge,
    lag_bytes: Gauge,
}

impl ReplicaGauges {
    /// Records a measurement; `None` when the replica did not answer.
    pub fn record(&self, lag: Option<ReplicaLag>) {
        self.up.set(i64::from(lag.is_some()));
        let lag = lag.unwrap_or(ReplicaLag {
            bytes: None,
            seconds: None,
        });
        // NaN, not 0 or the last value: a replica that cannot be measured is not known to be current.
        self.lag_seconds.set(lag.seconds.unwrap_or(f64::NAN));
        self.lag_bytes.set(lag.bytes.unwrap_or(f64::NAN));
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn type_label(event_type: &str) -> &str {
    if DOCUMENTED_TYPES.contains(&event_type) {
        event_type
    } else {
        "other"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undocumented_types_share_one_label() {
        let metrics = Metrics::new();
        metrics.received("agent:complete", InsertOutcome::Stored);
        metrics.received("made:up", InsertOutcome::Duplicate);
        metrics.rejected("invalid_signature");
        let text = metrics.render();
        assert!(
            text.contains(
                r#"dash_events_received_total{outcome="stored",type="agent:complete"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"dash_events_received_total{outcome="duplicate",type="other"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"dash_events_rejected_total{reason="invalid_signature"} 1"#),
            "{text}"
        );
        assert!(!text.contains("made:up"));
    }
}
