//! `dash-events-load`: the benchmark's load generator. It pre-signs unique events, sends them
//! over keep-alive HTTP/1.1 connections for a bounded count and time, and reports throughput,
//! latency percentiles and, with `--stats-url`, whether the receiver stored exactly the events it
//! acknowledged as new.

mod events;
mod report;
mod sender;

use std::time::Duration;

use clap::Parser;

/// Load generator for Dash webhook receivers.
#[derive(Debug, Parser)]
#[command(name = "dash-events-load")]
pub struct Args {
    /// The webhook endpoint (loopback only).
    #[arg(long)]
    url: String,
    /// HMAC key the events are signed with.
    #[arg(long)]
    secret: String,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Deliveries to send at most.
    #[arg(long, default_value_t = 100_000)]
    events: usize,
    /// Stop sending after this many seconds, whatever is left.
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
    /// Share of deliveries that resend an id sent earlier (Dash's retries), 0 to 0.9.
    #[arg(long, default_value_t = 0.0)]
    duplicate_share: f64,
    /// When the events say they happened: at sending (live) or over the past month (backfill).
    #[arg(long, value_enum, default_value_t = events::Shape::Backfill)]
    timestamps: events::Shape,
    /// Also report throughput and latency per window of this many seconds.
    #[arg(long, default_value_t = 10)]
    window_secs: u64,
    /// The receiver's `/stats`, to check stored == acknowledged-as-new afterwards.
    #[arg(long)]
    stats_url: Option<String>,
    /// Also write the report here, as JSON.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let target = sender::Target::parse(&args.url)?;
    anyhow::ensure!(
        (0.0..=0.9).contains(&args.duplicate_share),
        "--duplicate-share must be 0 to 0.9"
    );
    let plan = events::Plan::build(
        args.events,
        args.duplicate_share,
        &args.secret,
        args.timestamps,
    );
    // One thread: under `taskset` the generator then uses exactly the core it is given.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let limits = sender::Limits {
        connections: args.connections.max(1),
        duration: Duration::from_secs(args.duration_secs),
        window: Duration::from_secs(args.window_secs.max(1)),
    };
    let stored = |url: &String| runtime.block_on(report::stored_events(url));
    let stored_before = args.stats_url.as_ref().map(stored).transpose()?;
    let outcome = runtime.block_on(sender::run(&target, &plan, limits));
    let stored_after = args.stats_url.as_ref().map(stored).transpose()?;
    let report = report::Report::new(&args, &outcome, stored_before.zip(stored_after));
    let text = serde_json::to_string_pretty(&report)?;
    println!("{text}");
    if let Some(path) = &args.json {
        std::fs::write(path, &text)?;
    }
    Ok(())
}
