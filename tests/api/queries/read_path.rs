//! The read path at scale: with a million events stored, a page of one type since a time, the
//! pages after it, the recent events of all types and a page of two types are all read through
//! the index (the plans are printed, so `cargo test read_path -- --nocapture` shows them), and
//! `/stats` sums daily and hourly totals instead of scanning, exactly: an unaligned week and day
//! are counted against the table. Timings are printed, never asserted.

use std::time::Instant;

use dash_events::cursor::Cursor;
use dash_events::query::{AuditFilters, ListParams, TimeRange};
use dash_events::store::{Durability, Store};

use crate::backend::{Backend, TestDb};

pub(crate) const EVENTS: i64 = 1_000_000;
pub(crate) const MONTH_US: i64 = 30 * 24 * 3_600_000_000;
pub(crate) const START_US: i64 = 1_790_000_000_000_000;

const FILL_SQLITE: &str = "with recursive n(i) as (select 0 union all select i + 1 from n where i < $1 - 1) \
    insert into events (id, type, ts_us, received_us, content_hash, cost, duration_ms, body) \
    select printf('evt-%07d', i), cast('type-' || (i % 12) as blob), $2 + abs(random()) % $3, 0, \
           x'00', 0.01, 1000.0, cast('{}' as blob) from n";
const FILL_POSTGRES: &str = "insert into events (id, type, ts_us, received_us, content_hash, cost, duration_ms, body) \
    select 'evt-' || lpad(i::text, 7, '0'), convert_to('type-' || (i % 12), 'UTF8'), \
           $2 + (random() * ($3 - 1))::bigint, 0, '\\x00'::bytea, 0.01, 1000.0, '\\x7b7d'::bytea \
    from generate_series(0, $1 - 1) as i";
// What the writer maintains beside the events, for the rows inserted behind its back.
const FILL_TYPES: &str = "insert into event_types (type) select distinct type from events";
const FILL_STATS: &str = "insert into event_stats (type, day_us, shard, events, cost_sum, duration_sum, duration_count) \
    select type, ts_us - ((ts_us % 86400000000) + 86400000000) % 86400000000, 0, count(*), \
           coalesce(sum(cost), 0), coalesce(sum(duration_ms), 0), count(duration_ms) \
    from events group by type, ts_us - ((ts_us % 86400000000) + 86400000000) % 86400000000";
const FILL_HOURS: &str = "insert into event_hours (type, hour_us, shard, events, cost_sum) \
    select type, ts_us - ((ts_us % 3600000000) + 3600000000) % 3600000000, 0, count(*), \
           coalesce(sum(cost), 0) \
    from events group by type, ts_us - ((ts_us % 3600000000) + 3600000000) % 3600000000";
// The rows hold no ids: every event is in the group of its hour and type alone.
const FILL_GROUPS: &str = "insert into event_groups (hour_us, type, agent_id, swarm_id, workflow_id, \
           instance_id, webhook_id, shard, events, cost_sum, total_cost_sum, duration_count, \
           duration_sum, duration_max) \
    select ts_us - ((ts_us % 3600000000) + 3600000000) % 3600000000, type, '', '', '', '', '', 0, \
           count(*), coalesce(sum(cost), 0), 0, count(duration_ms), coalesce(sum(duration_ms), 0), \
           max(duration_ms) \
    from events group by type, ts_us - ((ts_us % 3600000000) + 3600000000) % 3600000000";
const COUNT_IN_RANGE: &str = "select count(*) from events where ts_us >= $1 and ts_us < $2";

both_backends!(pages_of_a_million_events_are_read_through_an_index);

async fn pages_of_a_million_events_are_read_through_an_index(db: TestDb) {
    let store = Store::connect(db.url(), Durability::Normal)
        .await
        .expect("connect");
    fill(&db).await;

    let since = START_US + MONTH_US / 2;
    let mut params = list_params(Some("type-3"), since);
    assert_plan_uses(&store, &params, "events_by_type_time").await;
    let started = Instant::now();
    let mut rows = store.list_events(&params).await.expect("first page");
    for _ in 0..5 {
        let last = &rows[params.limit as usize - 1];
        params.cursor = Some(Cursor {
            timestamp_us: last.ts_us,
            id: last.id.clone(),
        });
        rows = store.list_events(&params).await.expect("next page");
        assert_eq!(rows.len(), 101, "a full page and the look-ahead row");
        assert!(rows.iter().all(|r| r.ts_us >= since));
    }
    eprintln!(
        "{:?}: 6 pages of type-3 since S in {:?}",
        db.backend(),
        started.elapsed()
    );
    assert_plan_uses(&store, &params, "events_by_type_time").await;
    let recent = list_params(None, i64::MIN);
    assert_plan_uses(&store, &recent, "events_by_type_time").await;
    let started = Instant::now();
    let rows = store.list_events(&recent).await.expect("recent events");
    eprintln!(
        "{:?}: the 100 most recent events of all types in {:?}",
        db.backend(),
        started.elapsed()
    );
    assert!(
        rows.windows(2)
            .all(|w| (w[0].ts_us, &w[0].id) > (w[1].ts_us, &w[1].id))
    );
    let mut two_types = list_params(Some("type-1"), since);
    two_types.types.push("type-7".into());
    assert_plan_uses(&store, &two_types, "events_by_type_time").await;
    let deep = Cursor {
        timestamp_us: since + 1_000_000,
        id: "evt-0000000".into(),
    };
    params.cursor = Some(deep);
    let started = Instant::now();
    store
        .list_events(&params)
        .await
        .expect("a page deep in the log");
    eprintln!(
        "{:?}: a page ~40 000 events deep in {:?}",
        db.backend(),
        started.elapsed()
    );
    assert_a_deep_page_costs_what_the_first_costs(&store, &list_params(Some("type-3"), since))
        .await;

    let started = Instant::now();
    let stats = store.stats(TimeRange::ALL).await.expect("stats");
    eprintln!(
        "{:?}: stats over 10^6 events in {:?}",
        db.backend(),
        started.elapsed()
    );
    assert_eq!(stats.total_events, EVENTS);
    let week = TimeRange {
        since_us: since + 1_234_567,
        until_us: since + MONTH_US / 4,
    };
    let started = Instant::now();
    let partial = store.stats(week).await.expect("stats of a week");
    eprintln!(
        "{:?}: stats of an unaligned week in {:?}",
        db.backend(),
        started.elapsed()
    );
    assert!(partial.total_events > 0 && partial.total_events < EVENTS);
    assert_eq!(partial.total_events, count_in(&db, week).await);
    let day = TimeRange {
        since_us: week.since_us + 7_654_321_000,
        until_us: week.since_us + 7_654_321_000 + 86_400_000_000,
    };
    let started = Instant::now();
    let one_day = store.stats(day).await.expect("stats of a day");
    eprintln!(
        "{:?}: stats of an unaligned day in {:?}",
        db.backend(),
        started.elapsed()
    );
    assert_eq!(one_day.total_events, count_in(&db, day).await);
    assert_stats_read_the_type_index_alone(&db, &store, day).await;
    assert_a_long_edge_is_read_as_its_hour_less_the_rest(&db, &store).await;
    store.close().await;
}

/// A day starting 10 minutes into an hour reads that hour as its totals less its first 10
/// minutes of events (one statement: a compound of the totals and the events), and still counts
/// exactly; a day starting 50 minutes into an hour, open at its end, reads its 10 minutes of
/// events and no compound.
async fn assert_a_long_edge_is_read_as_its_hour_less_the_rest(db: &TestDb, store: &Store) {
    const HOUR_US: i64 = 3_600_000_000;
    let hour = (START_US + MONTH_US / 2) / HOUR_US * HOUR_US;
    let compound = match db.backend() {
        Backend::Sqlite => "UNION ALL",
        Backend::Postgres => "Append",
    };
    for (minute, until_us, less_the_rest) in [
        (10, hour + 600_000_000 + 86_400_000_000, true),
        (50, i64::MAX, false),
    ] {
        let range = TimeRange {
            since_us: hour + minute * 60_000_000,
            until_us,
        };
        let stats = store.stats(range).await.expect("stats");
        let events = count_in(db, range).await;
        assert!(events > 0);
        assert_eq!(stats.total_events, events, "since :{minute}");
        assert!(
            (stats.total_cost - 0.01 * events as f64).abs() < 1e-6,
            "{stats:?}"
        );
        assert_eq!(stats.avg_duration_ms, Some(1000.0), "since :{minute}");
        let plan = store.stats_plan(range).await.expect("explain").join("\n");
        assert_eq!(
            plan.contains(compound),
            less_the_rest,
            "since :{minute}, the plan:\n{plan}"
        );
    }
}

pub(crate) async fn fill(db: &TestDb) {
    let started = Instant::now();
    match db.backend() {
        Backend::Sqlite => {
            let mut conn = db.sqlite().await;
            for sql in [FILL_SQLITE, FILL_TYPES, FILL_STATS, FILL_HOURS, FILL_GROUPS] {
                sqlx::query(sql)
                    .bind(EVENTS)
                    .bind(START_US)
                    .bind(MONTH_US)
                    .execute(&mut conn)
                    .await
                    .expect(sql);
            }
        }
        Backend::Postgres => {
            let mut conn = db.postgres().await;
            sqlx::query(FILL_POSTGRES)
                .bind(EVENTS)
                .bind(START_US)
                .bind(MONTH_US)
                .execute(&mut conn)
                .await
                .expect("fill");
            for sql in [FILL_TYPES, FILL_STATS, FILL_HOURS, FILL_GROUPS, "analyze"] {
                sqlx::query(sql).execute(&mut conn).await.expect(sql);
            }
        }
    }
    eprintln!(
        "{:?}: stored {EVENTS} events in {:?}",
        db.backend(),
        started.elapsed()
    );
}

/// The events in `range`, counted from the table itself.
async fn count_in(db: &TestDb, range: TimeRange) -> i64 {
    let count = match db.backend() {
        Backend::Sqlite => {
            sqlx::query_scalar(COUNT_IN_RANGE)
                .bind(range.since_us)
                .bind(range.until_us)
                .fetch_one(&mut db.sqlite().await)
                .await
        }
        Backend::Postgres => {
            sqlx::query_scalar(COUNT_IN_RANGE)
                .bind(range.since_us)
                .bind(range.until_us)
                .fetch_one(&mut db.postgres().await)
                .await
        }
    };
    count.expect("count")
}

fn list_params(event_type: Option<&str>, since_us: i64) -> ListParams {
    ListParams {
        types: event_type.map(str::to_owned).into_iter().collect(),
        range: TimeRange {
            since_us,
            until_us: i64::MAX,
        },
        filters: AuditFilters::default(),
        limit: 100,
        cursor: None,
    }
}

/// A page's work does not grow with the events before it: a full page ~20 000 events deep into
/// the window of `first` costs the database about what the first page costs (work counted, not
/// timed). Read from the window's end down to the cursor, it cost a hundred times more.
async fn assert_a_deep_page_costs_what_the_first_costs(store: &Store, first: &ListParams) {
    let first_rows = store.list_events(first).await.expect("first page");
    let middle = first.range.since_us + MONTH_US / 4;
    let deep = ListParams {
        cursor: Some(Cursor {
            timestamp_us: middle,
            id: String::new(),
        }),
        ..first.clone()
    };
    let deep_rows = store.list_events(&deep).await.expect("deep page");
    let full = first.limit as usize + 1;
    assert_eq!((first_rows.len(), deep_rows.len()), (full, full));
    assert!(deep_rows.iter().all(|row| row.ts_us < middle));
    let first_work = store.list_events_work(first).await.expect("first page");
    let deep_work = store.list_events_work(&deep).await.expect("deep page");
    eprintln!("work of the first page {first_work}, of the deep page {deep_work}");
    assert!(first_work > 0, "the work of a page is not counted");
    // Twice, plus a little for the seek to the cursor: both pages hold the same rows.
    assert!(
        deep_work <= 2 * first_work + 10,
        "the deep page costs {deep_work} against {first_work} for the first"
    );
}

/// The partial hours of a `/stats` window are read from the type index without a row lookup per
/// event: it carries every column `/stats` sums. PostgreSQL reads an index alone only where the
/// visibility map says so, which a vacuum sets (autovacuum does it on a server that runs it).
async fn assert_stats_read_the_type_index_alone(db: &TestDb, store: &Store, range: TimeRange) {
    if db.backend() == Backend::Postgres {
        let pool = sqlx::PgPool::connect(db.url()).await.expect("connect");
        sqlx::query("vacuum analyze events")
            .execute(&pool)
            .await
            .expect("vacuum");
        pool.close().await;
    }
    let plan = store.stats_plan(range).await.expect("explain").join("\n");
    eprintln!("{:?}: the plan of /stats over a day:\n{plan}", db.backend());
    let (reads_events, covered): (fn(&str) -> bool, _) = match db.backend() {
        Backend::Sqlite => (
            |step| step.contains("SEARCH events ") || step.contains("SCAN events"),
            "SEARCH events USING COVERING INDEX events_by_type_time",
        ),
        Backend::Postgres => (
            |step| step.ends_with(" on events") || step.contains(" on events "),
            "Index Only Scan using events_by_type_time on events",
        ),
    };
    let steps: Vec<&str> = plan.lines().filter(|step| reads_events(step)).collect();
    assert!(!steps.is_empty(), "the partial hours are not read:\n{plan}");
    for step in steps {
        assert!(step.contains(covered), "rows are looked up: {step}\n{plan}");
    }
}

async fn assert_plan_uses(store: &Store, params: &ListParams, index: &str) {
    let plan = store
        .list_events_plan(params)
        .await
        .expect("explain")
        .join("\n");
    eprintln!(
        "plan for types={:?} cursor={}:\n{plan}",
        params.types,
        params.cursor.is_some()
    );
    assert!(
        plan.contains(index),
        "the plan does not use {index}:\n{plan}"
    );
    assert!(
        !plan.contains("Seq Scan") && !plan.contains("SCAN events"),
        "a full scan:\n{plan}"
    );
}
