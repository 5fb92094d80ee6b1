//! PostgreSQL's planner statistics and visibility map, where autovacuum does not keep them: a log
//! filled while the statistics said "empty" must not keep the plan that sorts every event of a
//! type for one page, and its index must be readable alone (no row lookups for `/stats`). The
//! service vacuums and analyzes its tables itself once they changed enough, and only then.

use dash_events::query::{AuditFilters, ListParams, TimeRange};
use dash_events::store::{Durability, Store};

use crate::backend::TestDb;

const EVENTS: i64 = 60_000;
type Time = chrono::DateTime<chrono::Utc>;
const FILL: &str = "insert into events (id, type, ts_us, received_us, content_hash, cost, duration_ms, body) \
    select 'evt-' || lpad(i::text, 7, '0'), convert_to('type-' || (i % 12), 'UTF8'), \
           1790000000000000 + i * 1000, 0, '\\x00'::bytea, 0.01, 1000.0, '\\x7b7d'::bytea \
    from generate_series(0, $1 - 1) as i";
const FILL_TYPES: &str = "insert into event_types (type) select distinct type from events";

postgres_only!(
    a_log_filled_without_autovacuum_is_vacuumed_and_analyzed_once_and_read_in_index_order
);

async fn a_log_filled_without_autovacuum_is_vacuumed_and_analyzed_once_and_read_in_index_order(
    db: TestDb,
) {
    let store = Store::connect(db.url(), Durability::Normal)
        .await
        .expect("connect");
    let mut conn = db.postgres().await;
    // As on a server with autovacuum off: nothing else will analyze this table.
    sqlx::query("alter table events set (autovacuum_enabled = false)")
        .execute(&mut conn)
        .await
        .expect("disable autovacuum");
    assert!(
        !store.vacuum_if_stale().await.expect("check"),
        "an empty log has nothing to analyze"
    );
    for sql in [FILL, FILL_TYPES] {
        sqlx::query(sql)
            .bind(EVENTS)
            .execute(&mut conn)
            .await
            .expect(sql);
    }
    await_counted_changes(&mut conn).await;

    assert!(
        store.vacuum_if_stale().await.expect("refresh"),
        "60 000 new rows and no autovacuum: the service vacuums and analyzes"
    );
    let (analyzed, vacuumed): (Option<Time>, Option<Time>) = sqlx::query_as(
        "select last_analyze, last_vacuum from pg_stat_user_tables where relname = 'events'",
    )
    .fetch_one(&mut conn)
    .await
    .expect("last_analyze");
    assert!(analyzed.is_some(), "the events table was analyzed");
    assert!(vacuumed.is_some(), "the events table was vacuumed");
    let (pages, all_visible): (i32, i32) =
        sqlx::query_as("select relpages, relallvisible from pg_class where relname = 'events'")
            .fetch_one(&mut conn)
            .await
            .expect("relallvisible");
    assert!(
        pages > 0 && all_visible == pages,
        "the vacuum marked every page all-visible ({all_visible} of {pages})"
    );
    let plan = store
        .list_events_plan(&one_type_page())
        .await
        .expect("explain")
        .join("\n");
    assert!(
        plan.contains("Index") && !plan.contains("Sort") && !plan.contains("Bitmap"),
        "one page of one type is read in index order, not by sorting the type:\n{plan}"
    );
    assert!(
        !store.vacuum_if_stale().await.expect("check"),
        "fresh statistics are left alone"
    );
    store.close().await;
}

/// Waits until the statistics collector shows the inserts: backends flush their counts when
/// idle, at most once a second, so a 30 s bound leaves a 30× margin.
async fn await_counted_changes(conn: &mut sqlx::PgConnection) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let counted: i64 = sqlx::query_scalar(
            "select coalesce(max(n_mod_since_analyze), 0) from pg_stat_user_tables \
             where relname = 'events'",
        )
        .fetch_one(&mut *conn)
        .await
        .expect("n_mod_since_analyze");
        if counted >= EVENTS {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the inserts were never counted ({counted})"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn one_type_page() -> ListParams {
    ListParams {
        types: vec!["type-3".into()],
        range: TimeRange {
            since_us: i64::MIN,
            until_us: i64::MAX,
        },
        filters: AuditFilters::default(),
        limit: 50,
        cursor: None,
    }
}
