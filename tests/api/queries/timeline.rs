//! `GET /stats/timeline`: events per type and the sum of numeric `data.cost` per UTC hour or
//! day, every bucket of the range (empty ones too), checked against what was sent — counted here
//! independently of the service. Missing bounds come from the matching events; more than 2000
//! buckets, or a bad parameter, is a 400 naming it.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::{Value, json};

use crate::backend::TestDb;
use crate::helpers::{Query, assert_error, instant, new_id};
use crate::support::app::App;

both_backends!(
    hourly_buckets_count_each_type_and_sum_cost_as_sent,
    day_buckets_add_up_to_the_stats_of_the_same_range,
    missing_bounds_are_taken_from_the_matching_events,
    an_empty_log_has_no_buckets,
    too_many_buckets_or_bad_parameters_are_400_naming_the_parameter,
);

const START: &str = "2026-11-27T22:00:00Z";

fn start() -> DateTime<Utc> {
    START.parse().expect("START is RFC 3339")
}

/// (type, minutes after START, cost as sent): several per hour, over midnight, with missing and
/// non-numeric costs, which count as events but add no cost.
fn sample() -> Vec<(&'static str, i64, Value)> {
    let mut events = Vec::new();
    let types = ["agent:complete", "agent:error", "budget:warning"];
    for n in 0..40_i64 {
        let cost = match n % 4 {
            0 => json!(null),
            1 => json!("0.5"),
            _ => json!((n as f64) / 100.0),
        };
        events.push((types[(n % 3) as usize], n * 37 % 300 + n % 7, cost));
    }
    events
}

/// Delivers the sample (and one redelivery, which must not count twice).
async fn store_sample(app: &App) {
    let mut first = None;
    for (event_type, minutes, cost) in sample() {
        let timestamp = start() + Duration::minutes(minutes);
        let mut data = json!({ "agentId": "agent-1" });
        if !cost.is_null() {
            data["cost"] = cost;
        }
        let event = json!({ "id": new_id(), "type": event_type, "timestamp": timestamp.to_rfc3339(), "data": data });
        app.store(&event).await;
        first.get_or_insert(event);
    }
    let (status, body) = app.deliver(&first.expect("a first event")).await;
    assert_eq!((status, &body["duplicate"]), (200, &json!(true)), "{body}");
}

/// Expected (counts per type, cost) per bucket of `width` from `origin`, computed from `sample`.
fn expected(
    origin: DateTime<Utc>,
    width: Duration,
    types: &[&str],
) -> BTreeMap<i64, (BTreeMap<String, i64>, f64)> {
    let mut buckets: BTreeMap<i64, (BTreeMap<String, i64>, f64)> = BTreeMap::new();
    for (event_type, minutes, cost) in sample() {
        if !types.is_empty() && !types.contains(&event_type) {
            continue;
        }
        let at = start() + Duration::minutes(minutes);
        let index = (at - origin).num_seconds().div_euclid(width.num_seconds());
        let bucket = buckets.entry(index).or_default();
        *bucket.0.entry(event_type.to_owned()).or_insert(0) += 1;
        bucket.1 += cost.as_f64().unwrap_or(0.0);
    }
    buckets
}

/// Checks every bucket of `timeline` against `expected`, and that they are consecutive.
fn assert_buckets(
    timeline: &Value,
    origin: DateTime<Utc>,
    width: Duration,
    count: usize,
    expected: &BTreeMap<i64, (BTreeMap<String, i64>, f64)>,
) {
    let buckets = timeline["buckets"].as_array().expect("buckets array");
    assert_eq!(buckets.len(), count, "{timeline}");
    for (n, bucket) in buckets.iter().enumerate() {
        assert_eq!(
            instant(&bucket["start"]),
            origin + width * n as i32,
            "bucket {n}"
        );
        let (counts, cost) = expected.get(&(n as i64)).cloned().unwrap_or_default();
        assert_eq!(
            bucket["counts"],
            json!(counts),
            "counts of bucket {n}: {timeline}"
        );
        let answered = bucket["cost"].as_f64().expect("cost is a number");
        assert!(
            (answered - cost).abs() < 1e-9,
            "cost of bucket {n}: {answered} != {cost}"
        );
    }
}

async fn hourly_buckets_count_each_type_and_sum_cost_as_sent(db: TestDb) {
    let app = App::start(&db).await;
    store_sample(&app).await;

    // A window from mid-hour to mid-hour: buckets from the hour holding `since`.
    let query = [
        ("since", "2026-11-27T21:30:00Z"),
        ("until", "2026-11-28T04:10:00Z"),
        ("bucket", "hour"),
    ];
    let (status, timeline) = app.get_query("/stats/timeline", &query).await;
    assert_eq!(status, 200, "{timeline}");
    assert_eq!(timeline["bucket"], "hour");
    assert_eq!(
        instant(&timeline["since"]),
        instant(&json!("2026-11-27T21:30:00Z"))
    );
    let origin = start() - Duration::hours(1);
    let all = expected(origin, Duration::hours(1), &[]);
    assert_buckets(&timeline, origin, Duration::hours(1), 8, &all);
    let total: i64 = all.values().flat_map(|b| b.0.values()).sum();
    assert_eq!(total, 40, "the sample lies inside the window");

    let types = ["agent:error", "budget:warning"];
    let query = [
        ("until", "2026-11-28T04:10:00Z"),
        ("since", "2026-11-27T21:30:00Z"),
        ("type", "agent:error,budget:warning"),
    ];
    let (status, filtered) = app.get_query("/stats/timeline", &query).await;
    assert_eq!(status, 200, "{filtered}");
    assert_buckets(
        &filtered,
        origin,
        Duration::hours(1),
        8,
        &expected(origin, Duration::hours(1), &types),
    );
}

async fn day_buckets_add_up_to_the_stats_of_the_same_range(db: TestDb) {
    let app = App::start(&db).await;
    store_sample(&app).await;

    let window = [
        ("since", "2026-11-27T00:00:00Z"),
        ("until", "2026-11-30T00:00:00Z"),
    ];
    let (status, timeline) = app
        .get_query(
            "/stats/timeline",
            &[window[0], window[1], ("bucket", "day")],
        )
        .await;
    assert_eq!(status, 200, "{timeline}");
    let origin = start()
        .duration_trunc(Duration::days(1))
        .expect("truncate to the day");
    assert_buckets(
        &timeline,
        origin,
        Duration::days(1),
        3,
        &expected(origin, Duration::days(1), &[]),
    );

    let (_, stats) = app.get_query("/stats", &window).await;
    let mut counts = BTreeMap::<String, i64>::new();
    let mut cost = 0.0;
    for bucket in timeline["buckets"].as_array().expect("buckets") {
        for (event_type, n) in bucket["counts"].as_object().expect("counts") {
            *counts.entry(event_type.clone()).or_insert(0) += n.as_i64().expect("a count");
        }
        cost += bucket["cost"].as_f64().expect("cost");
    }
    assert_eq!(json!(counts), stats["eventCounts"], "{stats}");
    assert!((cost - stats["totalCost"].as_f64().expect("totalCost")).abs() < 1e-9);
}

async fn missing_bounds_are_taken_from_the_matching_events(db: TestDb) {
    let app = App::start(&db).await;
    store_sample(&app).await;
    let times: Vec<DateTime<Utc>> = sample()
        .iter()
        .filter(|e| e.0 == "budget:warning")
        .map(|e| start() + Duration::minutes(e.1))
        .collect();
    let (oldest, newest) = (times.iter().min().unwrap(), times.iter().max().unwrap());

    let (status, timeline) = app
        .get_query("/stats/timeline", &[("type", "budget:warning")])
        .await;
    assert_eq!(status, 200, "{timeline}");
    assert_eq!(instant(&timeline["since"]), *oldest);
    assert!(instant(&timeline["until"]) > *newest);
    let origin = oldest.duration_trunc(Duration::hours(1)).expect("truncate");
    let count =
        (newest.duration_trunc(Duration::hours(1)).unwrap() - origin).num_hours() as usize + 1;
    let expected = expected(origin, Duration::hours(1), &["budget:warning"]);
    assert_buckets(&timeline, origin, Duration::hours(1), count, &expected);

    // Only `until` given: the start still comes from the events.
    let (_, bounded) = app
        .get_query(
            "/stats/timeline",
            &[
                ("type", "budget:warning"),
                ("until", "2026-11-28T06:00:00Z"),
            ],
        )
        .await;
    assert_eq!(instant(&bounded["since"]), *oldest);
    assert_eq!(
        instant(&bounded["until"]),
        instant(&json!("2026-11-28T06:00:00Z"))
    );
}

async fn an_empty_log_has_no_buckets(db: TestDb) {
    let app = App::start(&db).await;

    let timeline = app.get_json("/stats/timeline").await;
    assert_eq!(
        timeline,
        json!({ "bucket": "hour", "since": null, "until": null, "buckets": [] })
    );

    // One bound given: answered as given, the other cannot be taken from any event.
    let (_, half) = app.get_query("/stats/timeline", &[("since", START)]).await;
    assert_eq!(instant(&half["since"]), start());
    assert_eq!(
        (&half["until"], &half["buckets"]),
        (&Value::Null, &json!([]))
    );

    // With both bounds the range is known: its buckets are there, all empty.
    let query = [("since", START), ("until", "2026-11-28T00:00:00Z")];
    let (_, bounded) = app.get_query("/stats/timeline", &query).await;
    assert_buckets(&bounded, start(), Duration::hours(1), 2, &BTreeMap::new());
}

async fn too_many_buckets_or_bad_parameters_are_400_naming_the_parameter(db: TestDb) {
    let app = App::start(&db).await;
    store_sample(&app).await;

    let cases: [(&str, Query, &str); 6] = [
        (
            "84 days of hours",
            &[("since", START), ("until", "2027-02-19T22:00:00Z")],
            "bucket",
        ),
        (
            "10 000 years of days",
            &[("since", "0001-01-01T00:00:00Z"), ("bucket", "day")],
            "bucket",
        ),
        ("an unknown bucket", &[("bucket", "week")], "bucket"),
        ("an empty bucket", &[("bucket", "")], "bucket"),
        ("an unparseable since", &[("since", "yesterday")], "since"),
        ("an empty type", &[("type", "a,,b")], "type"),
    ];
    for (case, query, name) in cases {
        let (status, body) = app.get_query("/stats/timeline", query).await;
        assert_error(case, status, &body, 400, Some(name));
    }
    // Exactly 2000 hours is allowed.
    let until = (start() + Duration::hours(2000)).to_rfc3339();
    let (status, body) = app
        .get_query("/stats/timeline", &[("since", START), ("until", &until)])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["buckets"].as_array().map(Vec::len), Some(2000));
}
