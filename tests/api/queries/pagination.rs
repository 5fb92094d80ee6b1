//! Following `nextCursor` until it is `null` yields every matching event exactly once: across
//! equal timestamps, with filters, and while new events — newer and older than the page boundary —
//! keep arriving between pages.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use crate::backend::TestDb;
use crate::helpers::{event_at, ids_of, instant};
use crate::support::app::App;

/// More pages than any test here can produce; a cursor that never ends fails instead of looping.
const MAX_PAGES: usize = 500;

both_backends!(
    following_next_cursor_yields_every_event_once_in_order,
    pages_split_equal_timestamps_without_loss_or_repeat,
    pages_keep_the_type_and_time_filters,
    pagination_yields_every_event_once_while_new_events_arrive,
);

fn at(base: DateTime<Utc>, minutes: i64) -> String {
    (base + Duration::minutes(minutes)).to_rfc3339()
}

fn base() -> DateTime<Utc> {
    "2026-11-28T10:00:00Z".parse().unwrap()
}

/// Fetches one page of `/events` with `query`, `limit` and the cursor, if any.
async fn page(app: &App, query: &[(&str, &str)], limit: usize, cursor: Option<&str>) -> Value {
    let limit = limit.to_string();
    let mut params = query.to_vec();
    params.push(("limit", &limit));
    params.extend(cursor.map(|c| ("cursor", c)));
    let (status, body) = app.get_query("/events", &params).await;
    assert_eq!(status, 200, "GET /events {params:?}: {body}");
    body
}

/// Follows the cursor from the first page to the end, answering every event in order.
async fn walk(app: &App, query: &[(&str, &str)], limit: usize) -> Vec<Value> {
    let mut events = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let body = page(app, query, limit, cursor.as_deref()).await;
        events.extend(body["events"].as_array().unwrap().iter().cloned());
        match body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return events,
        }
    }
    panic!("nextCursor still not null after {MAX_PAGES} pages");
}

fn ids(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn following_next_cursor_yields_every_event_once_in_order(db: TestDb) {
    let app = App::start(&db).await;
    for n in 0..25 {
        // Every five events share a timestamp, so page boundaries fall inside ties too.
        app.store(&event_at(
            &format!("e{n:02}"),
            "agent:start",
            &at(base(), n / 5),
        ))
        .await;
    }
    let everything = ids_of(&page(&app, &[], 1000, None).await);

    for limit in [1, 4, 5, 7, 24, 25, 26] {
        let walked = ids(&walk(&app, &[], limit).await);
        assert_eq!(walked, everything, "limit {limit}");
    }
}

async fn pages_split_equal_timestamps_without_loss_or_repeat(db: TestDb) {
    let app = App::start(&db).await;
    for id in ["m", "c", "x", "a", "q", "b", "z"] {
        app.store(&event_at(id, "agent:start", "2026-11-28T10:00:00Z"))
            .await;
    }

    for limit in [1, 2, 3] {
        let mut walked = ids(&walk(&app, &[], limit).await);
        assert_eq!(walked.len(), 7, "limit {limit}: {walked:?}");
        walked.sort_unstable();
        assert_eq!(walked, ["a", "b", "c", "m", "q", "x", "z"], "limit {limit}");
    }
}

async fn pages_keep_the_type_and_time_filters(db: TestDb) {
    let app = App::start(&db).await;
    for n in 0..20 {
        let event_type = if n % 2 == 0 {
            "agent:error"
        } else {
            "agent:complete"
        };
        app.store(&event_at(&format!("e{n:02}"), event_type, &at(base(), n)))
            .await;
    }
    let since = at(base(), 4);
    let until = at(base(), 16);
    let query = [
        ("type", "agent:error"),
        ("since", since.as_str()),
        ("until", until.as_str()),
    ];

    let walked = ids(&walk(&app, &query, 2).await);

    assert_eq!(walked, ["e14", "e12", "e10", "e08", "e06", "e04"]);
}

async fn pagination_yields_every_event_once_while_new_events_arrive(db: TestDb) {
    let app = App::start(&db).await;
    let mut originals = HashSet::new();
    for n in 0..30 {
        let id = format!("orig-{n:02}");
        app.store(&event_at(&id, "agent:start", &at(base(), n)))
            .await;
        originals.insert(id);
    }
    let mut seen: Vec<Value> = Vec::new();
    let mut older_arrivals = HashSet::new();
    let mut cursor: Option<String> = None;

    for round in 0..MAX_PAGES as i64 {
        let body = page(&app, &[], 7, cursor.as_deref()).await;
        seen.extend(body["events"].as_array().unwrap().iter().cloned());
        let Some(next) = body["nextCursor"].as_str() else {
            break;
        };
        assert!(
            round < 40,
            "pagination does not end while events keep arriving"
        );
        cursor = Some(next.to_owned());
        // Between pages: one event newer than everything, one older than everything.
        let newer = format!("newer-{round:03}");
        app.store(&event_at(
            &newer,
            "agent:start",
            &at(base(), 10_000 + round),
        ))
        .await;
        let older = format!("older-{round:03}");
        app.store(&event_at(
            &older,
            "agent:start",
            &at(base(), -10_000 - round),
        ))
        .await;
        older_arrivals.insert(older);
    }

    let walked = ids(&seen);
    let unique: HashSet<&String> = walked.iter().collect();
    assert_eq!(
        unique.len(),
        walked.len(),
        "an event came twice: {walked:?}"
    );
    for id in originals.iter().chain(&older_arrivals) {
        assert!(unique.contains(id), "{id} was never returned: {walked:?}");
    }
    let times: Vec<_> = seen.iter().map(|e| instant(&e["timestamp"])).collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "out of order: {walked:?}"
    );
}
