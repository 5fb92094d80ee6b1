//! The timeline at scale: with a million events over a month (the log of `read_path`), a month's
//! timeline not aligned to hours reads its whole hours from the hourly totals and only its two
//! partial hours from the type/time index — the plan is printed, so
//! `cargo test timeline_read_path -- --nocapture` shows it — and answers exactly what one grouped
//! count over the events answers. Timings are printed, never asserted.

use std::time::{Duration, Instant};

use dash_events::query::{AuditFilters, TimeRange};
use dash_events::store::{Durability, Store};
use dash_events::timeline::{BucketRow, Plan, Timeline, Width};

use crate::backend::{Backend, TestDb};
use crate::queries::read_path::{EVENTS, MONTH_US, START_US, fill};

both_backends!(a_month_of_a_million_events_sums_whole_hours_from_the_hourly_totals);

// The count over the events as it was before the hourly totals: every event of the range.
const EXACT: &str = "select type, (ts_us - $1) / $2 as bucket, count(*) as events, \
    sum(cost) as cost from events where ts_us >= $3 and ts_us < $4 group by type, bucket";

async fn a_month_of_a_million_events_sums_whole_hours_from_the_hourly_totals(db: TestDb) {
    let store = Store::connect(db.url(), Durability::Normal)
        .await
        .expect("connect");
    fill(&db).await;
    let types = store.known_types().await.expect("types");
    // The whole log, from its first instant (not on an hour) to its end: its first and last
    // partial hours hold no event outside the range (the fill's times lie in [START, START +
    // MONTH)), so they too are read from the hourly totals. Inside the log, the partial hours at
    // both ends hold hundreds of events outside the range, so they are read from the index.
    let month = TimeRange {
        since_us: START_US,
        until_us: START_US + MONTH_US,
    };
    assert_ne!(
        START_US % 3_600_000_000,
        0,
        "the month is not aligned to hours"
    );
    let day_us = 24 * 3_600_000_000;
    let inner = TimeRange {
        since_us: START_US + day_us + 1_234_567,
        until_us: START_US + MONTH_US - day_us - 7,
    };
    for (width, range) in [
        (Width::Hour, month),
        (Width::Day, month),
        (Width::Hour, inner),
    ] {
        let plan = Plan::new(width, range).expect("a month fits");
        assert_reads_hours_and_edges(&store, &types, &plan, range == inner).await;
        let mut timings = Vec::new();
        let mut rows = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            rows = store
                .timeline(&types, &plan, &AuditFilters::default())
                .await
                .expect("timeline");
            timings.push(started.elapsed());
        }
        let started = Instant::now();
        let exact = exact_count(&db, &plan).await;
        eprintln!(
            "{:?}: a month of {} buckets over {EVENTS} events: {:?} (min {:?}); \
             counting the events: {:?}",
            db.backend(),
            width.as_str(),
            timings.iter().max().unwrap_or(&Duration::ZERO),
            timings.iter().min().unwrap_or(&Duration::ZERO),
            started.elapsed()
        );
        assert_same(
            &Timeline::assemble(&plan, rows),
            &Timeline::assemble(&plan, exact),
        );
    }
    store.close().await;
}

async fn assert_reads_hours_and_edges(
    store: &Store,
    types: &[Vec<u8>],
    plan: &Plan,
    edges_hold_other_events: bool,
) {
    let steps = store.timeline_plan(types, plan).await.expect("explain");
    let steps = steps.join("\n");
    eprintln!("timeline plan, {} buckets:\n{steps}", plan.width.as_str());
    assert!(steps.contains("event_hours"), "no hourly totals:\n{steps}");
    assert_eq!(
        steps.contains("events_by_type_time"),
        edges_hold_other_events,
        "partial hours read from the index exactly when their hour holds other events:\n{steps}"
    );
    assert!(
        !steps.contains("Seq Scan on events") && !steps.contains("SCAN events"),
        "a full scan of the events:\n{steps}"
    );
}

async fn exact_count(db: &TestDb, plan: &Plan) -> Vec<BucketRow> {
    macro_rules! count {
        ($conn:expr) => {
            sqlx::query_as(EXACT)
                .bind(plan.origin_us)
                .bind(plan.width.micros())
                .bind(plan.range.since_us)
                .bind(plan.range.until_us)
                .fetch_all(&mut $conn)
                .await
        };
    }
    match db.backend() {
        Backend::Sqlite => count!(db.sqlite().await),
        Backend::Postgres => count!(db.postgres().await),
    }
    .expect("count the events")
}

fn assert_same(answered: &Timeline, exact: &Timeline) {
    assert_eq!(answered.buckets.len(), exact.buckets.len());
    for (a, e) in answered.buckets.iter().zip(&exact.buckets) {
        assert_eq!((&a.start, &a.counts), (&e.start, &e.counts));
        assert!(
            (a.cost - e.cost).abs() < 1e-6,
            "{}: {} != {}",
            a.start,
            a.cost,
            e.cost
        );
    }
}
