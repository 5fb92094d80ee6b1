//! Unit tests for delivery validation and rendering.

use super::*;
use serde_json::json;

fn body(value: Value) -> Bytes {
    Bytes::from(value.to_string())
}

fn valid() -> Value {
    json!({
        "id": "evt-1", "type": "agent:complete", "timestamp": "2026-11-28T10:00:00.000Z",
        "data": {"agentId": "a", "durationMs": 5000, "cost": 0.05},
        "webhookId": "wh_1", "instanceId": "inst_1"
    })
}

fn with(field: &str, value: Value) -> Bytes {
    let mut event = valid();
    event[field] = value;
    body(event)
}

fn without(field: &str) -> Bytes {
    let mut event = valid();
    event.as_object_mut().unwrap().remove(field);
    body(event)
}

#[test]
fn valid_delivery_is_parsed() {
    let event = parse_delivery(body(valid())).expect("valid");
    assert_eq!(event.id, "evt-1");
    assert_eq!(event.event_type, "agent:complete");
    assert_eq!(event.timestamp_us, 1_795_860_000_000_000);
    assert_eq!(event.cost, Some(0.05));
    assert_eq!(event.duration_ms, Some(5000.0));
}

#[test]
fn invalid_deliveries_name_the_field() {
    let long_type = "t".repeat(MAX_TYPE_CHARS + 1);
    let cases: Vec<(Bytes, &str, &str)> = vec![
        (Bytes::from_static(b"not json"), "valid JSON", "garbage"),
        (Bytes::from_static(b"[1,2]"), "JSON object", "array"),
        (without("id"), "\"id\"", "missing id"),
        (with("id", json!(7)), "\"id\"", "numeric id"),
        (with("id", json!("")), "\"id\"", "empty id"),
        (
            with("id", json!("x".repeat(MAX_ID_BYTES + 1))),
            "\"id\"",
            "long id",
        ),
        (with("id", json!("a\nb")), "\"id\"", "control char in id"),
        (without("type"), "\"type\"", "missing type"),
        (with("type", json!("")), "\"type\"", "empty type"),
        (with("type", json!(long_type)), "\"type\"", "long type"),
        (without("timestamp"), "\"timestamp\"", "missing timestamp"),
        (
            with("timestamp", json!("2026-11-28T10:00:00")),
            "\"timestamp\"",
            "no zone",
        ),
        (
            with("timestamp", json!("yesterday")),
            "\"timestamp\"",
            "not a time",
        ),
        (without("data"), "\"data\"", "missing data"),
        (with("data", json!([1])), "\"data\"", "array data"),
        (with("data", json!(null)), "\"data\"", "null data"),
        (
            with("webhookId", json!(1)),
            "\"webhookId\"",
            "numeric webhookId",
        ),
        (
            with("instanceId", json!({})),
            "\"instanceId\"",
            "object instanceId",
        ),
    ];
    for (input, needle, case) in cases {
        let err = parse_delivery(input).expect_err(case);
        assert!(
            err.0.contains(needle),
            "{case}: {:?} should mention {needle}",
            err.0
        );
    }
}

#[test]
fn boundaries_of_id_and_type_are_accepted() {
    assert!(parse_delivery(with("id", json!("x".repeat(MAX_ID_BYTES)))).is_ok());
    assert!(parse_delivery(with("type", json!("é".repeat(MAX_TYPE_CHARS)))).is_ok());
    assert!(parse_delivery(with("webhookId", json!(null))).is_ok());
    assert!(parse_delivery(with("type", json!("agent\u{0}:x"))).is_ok());
    assert!(parse_delivery(without("instanceId")).is_ok());
}

#[test]
fn same_content_hashes_equal_regardless_of_key_order_and_offset() {
    let a = parse_delivery(body(valid())).unwrap();
    let reordered = br#"{"data":{"cost":0.05,"durationMs":5000,"agentId":"a"},"instanceId":"inst_1",
        "webhookId":"wh_1","timestamp":"2026-11-28T12:00:00+02:00","type":"agent:complete","id":"evt-1"}"#;
    let b = parse_delivery(Bytes::from_static(reordered)).unwrap();
    assert_eq!(a.content_hash, b.content_hash);
}

#[test]
fn different_content_hashes_differ() {
    let a = parse_delivery(body(valid())).unwrap();
    for (field, value) in [
        ("type", json!("agent:error")),
        ("timestamp", json!("2026-11-28T10:00:00.001Z")),
        ("data", json!({"agentId": "b"})),
        ("webhookId", json!(null)),
        ("instanceId", json!("inst_2")),
    ] {
        let b = parse_delivery(with(field, value)).unwrap();
        assert_ne!(a.content_hash, b.content_hash, "changing {field}");
    }
}

#[test]
fn non_numeric_cost_is_ignored() {
    let event = parse_delivery(with("data", json!({"cost": "1.5", "durationMs": null}))).unwrap();
    assert_eq!((event.cost, event.duration_ms), (None, None));
}

#[test]
fn render_normalises_time_and_fills_optional_fields() {
    let raw =
        br#"{"id":"e","type":"t","timestamp":"2026-11-28T12:00:00+02:00","data":{},"extra":[1]}"#;
    let rendered = render_event(raw, 1_795_860_000_123_456).unwrap();
    assert_eq!(rendered["timestamp"], "2026-11-28T10:00:00Z");
    assert_eq!(rendered["webhookId"], Value::Null);
    assert_eq!(rendered["instanceId"], Value::Null);
    assert_eq!(rendered["extra"], json!([1]));
    assert_eq!(rendered["receivedAt"], "2026-11-28T10:00:00.123456Z");
}

#[test]
fn nul_escapes_survive_a_round_trip() {
    let raw =
        br#"{"id":"e","type":"t","timestamp":"2026-11-28T10:00:00Z","data":{"s":"a\u0000b"}}"#;
    parse_delivery(Bytes::from_static(raw)).expect("accepted");
    let rendered = render_event(raw, 0).unwrap();
    assert_eq!(rendered["data"]["s"], "a\u{0}b");
}

#[test]
fn implausible_numbers_are_stored_but_not_counted() {
    let huge = parse_delivery(with("data", json!({"cost": 1e308, "durationMs": -1e300}))).unwrap();
    assert_eq!((huge.cost, huge.duration_ms), (None, None));
    let bound = parse_delivery(with(
        "data",
        json!({"cost": MAX_STATS_NUMBER, "durationMs": 0}),
    ))
    .unwrap();
    assert_eq!(
        (bound.cost, bound.duration_ms),
        (Some(MAX_STATS_NUMBER), Some(0.0))
    );
}
