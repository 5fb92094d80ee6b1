//! `GET /stats`: `totalEvents`, `eventCounts` per type, `totalCost` summing numeric `data.cost`,
//! `avgDurationMs` averaging numeric `data.durationMs` (null when there is none), over everything
//! or a `since`/`until` window — computed from the database, so the same after a restart.

use serde_json::{Value, json};

use crate::backend::TestDb;
use crate::helpers::{Query, assert_error, new_id};
use crate::support::app::App;

both_backends!(
    stats_of_an_empty_log_are_zero_with_null_average,
    stats_sum_numeric_cost_and_average_numeric_duration,
    average_duration_is_null_when_no_event_has_one,
    stats_honour_since_and_until,
    stats_survive_a_restart,
    stats_reject_unparseable_times_with_400,
);

fn event_with(event_type: &str, timestamp: &str, data: Value) -> Value {
    json!({ "id": new_id(), "type": event_type, "timestamp": timestamp, "data": data })
}

/// Five events (one delivered twice) with numeric, missing and non-numeric cost and duration.
async fn store_sample(app: &App) {
    let sample = [
        event_with(
            "agent:complete",
            "2026-11-28T10:00:00Z",
            json!({ "cost": 0.05, "durationMs": 1000 }),
        ),
        event_with(
            "agent:complete",
            "2026-11-28T11:00:00Z",
            json!({ "cost": 0.10, "durationMs": 2000 }),
        ),
        event_with(
            "agent:complete",
            "2026-11-28T12:00:00Z",
            json!({ "cost": 0.25, "durationMs": 6000 }),
        ),
        event_with(
            "budget:warning",
            "2026-11-28T13:00:00Z",
            json!({ "percentage": 80 }),
        ),
        event_with(
            "agent:error",
            "2026-11-28T14:00:00Z",
            json!({ "cost": "0.5", "durationMs": "100" }),
        ),
    ];
    for event in &sample {
        app.store(event).await;
    }
    let (status, body) = app.deliver(&sample[0]).await;
    assert_eq!((status, &body["duplicate"]), (200, &json!(true)), "{body}");
}

fn assert_close(case: &str, actual: &Value, expected: f64) {
    let actual = actual
        .as_f64()
        .unwrap_or_else(|| panic!("{case}: {actual} is not a number"));
    assert!(
        (actual - expected).abs() < 1e-9,
        "{case}: {actual} != {expected}"
    );
}

async fn stats_of_an_empty_log_are_zero_with_null_average(db: TestDb) {
    let app = App::start(&db).await;

    let stats = app.get_json("/stats").await;

    assert_eq!(stats["totalEvents"], json!(0), "{stats}");
    assert_eq!(stats["eventCounts"], json!({}), "{stats}");
    assert_close("totalCost", &stats["totalCost"], 0.0);
    assert_eq!(stats["avgDurationMs"], Value::Null, "{stats}");
}

async fn stats_sum_numeric_cost_and_average_numeric_duration(db: TestDb) {
    let app = App::start(&db).await;
    store_sample(&app).await;

    let stats = app.get_json("/stats").await;

    assert_eq!(stats["totalEvents"], json!(5), "{stats}");
    let counts = json!({ "agent:complete": 3, "budget:warning": 1, "agent:error": 1 });
    assert_eq!(stats["eventCounts"], counts, "{stats}");
    assert_close("totalCost", &stats["totalCost"], 0.40);
    assert_close("avgDurationMs", &stats["avgDurationMs"], 3000.0);
}

async fn average_duration_is_null_when_no_event_has_one(db: TestDb) {
    let app = App::start(&db).await;
    app.store(&event_with(
        "budget:warning",
        "2026-11-28T10:00:00Z",
        json!({ "cost": 1.5 }),
    ))
    .await;
    app.store(&event_with(
        "safety:block",
        "2026-11-28T10:00:00Z",
        json!({ "durationMs": null }),
    ))
    .await;

    let stats = app.get_json("/stats").await;

    assert_eq!(stats["totalEvents"], json!(2), "{stats}");
    assert_close("totalCost", &stats["totalCost"], 1.5);
    assert_eq!(stats["avgDurationMs"], Value::Null, "{stats}");
}

async fn stats_honour_since_and_until(db: TestDb) {
    let app = App::start(&db).await;
    store_sample(&app).await;
    let cases: [(&str, Query, i64, f64, Option<f64>); 4] = [
        (
            "since 11:00, inclusive",
            &[("since", "2026-11-28T11:00:00Z")],
            4,
            0.35,
            Some(4000.0),
        ),
        (
            "until 11:00, exclusive",
            &[("until", "2026-11-28T11:00:00Z")],
            1,
            0.05,
            Some(1000.0),
        ),
        (
            "since 12:00 until 14:00",
            &[
                ("since", "2026-11-28T12:00:00Z"),
                ("until", "2026-11-28T14:00:00Z"),
            ],
            2,
            0.25,
            Some(6000.0),
        ),
        (
            "an empty window",
            &[
                ("since", "2026-11-28T13:30:00+00:00"),
                ("until", "2026-11-28T14:00:00Z"),
            ],
            0,
            0.0,
            None,
        ),
    ];

    for (case, query, total, cost, duration) in cases {
        let (status, stats) = app.get_query("/stats", query).await;
        assert_eq!(status, 200, "{case}: {stats}");
        assert_eq!(stats["totalEvents"], json!(total), "{case}: {stats}");
        assert_close(case, &stats["totalCost"], cost);
        match duration {
            Some(expected) => assert_close(case, &stats["avgDurationMs"], expected),
            None => assert_eq!(stats["avgDurationMs"], Value::Null, "{case}"),
        }
    }
}

async fn stats_survive_a_restart(db: TestDb) {
    let app = App::start(&db).await;
    store_sample(&app).await;
    let before = app.get_json("/stats").await;

    let app = app.restart().await;

    assert_eq!(app.get_json("/stats").await, before);
}

async fn stats_reject_unparseable_times_with_400(db: TestDb) {
    let app = App::start(&db).await;

    for (case, parameter, value) in [
        ("since is a word", "since", "yesterday"),
        ("since has no zone", "since", "2026-11-28T10:00:00"),
        ("until is a number", "until", "12"),
    ] {
        let (status, body) = app.get_query("/stats", &[(parameter, value)]).await;
        assert_error(case, status, &body, 400, Some(parameter));
    }
}
