//! Black-box properties of a server spoken to over HTTP (`server`): signed bodies and query
//! strings never get a 5xx, and pages never skip or repeat while events arrive.

use chrono::DateTime;
use dash_events::event::parse_timestamp;
use proptest::collection::btree_map;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};

use crate::config;
use crate::server::Server;
use crate::strategies::{any_body, query_string};

/// Any body, validly signed, gets 200, 400 or 409 (a reused id); any query string 200 or 400.
#[test]
fn signed_bodies_and_query_strings_never_get_a_5xx() {
    let server = Server::start("no-5xx");
    let mut runner = TestRunner::new(config(48));
    let result = runner.run(&(any_body(), query_string()), |(body, query)| {
        let (status, answer) = server.deliver(&body);
        prop_assert!(matches!(status, 200 | 400 | 409), "{} {}", status, answer);
        let (status, answer) = server.get("/events", &query);
        prop_assert!(
            matches!(status, 200 | 400),
            "{} {} for {:?}",
            status,
            answer,
            query
        );
        Ok(())
    });
    result.unwrap();
}

/// The first second of the paging events; each falls in one of the 5 seconds after it, so many
/// share a timestamp and are ordered by id.
const PAGE_BASE_SECONDS: i64 = 1_795_860_000;

/// Events of one case as `(timestamp µs, id)`: distinct ids, each starting with `prefix`.
fn page_events(prefix: &'static str) -> impl Strategy<Value = Vec<(i64, String)>> {
    let events = btree_map("[a-zA-Z0-9:é_-]{1,6}", 0i64..5, 1..30);
    events.prop_map(move |events| {
        let key = |(id, s)| ((PAGE_BASE_SECONDS + s) * 1_000_000, format!("{prefix}{id}"));
        events.into_iter().map(key).collect()
    })
}

/// Delivers `(timestamp µs, id)` as an event of `event_type`; answers the status.
fn post_page_event(server: &Server, event_type: &str, (micros, id): &(i64, String)) -> u16 {
    let at = DateTime::from_timestamp_micros(*micros).expect("in range");
    let body = json!({"id": id, "type": event_type, "timestamp": at.to_rfc3339(), "data": {}});
    server.deliver(body.to_string().as_bytes()).0
}

/// The `(timestamp µs, id)` of each event of a `GET /events` answer, in order.
fn page_keys(page: &Value) -> Vec<(i64, String)> {
    let events = page["events"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let key = |event: &Value| {
        let at = parse_timestamp(event["timestamp"].as_str()?)?;
        Some((at.timestamp_micros(), event["id"].as_str()?.to_owned()))
    };
    events
        .iter()
        .map(|e| key(e).expect("an event with id and timestamp"))
        .collect()
}

/// Following `nextCursor` returns every event stored before the first page exactly once, newest
/// first; of the events that arrive between pages, exactly those behind the cursor follow.
#[test]
fn pages_never_skip_or_repeat_while_events_arrive() {
    let server = Server::start("pages");
    let mut runner = TestRunner::new(config(16));
    let case = std::cell::Cell::new(0);
    let strategy = (page_events("old-"), page_events("new-"), 1u32..8);
    let result = runner.run(&strategy, |(stored, arriving, limit)| {
        // Each case has its own type (and ids), so cases share the server without interfering.
        case.set(case.get() + 1);
        let event_type = format!("paging-{}", case.get());
        let with_case = |(micros, id): (i64, String)| (micros, format!("{}-{id}", case.get()));
        let mut expected: Vec<_> = stored.into_iter().map(with_case).collect();
        for event in &expected {
            prop_assert_eq!(post_page_event(&server, &event_type, event), 200);
        }
        let (mut seen, mut arriving) = (vec![], arriving.into_iter().map(with_case));
        let mut query = format!("type={event_type}&limit={limit}");
        loop {
            let (status, page) = server.get("/events", &query);
            prop_assert_eq!(status, 200, "{}", page);
            seen.extend(page_keys(&page));
            let Some(cursor) = page["nextCursor"].as_str() else {
                break;
            };
            // An event arriving now is returned later if and only if it sorts behind the cursor.
            if let Some(event) = arriving.next() {
                prop_assert_eq!(post_page_event(&server, &event_type, &event), 200);
                let last = seen.last().expect("a page with a cursor is not empty");
                expected.extend(Some(event).filter(|event| event < last));
            }
            query = format!("type={event_type}&limit={limit}&cursor={cursor}");
        }
        expected.sort_by(|a, b| b.cmp(a));
        prop_assert_eq!(seen, expected);
        Ok(())
    });
    result.unwrap();
}
