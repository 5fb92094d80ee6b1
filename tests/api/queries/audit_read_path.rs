//! The read path of the audit filters at scale: with 10⁵ events stored (through the store's own
//! batch insert, so the id columns are filled as the service fills them), a page filtered by each
//! named filter, alone, with several values, with a type, with another id, and after a cursor,
//! is read through that filter's partial index (`events_by_agent` …), never by a scan of the
//! log. The plans are printed (`-- --nocapture`); timings are printed, never asserted.

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use dash_events::cursor::Cursor;
use dash_events::query::ListParams;
use dash_events::store::{Durability, Store};
use serde_json::{Value, json};

use crate::backend::{Backend, TestDb};
use crate::support::fill::store_events;

both_backends!(pages_filtered_by_each_id_are_read_through_its_index);

const EVENTS: usize = 100_000;
const TYPES: usize = 12;

/// An event of an audit log: 500 events per agent, more per workflow and swarm, a third and a
/// fifth of the log per instance and webhook (so that even the least selective index is the one
/// read for a page). Every case below has more than a page of matches.
fn audit_event(n: usize, start: DateTime<Utc>) -> Value {
    let at = start + Duration::seconds(n as i64 * 26);
    json!({
        "id": format!("evt-{n:07}"),
        "type": format!("type-{}", n % TYPES),
        "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "data": {
            "agentId": format!("agent-{}", n % 200),
            "swarmId": format!("swarm-{}", n % 50),
            "workflowId": format!("workflow-{}", n % 100),
            "cost": 0.01,
        },
        "instanceId": format!("instance-{}", n % 3),
        "webhookId": format!("webhook-{}", n % 5),
    })
}

async fn pages_filtered_by_each_id_are_read_through_its_index(db: TestDb) {
    let start = DateTime::parse_from_rfc3339("2026-10-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let started = Instant::now();
    let events: Vec<Value> = (0..EVENTS).map(|n| audit_event(n, start)).collect();
    store_events(&db, &events).await;
    if db.backend() == Backend::Postgres {
        sqlx::query("analyze")
            .execute(&mut db.postgres().await)
            .await
            .expect("analyze");
    }
    eprintln!(
        "{:?}: stored {EVENTS} events in {:?}",
        db.backend(),
        started.elapsed()
    );
    let store = Store::connect(db.url(), Durability::Normal)
        .await
        .expect("connect");

    let since = "since=2026-10-10T00:00:00Z";
    // The indexes of the filters given, the driver's first: SQLite must read it; PostgreSQL
    // reads the one its statistics say is the most selective (see `store::filters`).
    let (agent, swarm, workflow) = ("events_by_agent", "events_by_swarm", "events_by_workflow");
    let (instance, webhook, by_type) = (
        "events_by_instance",
        "events_by_webhook",
        "events_by_type_time",
    );
    let cases: [(&str, &[&str]); 12] = [
        ("agentId=agent-17", &[agent]),
        ("agentId=agent-17,agent-100,agent-199", &[agent]),
        ("agentId=agent-17&type=type-5", &[agent, by_type]),
        (
            "agentId=agent-17&swarmId=swarm-17&webhookId=webhook-2",
            &[agent, swarm, webhook],
        ),
        ("swarmId=swarm-3", &[swarm]),
        (
            "swarmId=swarm-3,swarm-4&type=type-3,type-4",
            &[swarm, by_type],
        ),
        ("workflowId=workflow-42", &[workflow]),
        (
            "workflowId=workflow-42&instanceId=instance-0",
            &[workflow, instance],
        ),
        ("instanceId=instance-2", &[instance]),
        (
            "instanceId=instance-2&webhookId=webhook-1",
            &[instance, webhook],
        ),
        ("webhookId=webhook-4", &[webhook]),
        (
            "webhookId=webhook-4,webhook-0&type=type-1",
            &[webhook, by_type],
        ),
    ];
    for (filters, indexes) in cases {
        let indexes = match db.backend() {
            Backend::Sqlite => &indexes[..1],
            Backend::Postgres => indexes,
        };
        for query in [filters.to_owned(), format!("{filters}&{since}")] {
            let params = ListParams::parse(Some(&query)).expect(&query);
            assert_pages_use(&store, params, indexes).await;
        }
    }
    store.close().await;
}

/// Asserts that the first page of `params` and the page after it read one of `indexes`, and
/// that the second page follows the first.
async fn assert_pages_use(store: &Store, mut params: ListParams, indexes: &[&str]) {
    assert_plan_uses(store, &params, indexes).await;
    let started = Instant::now();
    let first = store.list_events(&params).await.expect("first page");
    let elapsed = started.elapsed();
    assert_eq!(
        first.len(),
        101,
        "a full page and the look-ahead row: {params:?}"
    );
    let last = &first[99];
    params.cursor = Some(Cursor {
        timestamp_us: last.ts_us,
        id: last.id.clone(),
    });
    assert_plan_uses(store, &params, indexes).await;
    let second = store.list_events(&params).await.expect("second page");
    assert!(
        second
            .first()
            .is_some_and(|row| (row.ts_us, &row.id) < (last.ts_us, &last.id))
    );
    eprintln!("first page in {elapsed:?}");
}

/// Asserts that the plan of a page of `params` reads one of `indexes` (each of its ranges, when
/// the driver has several values) and nothing in full.
async fn assert_plan_uses(store: &Store, params: &ListParams, indexes: &[&str]) {
    let plan = store
        .list_events_plan(params)
        .await
        .expect("explain")
        .join("\n");
    eprintln!(
        "plan for {:?} types={:?} cursor={}:\n{plan}",
        params.filters,
        params.types,
        params.cursor.is_some()
    );
    assert!(
        indexes.iter().any(|index| plan.contains(index)),
        "the plan uses none of {indexes:?}:\n{plan}"
    );
    assert!(
        !plan.contains("Seq Scan") && !plan.contains("SCAN events"),
        "a full scan:\n{plan}"
    );
}
