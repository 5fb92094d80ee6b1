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
    timestamps: crate::events::Shape,
    /// Events the receiver held before the run, and after it.
    stored_before: Option<i64>,
    stored: Option<i64>,
    stored_matches: Option<bool>,
    window_s: u64,
    windows: Vec<WindowReport>,
}

/// One window of the run.
#[derive(Debug, Serialize)]
struct WindowReport {
    start_s: u64,
    events_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
}

impl Report {
    /// Summarises `outcome`; `stored` is the receiver's event count before and after, if asked.
    pub fn new(args: &Args, outcome: &Outcome, stored: Option<(i64, i64)>) -> Self {
        let elapsed_s = outcome.elapsed.as_secs_f64();
        let quantile_ms = |q: f64| outcome.latency_us.value_at_quantile(q) as f64 / 1000.0;
        let window_s = args.window_secs.max(1);
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
            timestamps: args.timestamps,
            stored_before: stored.map(|(before, _)| before),
            stored: stored.map(|(_, after)| after),
            stored_matches: stored
                .map(|(before, after)| after - before == outcome.new_acknowledged as i64),
            window_s,
            windows: windows(outcome, window_s),
        }
    }
}

fn windows(outcome: &Outcome, window_s: u64) -> Vec<WindowReport> {
    let ms = |h: &hdrhistogram::Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    let whole = outcome.elapsed.as_secs_f64();
    outcome
        .windows
        .iter()
        .enumerate()
        .map(|(index, window)| {
            let start_s = index as u64 * window_s;
            // The last window may be cut short by the end of the run.
            let length = (whole - start_s as f64).clamp(1e-3, window_s as f64);
            WindowReport {
                start_s,
                events_per_s: window.ok as f64 / length,
                p50_ms: ms(&window.latency_us, 0.5),
                p99_ms: ms(&window.latency_us, 0.99),
                p999_ms: ms(&window.latency_us, 0.999),
            }
        })
        .collect()
}

/// `totalEvents` from the receiver's `/stats`.
pub async fn stored_events(url: &str) -> anyhow::Result<i64> {
    let stats: serde_json::Value = reqwest::get(url).await?.error_for_status()?.json().await?;
    stats["totalEvents"]
        .as_i64()
        .ok_or_else(|| anyhow::anyhow!("{url} answered no totalEvents: {stats}"))
}
