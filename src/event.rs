//! The event model: turning a verified delivery body into a `NewEvent` (validation, with messages
//! that name the field), and rendering a stored body back into the JSON the query API answers.
//! The raw body is kept byte for byte; everything else here is derived from it.

use bytes::Bytes;
use chrono::{DateTime, Datelike, SecondsFormat, Utc};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Longest accepted event id, in bytes.
pub const MAX_ID_BYTES: usize = 256;
/// Longest accepted event type, in characters.
pub const MAX_TYPE_CHARS: usize = 128;

/// Largest `data.cost` / `data.durationMs` (in absolute value) that statistics count. The event is
/// stored whatever it holds; beyond this bound (a cost of a million billion, a duration of 30 000
/// years) a value is not a measurement, and sums of such values would overflow.
pub const MAX_STATS_NUMBER: f64 = 1e15;

/// The event types Dash documents. Other types are stored too.
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

/// A delivery that failed validation; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidEvent(pub String);

/// A validated event, ready to insert.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Dash's event id, the primary key.
    pub id: String,
    /// The event type, e.g. `agent:complete`.
    pub event_type: String,
    /// The event's own time, in microseconds since the Unix epoch.
    pub timestamp_us: i64,
    /// SHA-256 over the fields that decide "same content" for a redelivery.
    pub content_hash: Vec<u8>,
    /// `data.cost` when it is a number within `MAX_STATS_NUMBER`.
    pub cost: Option<f64>,
    /// `data.durationMs` when it is a number within `MAX_STATS_NUMBER`.
    pub duration_ms: Option<f64>,
    /// The exact bytes Dash signed.
    pub body: Bytes,
    /// The HMAC that verified the delivery (set by the receiver once it has checked it).
    pub signature: Option<[u8; crate::signature::DIGEST_LEN]>,
    /// The fields the audit filters and group totals index.
    pub audit: AuditFields,
}

/// Validates a delivery body whose signature has already been verified.
pub fn parse_delivery(body: Bytes) -> Result<NewEvent, InvalidEvent> {
    let (object, lone_surrogates) = match lenient::parse::<Value>(&body) {
        Ok((Value::Object(object), units)) => (object, units),
        Ok(_) => return Err(invalid("body must be a JSON object")),
        Err(err) => return Err(invalid(format!("body is not valid JSON: {err}"))),
    };
    let id = required_str(&object, "id")?;
    check_id(id)?;
    let event_type = required_str(&object, "type")?;
    check_type(event_type)?;
    let timestamp = parse_timestamp(required_str(&object, "timestamp")?)
        .ok_or_else(|| invalid("\"timestamp\" must be an RFC 3339 time with a time zone"))?;
    let data = match object.get("data") {
        Some(Value::Object(data)) => data,
        Some(_) => return Err(invalid("\"data\" must be a JSON object")),
        None => return Err(invalid("\"data\" is required")),
    };
    let webhook_id = optional_str(&object, "webhookId")?;
    let instance_id = optional_str(&object, "instanceId")?;
    let content_hash = content_hash(
        event_type,
        &timestamp,
        data,
        webhook_id,
        instance_id,
        &lone_surrogates,
    );
    Ok(NewEvent {
        id: id.to_owned(),
        event_type: event_type.to_owned(),
        timestamp_us: timestamp.timestamp_micros(),
        content_hash,
        cost: finite_number(data, "cost"),
        duration_ms: finite_number(data, "durationMs"),
        audit: AuditFields::of(&object),
        body,
        signature: None,
    })
}

/// Parses an RFC 3339 time that carries a zone (`Z` or an offset), as UTC.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Formats a time the way every answer does: UTC, RFC 3339, `Z`, only the digits it needs.
pub fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Formats microseconds since the epoch as `format_time` does.
pub fn format_micros(micros: i64) -> String {
    DateTime::from_timestamp_micros(micros)
        .map(format_time)
        .unwrap_or_default()
}

/// Renders a stored body as the event the query API returns: the fields as received, the
/// timestamp in UTC, `webhookId`/`instanceId` present (null when absent), plus `receivedAt`.
pub fn render_event(body: &[u8], received_at_us: i64) -> Result<Value, serde_json::Error> {
    let mut object: Map<String, Value> = lenient::from_slice(body)?;
    // An instant whose UTC year leaves 0000–9999 (reachable with an offset) has no RFC 3339 form
    // in UTC: it is answered as it was sent.
    if let Some(time) = object
        .get("timestamp")
        .and_then(Value::as_str)
        .and_then(parse_timestamp)
        .filter(|time| (0..=9999).contains(&time.year()))
    {
        object.insert("timestamp".into(), Value::String(format_time(time)));
    }
    for key in ["webhookId", "instanceId"] {
        object.entry(key).or_insert(Value::Null);
    }
    object.insert(
        "receivedAt".into(),
        Value::String(format_micros(received_at_us)),
    );
    Ok(Value::Object(object))
}

fn check_id(id: &str) -> Result<(), InvalidEvent> {
    if id.is_empty() || id.len() > MAX_ID_BYTES {
        return Err(invalid(format!(
            "\"id\" must be 1 to {MAX_ID_BYTES} bytes long"
        )));
    }
    if id.chars().any(char::is_control) {
        return Err(invalid("\"id\" must not contain control characters"));
    }
    Ok(())
}

fn check_type(event_type: &str) -> Result<(), InvalidEvent> {
    let chars = event_type.chars().count();
    if chars == 0 || chars > MAX_TYPE_CHARS {
        return Err(invalid(format!(
            "\"type\" must be 1 to {MAX_TYPE_CHARS} characters long"
        )));
    }
    Ok(())
}

fn required_str<'a>(object: &'a Map<String, Value>, field: &str) -> Result<&'a str, InvalidEvent> {
    match object.get(field) {
        Some(Value::String(value)) => Ok(value),
        Some(_) => Err(invalid(format!("\"{field}\" must be a string"))),
        None => Err(invalid(format!("\"{field}\" is required"))),
    }
}

fn optional_str<'a>(
    object: &'a Map<String, Value>,
    field: &str,
) -> Result<Option<&'a str>, InvalidEvent> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value)),
        Some(_) => Err(invalid(format!("\"{field}\" must be a string or null"))),
    }
}

/// Hashes the fields the contract compares for "same content". A JSON array frames them
/// unambiguously, and `data` serialises with sorted keys, so key order does not matter. Lone
/// surrogates were read as U+FFFD, so the units they stood for are added when there are any.
fn content_hash(
    event_type: &str,
    timestamp: &DateTime<Utc>,
    data: &Map<String, Value>,
    webhook_id: Option<&str>,
    instance_id: Option<&str>,
    lone_surrogates: &[u16],
) -> Vec<u8> {
    let instant = timestamp.to_rfc3339_opts(SecondsFormat::Nanos, true);
    let mut canonical = serde_json::json!([event_type, instant, data, webhook_id, instance_id]);
    if let (Value::Array(fields), false) = (&mut canonical, lone_surrogates.is_empty()) {
        fields.push(serde_json::json!(lone_surrogates));
    }
    Sha256::digest(canonical.to_string().as_bytes()).to_vec()
}

fn invalid(message: impl Into<String>) -> InvalidEvent {
    InvalidEvent(message.into())
}

mod audit;
mod lenient;

pub use audit::AuditFields;
use audit::finite_number;

#[cfg(test)]
mod tests;
