//! `dash-events-grow`: grows a log to a given number of events for the growth benchmark
//! (`bench/growth.py`), fast enough to reach 10⁷. It writes through the store's own batch insert,
//! the code path every delivery takes after verification, so the rows, indexes, daily totals and
//! stream positions are laid out as real ingest lays them out; only the HTTP round trip and the
//! per-commit fsync (SQLite runs with `synchronous=NORMAL` here) are left out.
//!
//! `--timestamps live` spreads the events in time order over the `--span-days` before now, as if
//! received live; `backfill` scatters them over that span, as a replay of history.

#[allow(dead_code)]
#[path = "load/events.rs"]
mod events;

use std::collections::HashSet;
use std::sync::mpsc;
use std::time::Instant;

use clap::Parser;
use dash_events::event::{NewEvent, parse_delivery};
use dash_events::ingest::WriterSettings;
use dash_events::query::TimeRange;
use dash_events::signature::sign;
use dash_events::store::{Durability, Store};

use events::Shape;

/// Grows a dash-events database to a number of events.
#[derive(Debug, Parser)]
#[command(name = "dash-events-grow")]
struct Args {
    /// The database, as `DATABASE_URL` of `serve` (it is migrated first).
    #[arg(long)]
    database_url: String,
    /// Events the log holds when done.
    #[arg(long)]
    to: u64,
    /// Live (time order) or backfill (scattered) timestamps.
    #[arg(long, value_enum, default_value_t = Shape::Live)]
    timestamps: Shape,
    /// The span of time the events cover, ending now.
    #[arg(long, default_value_t = 30)]
    span_days: i64,
    /// Events per transaction (the service's largest batch is 256).
    #[arg(long, default_value_t = 256)]
    batch: usize,
    /// Secret the stored signatures are made with (as `verify` would be given).
    #[arg(long, default_value = "bench-secret")]
    secret: String,
    /// Write each event's words into the text index, as `serve --search-index` does.
    #[arg(long)]
    search_index: bool,
}

const DAY_MS: i64 = 24 * 3600 * 1000;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(grow(args))
}

async fn grow(args: Args) -> anyhow::Result<()> {
    let store = Store::connect(&args.database_url, Durability::Normal)
        .await
        .map_err(|err| anyhow::anyhow!("{err}"))?;
    let held = stored(&store).await?;
    let missing = args.to.saturating_sub(held);
    eprintln!("the log holds {held} events; adding {missing}");
    let batches = generate(&args, missing);
    let mut known_types = HashSet::new();
    let search = dash_events::cli::search_index(args.search_index);
    let (started, mut added, mut reported) = (Instant::now(), 0u64, Instant::now());
    for batch in batches {
        let rows: Vec<(&NewEvent, i64)> = batch.iter().map(|(e, at)| (e, *at)).collect();
        let shard = fastrand::i32(0..WriterSettings::for_store(&store).stat_shards.max(1));
        store
            .insert_batch(&rows, shard, &known_types, &[], search)
            .await?;
        known_types.extend(batch.iter().map(|(e, _)| e.event_type.as_bytes().to_vec()));
        added += batch.len() as u64;
        if reported.elapsed().as_secs() >= 10 {
            let rate = added as f64 / started.elapsed().as_secs_f64();
            eprintln!("{} of {} events, {rate:.0}/s", held + added, args.to);
            reported = Instant::now();
        }
    }
    let total = stored(&store).await?;
    // A log that grew under `serve` was vacuumed and analyzed as it grew (by autovacuum, or by
    // the service where autovacuum is off); one grown here in minutes would otherwise be read
    // with the statistics of an empty table and no visibility map.
    store
        .vacuum_if_stale()
        .await
        .map_err(|err| anyhow::anyhow!("{err}"))?;
    store.close().await;
    println!(
        "{{\"stored\":{total},\"added\":{added},\"seconds\":{:.1}}}",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn stored(store: &Store) -> anyhow::Result<u64> {
    let everything = TimeRange {
        since_us: i64::MIN,
        until_us: i64::MAX,
    };
    Ok(store.stats(everything).await?.total_events.max(0) as u64)
}

/// Batches of `count` new events, made on a thread of their own so that signing and parsing
/// overlap with the inserts.
fn generate(args: &Args, count: u64) -> mpsc::IntoIter<Vec<(NewEvent, i64)>> {
    let (sender, receiver) = mpsc::sync_channel(8);
    let (shape, batch, secret) = (args.timestamps, args.batch.max(1), args.secret.clone());
    let end_ms = chrono::Utc::now().timestamp_millis();
    let span_ms = args.span_days.max(1) * DAY_MS;
    std::thread::spawn(move || {
        let mut rng = fastrand::Rng::new();
        let mut made = 0u64;
        while made < count {
            let size = batch.min((count - made) as usize);
            let events = (0..size as u64)
                .map(|i| {
                    let at_ms = match shape {
                        Shape::Live => {
                            end_ms - span_ms + (span_ms * (made + i) as i64) / count as i64
                        }
                        Shape::Backfill => end_ms - rng.i64(0..span_ms),
                    };
                    signed_event(&mut rng, at_ms, &secret, shape)
                })
                .collect();
            made += size as u64;
            if sender.send(events).is_err() {
                break;
            }
        }
    });
    receiver.into_iter()
}

/// One event as the receiver stores it: parsed, with the signature that verified it and the
/// time it was received (its own time when live, now for a backfill).
fn signed_event(
    rng: &mut fastrand::Rng,
    at_ms: i64,
    secret: &str,
    shape: Shape,
) -> (NewEvent, i64) {
    let body = events::event_body(rng, &events::timestamp_of(at_ms));
    let header = sign(secret.as_bytes(), body.as_bytes());
    let mut event = parse_delivery(body.into()).expect("the benchmark's events are valid");
    let mut digest = [0u8; 32];
    hex::decode_to_slice(&header["sha256=".len()..], &mut digest).expect("hex digest");
    event.signature = Some(digest);
    let received_us = match shape {
        Shape::Live => at_ms * 1000,
        Shape::Backfill => chrono::Utc::now().timestamp_micros(),
    };
    (event, received_us)
}
