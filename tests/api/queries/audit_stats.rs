//! The audit filters on `/stats` and `/stats/timeline` (the same totals `/stats/groups` reads,
//! checked against the same model), the refusals of `/stats/groups`, each naming its parameter,
//! and the evidence that an hour-aligned window of `/stats/groups` reads the group totals only.

use std::collections::BTreeMap;

use dash_events::query::{AuditFilters, GroupBy, TimeRange};
use dash_events::store::{Durability, Measures, Scope, Store};
use serde_json::{Value, json};

use crate::backend::TestDb;
use crate::helpers::assert_error;
use crate::queries::groups::store_in_shards;
use crate::queries::groups_model::{Ask, HOUR_US, Rng, START_US, Sent, expected, random_event};
use crate::support::app::App;

both_backends!(
    stats_and_timeline_count_only_the_filtered_events,
    bad_group_parameters_are_refused_naming_them,
    an_hour_aligned_window_is_grouped_from_the_group_totals_only,
);

fn sample(count: usize) -> Vec<Sent> {
    let mut rng = Rng(3);
    (0..count)
        .map(|n| {
            let at = START_US + (n as i64) * 731_000_017 % (30 * HOUR_US);
            random_event(&mut rng, &crate::helpers::new_id(), at)
        })
        .collect()
}

fn asks() -> Vec<Ask> {
    let (h, s) = (HOUR_US, START_US);
    vec![
        Ask::default(),
        Ask::default().with("agentId", "agent-1,agent-4"),
        Ask::window(s + h / 2, s + 20 * h + 3).with("swarmId", "swarm-b"),
        Ask::window(s, s + 24 * h)
            .with("instanceId", "inst-2")
            .with("workflowId", "wf-1"),
        Ask::window(s + 3, s + 29 * h).with("data.model", "opus"),
        Ask::window(s + h, s + 2 * h).with("webhookId", "wh-1"),
    ]
}

async fn stats_and_timeline_count_only_the_filtered_events(db: TestDb) {
    let app = App::start(&db).await;
    let held = sample(200);
    for sent in &held {
        app.store(&sent.body).await;
    }
    for ask in asks() {
        check_stats(&app, &held, &ask).await;
        for bucket in ["hour", "day"] {
            check_timeline(&app, &held, &ask, bucket).await;
        }
    }
}

fn pairs(query: &[(String, String)]) -> Vec<(&str, &str)> {
    query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

async fn check_stats(app: &App, held: &[Sent], ask: &Ask) {
    let query = ask.query();
    let (status, stats) = app.get_query("/stats", &pairs(&query)).await;
    assert_eq!(status, 200, "{query:?}: {stats}");
    let by_type = expected(held, "type", ask, "cost");
    let counts: BTreeMap<&str, &Value> = by_type
        .iter()
        .map(|g| (g["key"].as_str().unwrap(), &g["events"]))
        .collect();
    assert_eq!(stats["eventCounts"], json!(counts), "{query:?}");
    let total: i64 = by_type.iter().map(|g| g["events"].as_i64().unwrap()).sum();
    assert_eq!(stats["totalEvents"], total, "{query:?}");
    let cost: f64 = by_type.iter().map(|g| g["cost"].as_f64().unwrap()).sum();
    assert!(
        (stats["totalCost"].as_f64().unwrap() - cost).abs() < 1e-9,
        "{query:?}: {stats}"
    );
    let count: f64 = by_type
        .iter()
        .map(|g| g["durationCount"].as_f64().unwrap())
        .sum();
    let sum: f64 = by_type
        .iter()
        .map(|g| g["durationMeanMs"].as_f64().unwrap_or(0.0) * g["durationCount"].as_f64().unwrap())
        .sum();
    match stats["avgDurationMs"].as_f64() {
        Some(mean) => assert!((mean - sum / count).abs() < 1e-6, "{query:?}: {stats}"),
        None => assert_eq!(count, 0.0, "{query:?}: {stats}"),
    }
}

async fn check_timeline(app: &App, held: &[Sent], ask: &Ask, bucket: &str) {
    let mut query = ask.query();
    query.push(("bucket".into(), bucket.into()));
    let (status, timeline) = app.get_query("/stats/timeline", &pairs(&query)).await;
    assert_eq!(status, 200, "{query:?}: {timeline}");
    let mut expected: BTreeMap<String, (BTreeMap<String, i64>, f64)> = BTreeMap::new();
    for sent in held.iter().filter(|s| ask.holds(s)) {
        let width = if bucket == "hour" {
            HOUR_US
        } else {
            24 * HOUR_US
        };
        let start = crate::queries::groups_model::rfc3339(sent.at - sent.at.rem_euclid(width));
        let entry = expected.entry(start).or_default();
        *entry
            .0
            .entry(sent.body["type"].as_str().unwrap().to_owned())
            .or_default() += 1;
        entry.1 += sent.body["data"]["cost"].as_f64().unwrap_or(0.0);
    }
    for answered in timeline["buckets"].as_array().expect("buckets") {
        let start = answered["start"].as_str().unwrap();
        let key = chrono::DateTime::parse_from_rfc3339(start)
            .unwrap()
            .timestamp_micros();
        let (counts, cost) = expected
            .remove(&crate::queries::groups_model::rfc3339(key))
            .unwrap_or_default();
        assert_eq!(
            answered["counts"],
            json!(counts),
            "{query:?}: bucket {start}"
        );
        assert!(
            (answered["cost"].as_f64().unwrap() - cost).abs() < 1e-9,
            "{query:?}: {start}"
        );
    }
    assert!(
        expected.is_empty(),
        "{query:?}: buckets missing: {expected:?}"
    );
}

async fn bad_group_parameters_are_refused_naming_them(db: TestDb) {
    let app = App::start(&db).await;
    let many: String = (0..21)
        .map(|n| format!("a{n}"))
        .collect::<Vec<_>>()
        .join(",");
    let since = crate::queries::groups_model::rfc3339(START_US);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![], "by"),
        (vec![("by", "agent")], "by"),
        (vec![("by", "")], "by"),
        (vec![("by", "type"), ("sort", "price")], "sort"),
        (vec![("by", "type"), ("limit", "0")], "limit"),
        (vec![("by", "type"), ("limit", "1001")], "limit"),
        (vec![("by", "type"), ("limit", "x")], "limit"),
        (vec![("by", "type"), ("cursor", "!!!")], "cursor"),
        (vec![("by", "type"), ("cursor", "bjQy")], "cursor"),
        (vec![("by", "type"), ("q", "migration")], "q"),
        (vec![("by", "type"), ("agentId", "")], "agentId"),
        (vec![("by", "type"), ("agentId", &many)], "agentId"),
        (vec![("by", "type"), ("data.model", "opus")], "since"),
        (
            vec![("by", "type"), ("data.a.b", "1"), ("since", &since)],
            "data.a.b",
        ),
        (vec![("by", "type"), ("since", "yesterday")], "since"),
        (vec![("by", "type"), ("type", "a,,b")], "type"),
    ];
    for (query, name) in cases {
        let (status, body) = app.get_query("/stats/groups", &query).await;
        assert_error(&format!("{query:?}"), status, &body, 400, Some(name));
    }
    for path in ["/stats", "/stats/timeline"] {
        let (status, body) = app.get_query(path, &[("data.model", "opus")]).await;
        assert_error(path, status, &body, 400, Some("since"));
    }
    // Input is bound, never written into SQL: this is an id like any other.
    let (status, page) = app
        .get_query(
            "/stats/groups",
            &[("by", "agentId"), ("agentId", "x' or 1=1 --")],
        )
        .await;
    assert_eq!((status, &page["groups"]), (200, &json!([])), "{page}");
}

async fn an_hour_aligned_window_is_grouped_from_the_group_totals_only(db: TestDb) {
    store_in_shards(&db, &sample(300)).await;
    let store = Store::connect(db.url(), Durability::Normal)
        .await
        .expect("connect");
    let plan = |range: TimeRange, filters: AuditFilters| {
        let store = store.clone();
        async move {
            let scope = Scope {
                range,
                types: &[],
                filters: &filters,
                measures: Measures::All,
            };
            store
                .group_parts_plan(GroupBy::AgentId, scope)
                .await
                .expect("explain")
                .join("\n")
        }
    };
    let range = |since_us, until_us| TimeRange { since_us, until_us };
    let (h, s) = (HOUR_US, START_US);
    let agent = AuditFilters {
        agent_ids: vec!["agent-1".into()],
        ..AuditFilters::default()
    };
    for filters in [AuditFilters::default(), agent] {
        let aligned = plan(range(s, s + 24 * h), filters.clone()).await;
        assert!(aligned.contains("event_groups"), "{aligned}");
        for events in ["events_by_", "on events", "SCAN events", "SEARCH events"] {
            assert!(!aligned.contains(events), "the events are read:\n{aligned}");
        }
    }
    // Partial hours whose rest holds events are read from the events.
    let unaligned = plan(
        range(s + h / 2, s + 24 * h + h / 2),
        AuditFilters::default(),
    )
    .await;
    assert!(
        unaligned.contains("event_groups") && unaligned.contains("events"),
        "{unaligned}"
    );
    store.close().await;
}
