//! The shards of past hours' totals are folded into one row per type and hour on PostgreSQL,
//! without changing any total.

use std::collections::HashSet;

use dash_events::event::parse_delivery;
use dash_events::store::{Durability, SearchIndex, Store};

use crate::backend::TestDb;

const HOUR_US: i64 = 3_600_000_000;
const SUMS: &str = "select type, hour_us, sum(events)::bigint, sum(cost_sum) from event_hours \
    group by type, hour_us order by type, hour_us";
const ROWS: &str = "select count(*) from event_hours where hour_us < $1";
const KEYS: &str = "select count(*) from (select distinct type, hour_us from event_hours \
    where hour_us < $1) as k";

type Sums = Vec<(Vec<u8>, i64, i64, f64)>;

postgres_only!(folding_past_hours_keeps_their_totals_in_one_row_each);

async fn folding_past_hours_keeps_their_totals_in_one_row_each(db: TestDb) {
    let store = Store::connect(db.url(), Durability::Normal)
        .await
        .expect("connect");
    let start_us = (chrono::Utc::now().timestamp_micros() / HOUR_US - 10) * HOUR_US;
    // Ten hours of events, each hour's batches spread over four shards; the last two hours are
    // recent enough to stay unfolded.
    for batch in 0..40_i64 {
        let bodies: Vec<_> = (0..5)
            .map(|n| {
                event(
                    batch * 5 + n,
                    start_us + (batch / 4) * HOUR_US + n * 1_000_000,
                )
            })
            .collect();
        let events: Vec<_> = bodies.iter().map(|e| (e, 0_i64)).collect();
        store
            .insert_batch(
                &events,
                (batch % 4) as i32,
                &HashSet::new(),
                &[],
                SearchIndex::Off,
            )
            .await
            .expect("insert");
    }
    let mut conn = db.postgres().await;
    let cutoff = start_us + 8 * HOUR_US;
    let before: Sums = sqlx::query_as(SUMS)
        .fetch_all(&mut conn)
        .await
        .expect("sums");
    let rows: i64 = sqlx::query_scalar(ROWS)
        .bind(cutoff)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(
        rows > 8,
        "several shards per past hour before folding ({rows} rows)"
    );

    let folded = store.fold_hour_shards(cutoff).await.expect("fold");

    let after: Sums = sqlx::query_as(SUMS)
        .fetch_all(&mut conn)
        .await
        .expect("sums");
    assert_eq!(after, before, "folding changes no total");
    let rows: i64 = sqlx::query_scalar(ROWS)
        .bind(cutoff)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let keys: i64 = sqlx::query_scalar(KEYS)
        .bind(cutoff)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows, keys, "one row per type and past hour");
    assert!(folded > 0);
    let recent: i64 = sqlx::query_scalar("select count(*) from event_hours where hour_us >= $1")
        .bind(cutoff)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(
        recent > 2,
        "hours after the cutoff keep their shards ({recent} rows)"
    );
    store.close().await;
}

fn event(n: i64, at_us: i64) -> dash_events::event::NewEvent {
    let time = chrono::DateTime::from_timestamp_micros(at_us)
        .unwrap()
        .to_rfc3339();
    let body = format!(
        r#"{{"id":"evt-{n}","type":"agent:complete","timestamp":"{time}","data":{{"cost":0.25}}}}"#
    );
    parse_delivery(body.into()).expect("valid event")
}
