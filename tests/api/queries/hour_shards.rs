//! The shards of past hours' totals are folded into one row per type and hour (and per type,
//! ids and hour for the group totals) on PostgreSQL, without changing any total.

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

const GROUP_SUMS: &str = "select type, hour_us, agent_id, sum(events)::bigint, sum(cost_sum), \
    sum(duration_count)::bigint, sum(duration_sum), max(duration_max) from event_groups \
    group by type, hour_us, agent_id order by type, hour_us, agent_id";
const GROUP_ROWS: &str = "select count(*) from event_groups where hour_us < $1";
const GROUP_KEYS: &str = "select count(*) from (select distinct type, hour_us, agent_id \
    from event_groups where hour_us < $1) as k";

type Sums = Vec<(Vec<u8>, i64, i64, f64)>;
type GroupSums = Vec<(Vec<u8>, i64, String, i64, f64, i64, f64, Option<f64>)>;

postgres_only!(folding_past_hours_keeps_their_totals_in_one_row_each);
postgres_only!(a_fold_waits_for_a_prune_in_progress);
postgres_only!(a_prune_waits_for_a_fold_in_progress);

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

    let groups_before = group_sums(&mut conn).await;
    let group_rows = count(&mut conn, GROUP_ROWS, cutoff).await;
    assert!(
        group_rows > 8,
        "several shards per past hour and key ({group_rows} rows)"
    );

    let folded = store.fold_hour_shards(cutoff).await.expect("fold");

    assert_eq!(
        group_sums(&mut conn).await,
        groups_before,
        "folding changes no group total"
    );
    let group_rows = count(&mut conn, GROUP_ROWS, cutoff).await;
    let group_keys = count(&mut conn, GROUP_KEYS, cutoff).await;
    assert_eq!(
        group_rows, group_keys,
        "one group row per key and past hour"
    );

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

/// A prune's transaction holds the fold lock shared (see `store::FOLD_LOCK`): a fold started
/// meanwhile waits for it to end, so it never moves rows the prune has read and not yet
/// rewritten.
async fn a_fold_waits_for_a_prune_in_progress(db: TestDb) {
    let store = Store::connect(db.url(), Durability::Normal)
        .await
        .expect("connect");
    let start_us = (chrono::Utc::now().timestamp_micros() / HOUR_US - 4) * HOUR_US;
    for batch in 0..4_i64 {
        insert_one(
            &store,
            event(batch, start_us + batch * 1_000_000),
            batch as i32,
        )
        .await;
    }
    let prune = hold_fold_lock(&db, "pg_advisory_xact_lock_shared").await;

    let folding = tokio::spawn({
        let store = store.clone();
        async move { store.fold_hour_shards(start_us + HOUR_US).await }
    });
    let mut watcher = db.postgres().await;
    await_a_wait_for_the_fold_lock(&mut watcher).await;
    assert!(!folding.is_finished(), "the fold ran beside the prune");
    let unfolded = count(&mut watcher, GROUP_ROWS, start_us + HOUR_US).await;
    assert_eq!(
        unfolded, 4,
        "the shards are still apart while the prune runs"
    );

    release(prune).await;
    let folded = folding.await.unwrap().expect("fold");
    assert!(folded > 0);
    let rows = count(&mut watcher, GROUP_ROWS, start_us + HOUR_US).await;
    assert_eq!(
        rows, 2,
        "folded into one row per agent once the prune ended"
    );
    store.close().await;
}

/// And the other way round: a prune started during a fold waits for it.
async fn a_prune_waits_for_a_fold_in_progress(db: TestDb) {
    let store = Store::connect(db.url(), Durability::Normal)
        .await
        .expect("connect");
    let start_us = (chrono::Utc::now().timestamp_micros() / HOUR_US - 4) * HOUR_US;
    insert_one(&store, event(1, start_us), 0).await;
    let fold = hold_fold_lock(&db, "pg_advisory_xact_lock").await;

    let pruning = tokio::spawn({
        let store = store.clone();
        async move { store.prune_older_than(start_us + HOUR_US).await }
    });
    let mut watcher = db.postgres().await;
    await_a_wait_for_the_fold_lock(&mut watcher).await;
    assert!(!pruning.is_finished(), "the prune ran beside the fold");

    release(fold).await;
    assert_eq!(pruning.await.unwrap().expect("prune"), 1);
    store.close().await;
}

async fn insert_one(store: &Store, event: dash_events::event::NewEvent, shard: i32) {
    store
        .insert_batch(
            &[(&event, 0)],
            shard,
            &HashSet::new(),
            &[],
            SearchIndex::Off,
        )
        .await
        .expect("insert");
}

/// A connection inside a transaction that holds the fold lock through `function` (the shared
/// or the exclusive advisory lock), as a prune or a fold would.
async fn hold_fold_lock(db: &TestDb, function: &str) -> sqlx::PgConnection {
    let mut conn = db.postgres().await;
    sqlx::query("begin").execute(&mut conn).await.unwrap();
    sqlx::query(&format!("select {function}($1)"))
        .bind(dash_events::store::FOLD_LOCK)
        .execute(&mut conn)
        .await
        .unwrap();
    conn
}

async fn release(mut holder: sqlx::PgConnection) {
    sqlx::query("commit").execute(&mut holder).await.unwrap();
}

/// Returns once a session waits for the fold lock. The wait shows within milliseconds; the 30 s
/// bound only ends a test whose code never waits.
async fn await_a_wait_for_the_fold_lock(conn: &mut sqlx::PgConnection) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !waiting_on_advisory_lock(conn).await {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing waited for the fold lock"
        );
        tokio::task::yield_now().await;
    }
}

async fn waiting_on_advisory_lock(conn: &mut sqlx::PgConnection) -> bool {
    sqlx::query_scalar(
        "select exists (select 1 from pg_locks where locktype = 'advisory' and not granted \
         and classid::bigint = $1 >> 32 and objid::bigint = $1 & 4294967295)",
    )
    .bind(dash_events::store::FOLD_LOCK)
    .fetch_one(conn)
    .await
    .expect("pg_locks")
}

async fn group_sums(conn: &mut sqlx::PgConnection) -> GroupSums {
    sqlx::query_as(GROUP_SUMS)
        .fetch_all(conn)
        .await
        .expect("group sums")
}

async fn count(conn: &mut sqlx::PgConnection, sql: &str, cutoff: i64) -> i64 {
    sqlx::query_scalar(sql)
        .bind(cutoff)
        .fetch_one(conn)
        .await
        .expect(sql)
}

fn event(n: i64, at_us: i64) -> dash_events::event::NewEvent {
    let time = chrono::DateTime::from_timestamp_micros(at_us)
        .unwrap()
        .to_rfc3339();
    // Two agents, and durations whose largest differs between the shards of an hour.
    let (agent, duration) = (n % 2, n * 10);
    let body = format!(
        r#"{{"id":"evt-{n}","type":"agent:complete","timestamp":"{time}","data":{{"agentId":"agent-{agent}","cost":0.25,"durationMs":{duration}}}}}"#
    );
    parse_delivery(body.into()).expect("valid event")
}
