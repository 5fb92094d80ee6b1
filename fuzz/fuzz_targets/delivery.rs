//! Fuzzes `event::parse_delivery` on arbitrary bytes: it must never panic, and whatever it
//! accepts must satisfy the contract's field rules and render back (`event::render_event`) as an
//! object with the same id, the same type and the timestamp's instant. Bodies that serde_json
//! refuses only for a lone surrogate escape go through `event::lenient`, which the dictionary
//! (`dict/delivery.dict`) helps the fuzzer reach.

#![no_main]

use bytes::Bytes;
use dash_events::event::{
    MAX_ID_BYTES, MAX_STATS_NUMBER, MAX_TYPE_CHARS, parse_delivery, parse_timestamp, render_event,
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let body = Bytes::copy_from_slice(data);
    let Ok(event) = parse_delivery(body.clone()) else {
        return;
    };
    assert_eq!(event.body, body, "the body is kept byte for byte");
    assert!((1..=MAX_ID_BYTES).contains(&event.id.len()));
    assert!(!event.id.chars().any(char::is_control));
    assert!((1..=MAX_TYPE_CHARS).contains(&event.event_type.chars().count()));
    assert_eq!(event.content_hash.len(), 32);
    assert!(event.cost.is_none_or(|n| n.abs() <= MAX_STATS_NUMBER));
    assert!(
        event
            .duration_ms
            .is_none_or(|n| n.abs() <= MAX_STATS_NUMBER)
    );

    let rendered = render_event(&body, 0).expect("an accepted body renders");
    let object = rendered.as_object().expect("rendered as an object");
    assert_eq!(
        object.get("id").and_then(Value::as_str),
        Some(event.id.as_str())
    );
    assert_eq!(
        object.get("type").and_then(Value::as_str),
        Some(event.event_type.as_str())
    );
    assert!(object.get("data").is_some_and(Value::is_object));
    for key in ["webhookId", "instanceId", "receivedAt"] {
        assert!(object.contains_key(key), "{key} is always present");
    }
    // The answered timestamp is the same instant (in UTC, or as sent when UTC has no
    // four-digit year for it).
    let timestamp = object.get("timestamp").and_then(Value::as_str);
    let instant = timestamp
        .and_then(parse_timestamp)
        .map(|t| t.timestamp_micros());
    assert_eq!(instant, Some(event.timestamp_us), "answered {timestamp:?}");
});
