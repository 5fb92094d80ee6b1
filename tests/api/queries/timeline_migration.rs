//! Migration 0004 (the hourly totals of `/stats/timeline`) on a database that already holds
//! events stored under 0003: the totals are filled from those events (also those before 1970,
//! whose hours floor towards the past), so the timeline of whole hours counts them at once, and
//! the events stored afterwards add to the same hours.

use std::path::Path;

use dash_events::timeline::Width;
use sqlx::migrate::Migrator;

use crate::backend::{Backend, TestDb};
use crate::helpers::new_id;
use crate::queries::timeline_rollup::{
    HOUR_US, START_US, Sent, Window, assert_timeline, body, scattered,
};
use crate::support::app::App;

both_backends!(events_stored_before_0004_fill_the_hourly_totals);

const BEFORE_0004: [&str; 3] = [
    "0001_events.sql",
    "0002_stream_position.sql",
    "0003_notifications.sql",
];

/// The columns of `events` under 0003, copied from one database to another.
type Row = (
    String,
    Vec<u8>,
    i64,
    i64,
    Vec<u8>,
    Option<f64>,
    Option<f64>,
    Vec<u8>,
    Option<Vec<u8>>,
);

const COLUMNS: &str =
    "id, type, ts_us, received_us, content_hash, cost, duration_ms, body, signature";
// What the writer of 0003 kept beside the events: the types and the daily totals.
const FILL_TYPES: &str = "insert into event_types (type) select distinct type from events";
const FILL_STATS: &str = "insert into event_stats \
    (type, day_us, shard, events, cost_sum, duration_sum, duration_count) \
    select type, ts_us - ((ts_us % 86400000000) + 86400000000) % 86400000000, 0, count(*), \
           coalesce(sum(cost), 0), coalesce(sum(duration_ms), 0), count(duration_ms) \
    from events group by type, ts_us - ((ts_us % 86400000000) + 86400000000) % 86400000000";

/// Rows as the service stores them, from a scratch database.
async fn rows_from_a_receiver(db: &TestDb, sent: &[Sent]) -> Vec<Row> {
    let app = App::start(db).await;
    for event in sent {
        app.store(&body(&new_id(), event)).await;
    }
    app.stop().await;
    let select = format!("select {COLUMNS} from events order by ts_us");
    let rows = match db.backend() {
        Backend::Sqlite => {
            sqlx::query_as(&select)
                .fetch_all(&mut db.sqlite().await)
                .await
        }
        Backend::Postgres => {
            sqlx::query_as(&select)
                .fetch_all(&mut db.postgres().await)
                .await
        }
    };
    rows.expect("read the rows")
}

/// A database at migration 0003 holding `rows`, as the previous release left it.
async fn database_at_0003(backend: Backend, rows: &[Row]) -> TestDb {
    let db = TestDb::provision(backend).await.expect("a second database");
    let folder = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let before = db.dir().join("migrations-0003");
    std::fs::create_dir_all(&before).expect("migrations folder");
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(folder);
    for file in BEFORE_0004 {
        std::fs::copy(source.join(file), before.join(file)).expect("copy a migration");
    }
    let migrator = Migrator::new(before.as_path()).await.expect("migrator");
    let insert =
        format!("insert into events ({COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
    macro_rules! apply_and_insert {
        ($conn:expr) => {{
            let mut conn = $conn;
            migrator.run(&mut conn).await.expect("apply 0001-0003");
            for row in rows {
                let query = sqlx::query(&insert).bind(&row.0).bind(&row.1).bind(row.2);
                let query = query.bind(row.3).bind(&row.4).bind(row.5).bind(row.6);
                let query = query.bind(&row.7).bind(&row.8);
                query.execute(&mut conn).await.expect("insert a 0003 row");
            }
            for sql in [FILL_TYPES, FILL_STATS] {
                sqlx::query(sql).execute(&mut conn).await.expect(sql);
            }
        }};
    }
    match backend {
        Backend::Sqlite => apply_and_insert!(db.create_sqlite().await),
        Backend::Postgres => apply_and_insert!(db.postgres().await),
    }
    db
}

async fn events_stored_before_0004_fill_the_hourly_totals(scratch: TestDb) {
    let mut sent = scattered();
    let rows = rows_from_a_receiver(&scratch, &sent).await;
    assert_eq!(rows.len(), sent.len());
    let db = database_at_0003(scratch.backend(), &rows).await;

    let app = App::start(&db).await;

    let (h, s) = (HOUR_US, START_US);
    // Hour-aligned: every bucket is summed from the totals the migration filled.
    for window in [
        Window(s - 5 * h, s + 72 * h, Width::Hour, &[]),
        Window(s - 22 * h, s + 74 * h, Width::Day, &["agent:error"]),
        Window(-3 * h, 3 * h, Width::Hour, &[]),
    ] {
        assert_timeline(&app, &sent, window).await;
    }
    // New events add to the hours the migration filled (shard 0, as the SQLite writer's).
    for event in [
        ("agent:complete".to_owned(), s + 17, Some(2.0)),
        ("swarm:start".to_owned(), -h + 3, None),
    ] {
        app.store(&body(&new_id(), &event)).await;
        sent.push(event);
    }
    assert_timeline(&app, &sent, Window(s - 5 * h, s + 72 * h, Width::Hour, &[])).await;
    assert_timeline(&app, &sent, Window(-3 * h, 3 * h + 1, Width::Hour, &[])).await;
}
