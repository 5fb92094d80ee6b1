//! The report of a run, printed as JSON.

use serde::Serialize;

use crate::Args;
use crate::sender::Outcome;

/// Everything a run measured.
#[derive(Debug, Serialize)]
pub struct Report {
    receiver_url: String,
    connections: usize,
    sent: u64,
    ok: u64,
    non_2xx: u64,
    errors: u64,
    connect_failures: u64,
    new_acknowledged: u64,
    duplicates_acknowledged: u64,
    elapsed_s: f64,
    events_per_s: f64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    stored: Option<i64>,
    stored_matches: Option<bool>,
}

impl Report {
    /// Summarises `outcome`; `stored` is the receiver's event count afterwards, if asked.
    pub fn new(args: &Args, outcome: &Outcome, stored: Option<i64>) -> Self {
        let elapsed_s = outcome.elapsed.as_secs_f64();
        let quantile_ms = |q: f64| outcome.latency_us.value_at_quantile(q) as f64 / 1000.0;
        Self {
            receiver_url: args.url.clone(),
            connections: args.connections,
            sent: outcome.sent,
            ok: outcome.ok,
            non_2xx: outcome.non_2xx,
            errors: outcome.errors,
            connect_failures: outcome.connect_failures,
            new_acknowledged: outcome.new_acknowledged,
            duplicates_acknowledged: outcome.duplicates_acknowledged,
            elapsed_s,
            events_per_s: if elapsed_s > 0.0 {
                outcome.ok as f64 / elapsed_s
            } else {
                0.0
            },
            p50_ms: quantile_ms(0.5),
            p90_ms: quantile_ms(0.9),
            p99_ms: quantile_ms(0.99),
            p999_ms: quantile_ms(0.999),
            stored,
            stored_matches: stored.map(|count| count == outcome.new_acknowledged as i64),
        }
    }
}

/// `totalEvents` from the receiver's `/stats`.
pub async fn stored_events(url: &str) -> anyhow::Result<i64> {
    let stats: serde_json::Value = reqwest::get(url).await?.error_for_status()?.json().await?;
    stats["totalEvents"]
        .as_i64()
        .ok_or_else(|| anyhow::anyhow!("{url} answered no totalEvents: {stats}"))
}
