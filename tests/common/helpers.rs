//! Small shared pieces: Dash's signature scheme computed independently of the implementation,
//! sample events, and assertions about error answers (`{"error": "…"}` naming what is wrong).

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use reqwest::Response;
use serde_json::{Value, json};
use sha2::Sha256;

/// The `X-Dash-Signature` value for `body` under `secret`: `sha256=` + lowercase hex HMAC-SHA256.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The event types the contract lists, copied from it rather than imported from the
/// implementation, so the tests hold the code to the contract.
pub const DOCUMENTED_TYPES: [&str; 12] = [
    "agent:start",
    "agent:complete",
    "agent:error",
    "swarm:start",
    "swarm:complete",
    "swarm:progress",
    "workflow:start",
    "workflow:complete",
    "workflow:step:complete",
    "budget:warning",
    "budget:exceeded",
    "safety:block",
];

/// Query parameters as written in a test table.
pub type Query<'a> = &'a [(&'a str, &'a str)];

/// A fresh event id, unique across tests and runs.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A complete `agent:complete` event as Dash sends it.
pub fn event(id: &str) -> Value {
    event_at(id, "agent:complete", "2026-11-28T10:00:00.000Z")
}

/// An event with the given id, type and timestamp, and Dash-like data.
pub fn event_at(id: &str, event_type: &str, timestamp: &str) -> Value {
    json!({
        "id": id,
        "type": event_type,
        "timestamp": timestamp,
        "data": { "agentId": "agent-123", "result": "done", "durationMs": 5000, "cost": 0.05 },
        "webhookId": "wh_1",
        "instanceId": "inst_1"
    })
}

/// The answer's status and JSON body (`Value::Null` with the raw text when it is not JSON).
pub async fn status_and_json(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| json!({ "<not json>": text }));
    (status, body)
}

/// Asserts an error answer: the status, a JSON body `{"error": "<text>"}`, and, when given, that
/// the text names `word` (as a whole word, e.g. the field or parameter at fault).
pub fn assert_error(case: &str, status: u16, body: &Value, expected: u16, word: Option<&str>) {
    assert_eq!(
        status, expected,
        "{case}: expected {expected}, got {status}: {body}"
    );
    let Some(message) = body.get("error").and_then(Value::as_str) else {
        panic!("{case}: the {status} body is not {{\"error\": \"…\"}}: {body}");
    };
    if let Some(word) = word {
        assert!(
            mentions(message, word),
            "{case}: the error {message:?} does not name `{word}`"
        );
    }
}

/// Whether `text` contains `word` not glued to other letters or digits (`id` is not in `invalid`).
pub fn mentions(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        let glued = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !glued(before) && !glued(after)
    })
}

/// Percent-encodes everything but RFC 3986's unreserved characters, for one path segment.
pub fn encode_segment(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes; answers whether it held.
pub async fn eventually<F, Fut>(timeout: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if condition().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The ids of a `GET /events` answer, in order.
pub fn ids_of(page: &Value) -> Vec<String> {
    page["events"]
        .as_array()
        .unwrap_or_else(|| panic!("no `events` array in {page}"))
        .iter()
        .map(|event| {
            event["id"]
                .as_str()
                .expect("event id is a string")
                .to_owned()
        })
        .collect()
}

/// Parses an RFC 3339 string value into an instant, panicking with the value otherwise.
pub fn instant(value: &Value) -> DateTime<Utc> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is not a string"));
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|err| panic!("{text} is not RFC 3339: {err}"))
        .with_timezone(&Utc)
}
