//! `/stats/timeline` sums whole hours from maintained hourly totals and reads only the partial
//! hours at the ends of its range from the events. Whatever happened to the log — duplicates
//! and conflicts, batches spread over several shards, prunes that empty some hours and cut
//! others in two — and whatever the range (aligned or not, inside one hour, empty, around 1970,
//! filtered by type), the answer must equal the count computed here from the events the log
//! holds. The statements run for an hour-aligned range read the totals only.

use std::collections::{BTreeMap, HashSet};

use bytes::Bytes;
use chrono::DateTime;
use dash_events::event::{NewEvent, parse_delivery};
use dash_events::store::{Durability, SearchIndex, Store};
use dash_events::timeline::{Plan, Width};
use futures::future::join_all;
use serde_json::{Value, json};

use crate::backend::TestDb;
use crate::helpers::new_id;
use crate::support::app::App;

both_backends!(
    ranges_not_aligned_to_hours_equal_the_exact_count,
    duplicates_and_conflicts_do_not_change_the_timeline,
    after_a_prune_the_timeline_equals_a_fresh_count,
    an_hour_aligned_range_is_read_from_the_hourly_totals_only,
);

pub(crate) const HOUR_US: i64 = 3_600_000_000;
/// 2026-11-27T22:00:00Z, µs.
pub(crate) const START_US: i64 = 1_795_816_800_000_000;

/// An event as sent: type, timestamp (µs), its numeric cost if any.
pub(crate) type Sent = (String, i64, Option<f64>);

/// A query of the timeline: `[since, until)` in µs, bucket width, type filter.
pub(crate) struct Window<'a>(pub i64, pub i64, pub Width, pub &'a [&'a str]);

/// (counts per type, cost) per bucket of `window`, counted from `held` (the events in the log).
fn expected(held: &[Sent], window: &Window) -> Vec<(BTreeMap<String, i64>, f64)> {
    let Window(since, until, width, types) = *window;
    let step = width.micros();
    let origin = since - since.rem_euclid(step);
    let count = if until > since {
        (until - origin + step - 1) / step
    } else {
        0
    };
    let mut buckets = vec![(BTreeMap::new(), 0.0); count as usize];
    for (event_type, at, cost) in held {
        if *at < since || *at >= until || !(types.is_empty() || types.contains(&&**event_type)) {
            continue;
        }
        let bucket = &mut buckets[((at - origin) / step) as usize];
        *bucket.0.entry(event_type.clone()).or_insert(0) += 1;
        bucket.1 += cost.unwrap_or(0.0);
    }
    buckets
}

/// Asks for `window` and checks every bucket against the count of `held`.
pub(crate) async fn assert_timeline(app: &App, held: &[Sent], window: Window<'_>) {
    let Window(since, until, width, types) = window;
    let (since_text, until_text) = (rfc3339(since), rfc3339(until));
    let filter = types.join(",");
    let mut query = vec![
        ("since", since_text.as_str()),
        ("until", until_text.as_str()),
        ("bucket", width.as_str()),
    ];
    if !types.is_empty() {
        query.push(("type", filter.as_str()));
    }
    let (status, timeline) = app.get_query("/stats/timeline", &query).await;
    assert_eq!(status, 200, "{query:?}: {timeline}");
    let answered = timeline["buckets"].as_array().expect("buckets");
    let expected = expected(held, &window);
    assert_eq!(answered.len(), expected.len(), "{query:?}: {timeline}");
    for (n, (bucket, (counts, cost))) in answered.iter().zip(&expected).enumerate() {
        assert_eq!(bucket["counts"], json!(counts), "{query:?}, bucket {n}");
        let answered_cost = bucket["cost"].as_f64().expect("cost");
        assert!(
            (answered_cost - cost).abs() < 1e-6,
            "{query:?}, bucket {n}: cost {answered_cost} != {cost}"
        );
    }
}

fn rfc3339(micros: i64) -> String {
    DateTime::from_timestamp_micros(micros)
        .expect("in range")
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// A signed-able event body for `sent`, with `id`.
pub(crate) fn body(id: &str, (event_type, at, cost): &Sent) -> Value {
    let mut data = json!({ "agentId": "agent-1" });
    if let Some(cost) = cost {
        data["cost"] = json!(cost);
    }
    json!({ "id": id, "type": event_type, "timestamp": rfc3339(*at), "data": data })
}

/// Events over three days around `START_US` at odd instants (also on hour boundaries and just
/// before them), with missing costs, plus a few around 1970-01-01T00:00Z.
pub(crate) fn scattered() -> Vec<Sent> {
    let types = ["agent:complete", "agent:error", "budget:warning"];
    let mut sent = Vec::new();
    for n in 0..90_i64 {
        let at = START_US + n * 2_417_000_123 % (72 * HOUR_US) - (n % 5) * HOUR_US;
        let cost = (n % 4 != 0).then_some(n as f64 / 64.0);
        sent.push((types[(n % 3) as usize].to_owned(), at, cost));
    }
    for at in [START_US, START_US + HOUR_US - 1, START_US + 5 * HOUR_US] {
        sent.push(("agent:complete".to_owned(), at, Some(1.0)));
    }
    for at in [-HOUR_US - 1, -HOUR_US, -1, 0, 1, HOUR_US + 7] {
        sent.push(("swarm:start".to_owned(), at, Some(0.5)));
    }
    sent
}

async fn ranges_not_aligned_to_hours_equal_the_exact_count(db: TestDb) {
    let app = App::start(&db).await;
    let sent = scattered();
    for event in &sent {
        app.store(&body(&new_id(), event)).await;
    }
    let (h, s, all, one): (i64, i64, &[&str], &[&str]) =
        (HOUR_US, START_US, &[], &["agent:error", "swarm:start"]);
    let windows = [
        Window(s - h / 2, s + 6 * h + 600_000_001, Width::Hour, all),
        Window(s, s + 24 * h, Width::Hour, all),
        Window(s + 1, s + 24 * h - 1, Width::Hour, one),
        Window(s + 10, s + h - 10, Width::Hour, all),
        Window(s + h - 1, s + h + 1, Width::Hour, all),
        Window(s + 7, s + 7, Width::Hour, all),
        Window(s + 7, s - 7, Width::Day, all),
        Window(s - 3 * h - 5, s + 80 * h + 5, Width::Day, all),
        Window(s - 26 * h, s + 90 * h, Width::Day, one),
        Window(-2 * h - 3, 2 * h + 3, Width::Hour, all),
        Window(-h, h, Width::Hour, one),
        Window(-h + 1, 3 * h, Width::Day, all),
    ];
    for window in windows {
        assert_timeline(&app, &sent, window).await;
    }
}

async fn duplicates_and_conflicts_do_not_change_the_timeline(db: TestDb) {
    let app = App::start(&db).await;
    let sent = scattered();
    let bodies: Vec<Value> = sent.iter().map(|event| body(&new_id(), event)).collect();
    // Each event three times at once (so copies may share a batch), then once more.
    let racing = bodies
        .iter()
        .flat_map(|b| [b, b, b])
        .map(|b| app.deliver(b));
    for (status, answer) in join_all(racing).await {
        assert_eq!(status, 200, "{answer}");
    }
    for body in &bodies {
        let (status, answer) = app.deliver(body).await;
        assert_eq!(
            (status, &answer["duplicate"]),
            (200, &json!(true)),
            "{answer}"
        );
        let mut other = body.clone();
        other["data"]["cost"] = json!(1000.0);
        assert_eq!(app.deliver(&other).await.0, 409, "a conflict is not stored");
    }
    let (h, s) = (HOUR_US, START_US);
    assert_timeline(&app, &sent, Window(s - 5 * h, s + 72 * h, Width::Hour, &[])).await;
    assert_timeline(
        &app,
        &sent,
        Window(s - 5 * h + 9, s + 72 * h, Width::Day, &[]),
    )
    .await;
    assert_timeline(&app, &sent, Window(-2 * h, 2 * h + 1, Width::Hour, &[])).await;
}

async fn after_a_prune_the_timeline_equals_a_fresh_count(db: TestDb) {
    let sent = dense();
    store_in_shards(&db, &sent).await;
    // Mid-hour: the hour of the cutoff loses some events and keeps others.
    let cutoff = START_US + 30 * HOUR_US + HOUR_US / 3;
    let store = Store::connect(db.url(), Durability::Normal)
        .await
        .expect("connect");
    let pruned = store.prune_older_than(cutoff).await.expect("prune");
    store.close().await;
    let held: Vec<Sent> = sent.into_iter().filter(|e| e.1 >= cutoff).collect();
    assert_eq!(pruned as usize, 3000 - held.len());
    assert_eq!(db.count_events().await as usize, held.len());

    let app = App::start(&db).await;
    let (h, s) = (HOUR_US, START_US);
    for window in [
        Window(s - 2 * h, s + 50 * h, Width::Hour, &[]),
        Window(
            s + 29 * h + 1,
            s + 31 * h + 1,
            Width::Hour,
            &["agent:error"],
        ),
        Window(s - 24 * h, s + 70 * h, Width::Day, &[]),
    ] {
        assert_timeline(&app, &held, window).await;
    }
}

/// 3000 events over 48 hours from `START_US`, three types, some hours of one type only.
fn dense() -> Vec<Sent> {
    let types = ["agent:complete", "agent:error", "budget:warning"];
    (0..3000_i64)
        .map(|n| {
            let at = START_US + n * 57_600_000 + n % 1000;
            let event_type = types[((n / 7) % 3) as usize];
            (event_type.to_owned(), at, (n % 5 != 0).then_some(0.125))
        })
        .collect()
}

/// Stores `sent` through the store's batch insert, 100 events per batch, each batch in one of
/// four shards (as concurrent writers would), so a prune's subtraction in shard 0 meets rows
/// of other shards.
async fn store_in_shards(db: &TestDb, sent: &[Sent]) {
    let store = Store::connect(db.url(), Durability::Normal)
        .await
        .expect("connect");
    let events: Vec<NewEvent> = sent
        .iter()
        .map(|e| {
            let bytes = serde_json::to_vec(&body(&new_id(), e)).expect("serialize");
            parse_delivery(Bytes::from(bytes)).expect("a valid event")
        })
        .collect();
    for (n, chunk) in events.chunks(100).enumerate() {
        let rows: Vec<(&NewEvent, i64)> = chunk.iter().map(|e| (e, 0)).collect();
        store
            .insert_batch(&rows, n as i32 % 4, &HashSet::new(), &[], SearchIndex::Off)
            .await
            .expect("insert a batch");
    }
    store.close().await;
}

async fn an_hour_aligned_range_is_read_from_the_hourly_totals_only(db: TestDb) {
    store_in_shards(&db, &dense()[..200]).await;
    let store = Store::connect(db.url(), Durability::Normal)
        .await
        .expect("connect");
    let types = store.known_types().await.expect("types");
    let range = |since_us, until_us| dash_events::query::TimeRange { since_us, until_us };
    let aligned = Plan::new(Width::Day, range(START_US, START_US + 30 * HOUR_US)).unwrap();
    let plan = store
        .timeline_plan(&types, &aligned)
        .await
        .expect("explain");
    let plan = plan.join("\n");
    assert!(plan.contains("event_hours"), "{plan}");
    for events in [
        "events_by_type_time",
        "on events",
        "SCAN events",
        "SEARCH events",
    ] {
        assert!(!plan.contains(events), "the events are read:\n{plan}");
    }
    let unaligned = Plan::new(
        Width::Hour,
        range(START_US + 1, START_US + 30 * HOUR_US + 1),
    );
    let plan = store
        .timeline_plan(&types, &unaligned.unwrap())
        .await
        .expect("explain")
        .join("\n");
    assert!(
        plan.contains("event_hours") && plan.contains("events"),
        "{plan}"
    );
    store.close().await;
}
