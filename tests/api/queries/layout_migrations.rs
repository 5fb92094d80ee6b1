//! Migrations 0007 and 0008 (SQLite: the type index and the audit indexes rebuilt ascending, the
//! hourly totals keyed hour first) on a log stored under 0006: every event is kept, each filter
//! pages and exports exactly what it did (newest first, ties by id descending) through its index
//! walked backwards, a resend of an old event is still a duplicate, and new events land where the
//! ascending indexes put them. The hourly totals are carried over row for row, and the migrated
//! log answers `/stats/timeline` and `/stats` as a log that stored the same events fresh.

use std::path::Path;

use dash_events::query::ListParams;
use dash_events::store::{Durability, Store};
use serde_json::json;
use sqlx::migrate::Migrator;

use crate::backend::TestDb;
use crate::queries::audit_filters::{DAY, assert_reads, expected, seeded};
use crate::support::app::App;

sqlite_only!(a_log_stored_under_0006_reads_the_same_after_0007_and_0008);

const BEFORE_0007: [&str; 6] = [
    "0001_events.sql",
    "0002_stream_position.sql",
    "0003_notifications.sql",
    "0004_timeline_hours.sql",
    "0005_audit_fields.sql",
    "0006_search_index.sql",
];
/// Every table the writer keeps: their columns did not change in 0007, only the indexes did.
const TABLES: [&str; 5] = [
    "events",
    "event_types",
    "event_stats",
    "event_hours",
    "event_groups",
];
const INDEXES: [&str; 6] = [
    "events_by_type_time",
    "events_by_agent",
    "events_by_swarm",
    "events_by_workflow",
    "events_by_instance",
    "events_by_webhook",
];

/// A database at migration 0006 holding the rows of `scratch`, as the previous release left it.
async fn database_at_0006(scratch: &TestDb) -> TestDb {
    let db = scratch.provision_beside().await;
    let before = db.dir().join("migrations-0006");
    std::fs::create_dir_all(&before).expect("migrations folder");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    for file in BEFORE_0007 {
        std::fs::copy(source.join(file), before.join(file)).expect("copy a migration");
    }
    let migrator = Migrator::new(before.as_path()).await.expect("migrator");
    let mut conn = db.create_sqlite().await;
    migrator.run(&mut conn).await.expect("apply 0001-0006");
    let path = scratch.url().trim_start_matches("sqlite://");
    sqlx::query(&format!("attach database '{path}' as scratch"))
        .execute(&mut conn)
        .await
        .expect("attach the scratch log");
    for table in TABLES {
        let copy = format!("insert into main.{table} select * from scratch.{table}");
        sqlx::query(&copy).execute(&mut conn).await.expect(&copy);
    }
    db
}

/// The hourly totals, row for row.
type HourRow = (Vec<u8>, i64, i64, i64, f64);
const HOURS: &str =
    "select type, hour_us, shard, events, cost_sum from event_hours order by type, hour_us, shard";

async fn hour_rows(db: &TestDb) -> Vec<HourRow> {
    sqlx::query_as(HOURS)
        .fetch_all(&mut db.sqlite().await)
        .await
        .expect("read the hourly totals")
}

/// What the seeded day's totals answer: its timeline by hour, its stats.
async fn totals(app: &App) -> (serde_json::Value, serde_json::Value) {
    let since = format!("{DAY}T00:00:00Z");
    let until = format!("{DAY}T23:00:00Z");
    let window = [("since", since.as_str()), ("until", until.as_str())];
    let mut timeline = window.to_vec();
    timeline.push(("bucket", "hour"));
    let (status, by_hour) = app.get_query("/stats/timeline", &timeline).await;
    assert_eq!(status, 200, "{by_hour}");
    let (status, stats) = app.get_query("/stats", &window).await;
    assert_eq!(status, 200, "{stats}");
    (by_hour, stats)
}

async fn index_sql(db: &TestDb) -> Vec<(String, String)> {
    sqlx::query_as("select name, sql from sqlite_master where type = 'index' and sql is not null")
        .fetch_all(&mut db.sqlite().await)
        .await
        .expect("read the indexes")
}

async fn a_log_stored_under_0006_reads_the_same_after_0007_and_0008(scratch: TestDb) {
    let mut events = seeded(120);
    let app = App::start(&scratch).await;
    for event in &events {
        app.store(&event.body).await;
    }
    let fresh_totals = totals(&app).await;
    app.stop().await;
    let db = database_at_0006(&scratch).await;
    let old = index_sql(&db).await;
    for name in INDEXES {
        let (_, sql) = old.iter().find(|(n, _)| n == name).expect(name);
        assert!(sql.contains("ts_us desc, id desc"), "under 0006: {sql}");
    }
    assert_eq!(db.count_events().await, 120);

    let app = App::start(&db).await;
    let new = index_sql(&db).await;
    for name in INDEXES {
        let (_, sql) = new.iter().find(|(n, _)| n == name).expect(name);
        assert!(!sql.contains("desc"), "after 0007: {sql}");
    }
    assert_eq!(db.count_events().await, 120);
    let hours = hour_rows(&db).await;
    assert!(hours.len() >= 4, "the seeded hours: {hours:?}");
    assert_eq!(hours, hour_rows(&scratch).await);
    let keyed: String =
        sqlx::query_scalar("select sql from sqlite_master where name = 'event_hours'")
            .fetch_one(&mut db.sqlite().await)
            .await
            .expect("the hourly totals' table");
    assert!(
        keyed.contains("primary key (hour_us, type, shard)"),
        "{keyed}"
    );
    assert_eq!(totals(&app).await, fresh_totals);
    let cases: [&[(&str, &str)]; 9] = [
        &[],
        &[("type", "agent:error")],
        &[("type", "agent:complete,swarm:complete")],
        &[("agentId", "a-1")],
        &[("swarmId", "s-2")],
        &[("workflowId", "w-1")],
        &[("instanceId", "i-2")],
        &[("webhookId", "wh-1")],
        &[("agentId", "a-2"), ("type", "agent:error,swarm:complete")],
    ];
    for case in cases {
        assert_reads(&app, case, &expected(&events, case)).await;
    }
    assert_single_values_need_no_sort(&db).await;

    // The id index is untouched: an old event sent again is a duplicate.
    let (status, answer) = app.deliver(&events[7].body).await;
    assert_eq!((status, answer["duplicate"].clone()), (200, json!(true)));
    // New events, some tied with old ones to the microsecond, take their places in each index.
    let mut later = seeded(160).split_off(120);
    for event in &mut later {
        event.body["id"] = json!(format!("n{}", event.id));
        event.id = format!("n{}", event.id);
        app.store(&event.body).await;
    }
    let mut tied = seeded(2).remove(1);
    tied.body["id"] = json!("e001b");
    tied.id = "e001b".into();
    app.store(&tied.body).await;
    events.extend(later);
    events.push(tied);
    for case in cases {
        assert_reads(&app, case, &expected(&events, case)).await;
    }
    // The log that stored the same events fresh answers the same totals.
    let fresh = App::start(&scratch).await;
    for event in &events[120..] {
        fresh.store(&event.body).await;
    }
    assert_eq!(totals(&app).await, totals(&fresh).await);
    fresh.stop().await;
    app.stop().await;
}

/// A page filtered by one value reads its index's range in order, without sorting it.
async fn assert_single_values_need_no_sort(db: &TestDb) {
    let store = Store::connect(db.url(), Durability::Normal)
        .await
        .expect("connect");
    for (query, index) in [
        ("type=agent:error", "events_by_type_time"),
        ("agentId=a-1", "events_by_agent"),
        ("instanceId=i-2", "events_by_instance"),
    ] {
        let params = ListParams::parse(Some(query)).expect(query);
        let plan = store.list_events_plan(&params).await.expect("explain");
        let plan = plan.join("\n");
        assert!(plan.contains(index), "{query} reads no {index}:\n{plan}");
        assert!(
            !plan.contains("TEMP B-TREE") && !plan.contains("SCAN events"),
            "{query} sorts or scans:\n{plan}"
        );
    }
    store.close().await;
}
