//! `/stats` reads whole days from maintained daily totals and only the partial days at the
//! window's ends from the events. Whatever the window — aligned, unaligned, inside one hour,
//! empty, open on either side — its answer must equal the sums computed here from what was sent,
//! also for duplicates (counted once) and after a restart.

use serde_json::{Value, json};

use crate::backend::TestDb;
use crate::helpers::new_id;
use crate::support::app::App;

both_backends!(
    stats_of_any_window_equal_the_sums_of_the_events_in_it,
    huge_costs_are_stored_but_never_break_the_totals,
);

/// (minute offset from 2026-11-28T08:00Z, type, cost, duration): several days, so that windows
/// have whole days (midnight UTC is minute 960) as well as partial ones.
const SENT: [(i64, &str, f64, Option<i64>); 14] = [
    (0, "agent:complete", 0.5, Some(1000)),
    (30, "agent:complete", 0.25, Some(3000)),
    (59, "agent:error", 0.0, None),
    (60, "agent:complete", 1.0, Some(2000)),
    (61, "budget:warning", 0.0, None),
    (125, "agent:complete", 0.125, Some(4000)),
    (180, "swarm:progress", 0.0, None),
    (239, "agent:complete", 2.0, Some(500)),
    (240, "agent:complete", 4.0, Some(1500)),
    (600, "agent:error", 0.0, None),
    (1440, "agent:complete", 8.0, Some(700)),
    (2000, "budget:warning", 0.0, None),
    (2880 + 959, "agent:complete", 16.0, Some(900)),
    (4320 + 1, "agent:error", 0.0, None),
];

async fn stats_of_any_window_equal_the_sums_of_the_events_in_it(db: TestDb) {
    let app = App::start(&db).await;
    for (minute, event_type, cost, duration) in SENT {
        let mut data = json!({ "cost": cost });
        if let Some(ms) = duration {
            data["durationMs"] = json!(ms);
        }
        let event =
            json!({ "id": new_id(), "type": event_type, "timestamp": at(minute), "data": data });
        assert_eq!(app.deliver(&event).await.0, 200);
        assert_eq!(
            app.deliver(&event).await.0,
            200,
            "a duplicate is acknowledged and not counted"
        );
    }
    let windows = [
        (None, None),
        (Some(0), Some(60)),
        (Some(30), Some(61)),
        (Some(59), Some(240)),
        (Some(61), Some(239)),
        (Some(1), Some(2)),
        (Some(1), Some(58)),
        (Some(125), Some(125)),
        (Some(240), None),
        (None, Some(180)),
        (Some(-600), Some(10_000)),
        (Some(-480), Some(4320 - 480)),
        (Some(-480), Some(2880 - 480)),
        (Some(30), Some(2880 + 960)),
        (Some(1440 - 480), None),
    ];
    for (since, until) in windows {
        check_window(&app, since, until).await;
    }
    let app = app.restart().await;
    check_window(&app, Some(30), Some(3000)).await;
}

async fn check_window(app: &App, since: Option<i64>, until: Option<i64>) {
    let mut query = Vec::new();
    query.extend(since.map(|m| ("since", at(m))));
    query.extend(until.map(|m| ("until", at(m))));
    let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, stats) = app.get_query("/stats", &query).await;
    assert_eq!(status, 200, "{query:?}: {stats}");
    let expected = expected_stats(since, until);
    let case = format!("window {since:?}..{until:?} minutes");
    assert_eq!(
        stats["totalEvents"], expected["totalEvents"],
        "{case}: {stats}"
    );
    assert_eq!(
        stats["eventCounts"], expected["eventCounts"],
        "{case}: {stats}"
    );
    assert_close(&stats["totalCost"], &expected["totalCost"], &case);
    assert_close(&stats["avgDurationMs"], &expected["avgDurationMs"], &case);
}

fn expected_stats(since: Option<i64>, until: Option<i64>) -> Value {
    let inside = SENT
        .iter()
        .filter(|(m, ..)| since.is_none_or(|s| *m >= s) && until.is_none_or(|u| *m < u));
    let mut counts = serde_json::Map::new();
    let (mut total, mut cost, mut duration_sum, mut durations) = (0, 0.0, 0.0, 0);
    for (_, event_type, event_cost, duration) in inside {
        let count = counts.entry(*event_type).or_insert(json!(0));
        *count = json!(count.as_i64().unwrap_or(0) + 1);
        total += 1;
        cost += event_cost;
        if let Some(ms) = duration {
            duration_sum += *ms as f64;
            durations += 1;
        }
    }
    let average = (durations > 0).then(|| duration_sum / durations as f64);
    json!({ "totalEvents": total, "eventCounts": counts, "totalCost": cost, "avgDurationMs": average })
}

fn assert_close(actual: &Value, expected: &Value, case: &str) {
    match (actual.as_f64(), expected.as_f64()) {
        (Some(a), Some(e)) => assert!((a - e).abs() < 1e-9, "{case}: {a} != {e}"),
        _ => assert_eq!(actual, expected, "{case}"),
    }
}

/// `minutes` after 2026-11-28T08:00:00Z, RFC 3339.
fn at(minutes: i64) -> String {
    let start = chrono::DateTime::parse_from_rfc3339("2026-11-28T08:00:00Z").expect("valid");
    (start + chrono::Duration::minutes(minutes))
        .to_utc()
        .to_rfc3339()
}

/// Signed events with absurd but finite numbers are stored (never refused for their content),
/// and neither their delivery nor `/stats` fails on sums that would overflow.
async fn huge_costs_are_stored_but_never_break_the_totals(db: TestDb) {
    let app = App::start(&db).await;
    for minute in 0..6 {
        let data = json!({ "cost": 1e308, "durationMs": 1e308 });
        let event = json!({ "id": new_id(), "type": "agent:complete", "timestamp": at(minute), "data": data });
        let (status, answer) = app.deliver(&event).await;
        assert_eq!(status, 200, "delivery {minute}: {answer}");
    }
    let normal = json!({ "id": new_id(), "type": "agent:complete", "timestamp": at(7), "data": { "cost": 0.5 } });
    assert_eq!(app.deliver(&normal).await.0, 200);
    let stats = app.get_json("/stats").await;
    assert_eq!(stats["totalEvents"], 7, "{stats}");
    assert_eq!(
        stats["totalCost"], 0.5,
        "implausible costs are not counted: {stats}"
    );
    assert_eq!(stats["avgDurationMs"], Value::Null, "{stats}");
}
