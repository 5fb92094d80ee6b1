//! Storing many events fast: behind the server's back, but through the store's own batch insert,
//! so the daily totals and the list of types are kept as the service keeps them. For tests that
//! need tens of thousands of events (or events older than a retention window), where one HTTP
//! delivery each would be slow or refused. `store_signed_events` also keeps the signature a
//! verified delivery leaves, so that `dash-events verify` has something to check.

use std::collections::HashSet;

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use dash_events::event::{NewEvent, parse_delivery};
use dash_events::store::{Durability, SearchIndex, Store};
use serde_json::{Value, json};

use crate::backend::TestDb;
use crate::helpers::sign;
use crate::support::http::SECRET;

/// Events per transaction.
const BATCH: usize = 1000;

/// Stores `events` (bodies as Dash sends them) in `db`, all as new; panics otherwise.
pub async fn store_events(db: &TestDb, events: &[Value]) {
    insert_all(db, events, false).await;
}

/// `store_events`, each event with the signature of its body under `SECRET`, as the service
/// keeps it for a delivery it verified.
pub async fn store_signed_events(db: &TestDb, events: &[Value]) {
    insert_all(db, events, true).await;
}

async fn insert_all(db: &TestDb, events: &[Value], signed: bool) {
    let store = Store::connect(db.url(), Durability::Normal)
        .await
        .unwrap_or_else(|err| panic!("connect to {}: {err}", db.url()));
    let received_us = Utc::now().timestamp_micros();
    for chunk in events.chunks(BATCH) {
        let parsed: Vec<NewEvent> = chunk
            .iter()
            .map(|event| {
                let body = Bytes::from(serde_json::to_vec(event).expect("serialize"));
                let signature = signed.then(|| digest(&body));
                let parsed = parse_delivery(body);
                let parsed = parsed.unwrap_or_else(|err| panic!("invalid {event}: {err}"));
                NewEvent {
                    signature,
                    ..parsed
                }
            })
            .collect();
        let rows: Vec<(&NewEvent, i64)> = parsed.iter().map(|e| (e, received_us)).collect();
        let outcomes = store
            .insert_batch(&rows, 0, &HashSet::new(), &[], SearchIndex::Off)
            .await
            .expect("insert a batch");
        assert!(
            outcomes.iter().all(|o| o.as_str() == "stored"),
            "some events of the batch were already stored"
        );
    }
    store.close().await;
}

/// The raw HMAC of `body` under `SECRET`, as stored beside it.
fn digest(body: &[u8]) -> [u8; 32] {
    let header = sign(SECRET, body);
    let hex = header.strip_prefix("sha256=").expect("a sha256= header");
    hex::decode(hex).expect("hex").try_into().expect("32 bytes")
}

/// An event of `event_type` at `at`, with `cost` and a `padding` string of `pad` bytes in `data`.
pub fn event_at_time(
    id: &str,
    event_type: &str,
    at: DateTime<Utc>,
    cost: f64,
    pad: usize,
) -> Value {
    json!({
        "id": id,
        "type": event_type,
        "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "data": { "agentId": "agent-7", "durationMs": 1000, "cost": cost, "padding": "x".repeat(pad) },
        "webhookId": "wh_fill",
        "instanceId": "inst_fill"
    })
}

/// `now` minus a number of days and hours.
pub fn days_ago(now: DateTime<Utc>, days: i64, hours: i64) -> DateTime<Utc> {
    now - Duration::days(days) - Duration::hours(hours)
}
