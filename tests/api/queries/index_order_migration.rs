//! Migration 0007 (SQLite: the type index and the audit indexes rebuilt ascending) on a log
//! stored under 0006: every event is kept, each filter pages and exports exactly what it did
//! (newest first, ties by id descending) through its index walked backwards, a resend of an old
//! event is still a duplicate, and new events land where the ascending indexes put them.

use std::path::Path;

use dash_events::query::ListParams;
use dash_events::store::{Durability, Store};
use serde_json::json;
use sqlx::migrate::Migrator;

use crate::backend::TestDb;
use crate::queries::audit_filters::{assert_reads, expected, seeded};
use crate::support::app::App;

sqlite_only!(a_log_stored_under_0006_reads_the_same_through_ascending_indexes);

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

async fn index_sql(db: &TestDb) -> Vec<(String, String)> {
    sqlx::query_as("select name, sql from sqlite_master where type = 'index' and sql is not null")
        .fetch_all(&mut db.sqlite().await)
        .await
        .expect("read the indexes")
}

async fn a_log_stored_under_0006_reads_the_same_through_ascending_indexes(scratch: TestDb) {
    let mut events = seeded(120);
    let app = App::start(&scratch).await;
    for event in &events {
        app.store(&event.body).await;
    }
    app.stop().await;
    let db = database_at_0006(&scratch).await;
    let old = index_sql(&db).await;
    for name in INDEXES {
        let (_, sql) = old.iter().find(|(n, _)| n == name).expect(name);
        assert!(sql.contains("ts_us desc, id desc"), "under 0006: {sql}");
    }
    assert_eq!(db.count_events().await, 120);

    let app = App::start(&db).await;
    for name in INDEXES {
        let new = index_sql(&db).await;
        let (_, sql) = new.iter().find(|(n, _)| n == name).expect(name);
        assert!(!sql.contains("desc"), "after 0007: {sql}");
    }
    assert_eq!(db.count_events().await, 120);
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
