//! Delivery validation properties: equivalent serialisations of an event have one content hash,
//! lone surrogate escapes never get an event turned away, and the regression tests of the bugs
//! this family found.

use bytes::Bytes;
use chrono::FixedOffset;
use dash_events::event::{parse_delivery, parse_timestamp, render_event};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::config;
use crate::strategies::{dash_event, offset, write_reversed_ascii};

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn equivalent_serialisations_of_an_event_have_one_content_hash(
        event in dash_event(), first_offset in offset(), second_offset in offset(),
    ) {
        let first = event.to_value(first_offset, true).to_string();
        let mut second_value = event.to_value(second_offset, false);
        second_value["instanceId"] = Value::Null; // absent and null are the same
        second_value["deliveryAttempt"] = json!(2); // other top-level fields are not compared
        let mut second = String::new();
        write_reversed_ascii(&second_value, &mut second);
        let a = parse_delivery(Bytes::from(first.clone())).map_err(|e| TestCaseError::fail(format!("{e}: {first}")))?;
        let b = parse_delivery(Bytes::from(second.clone())).map_err(|e| TestCaseError::fail(format!("{e}: {second}")))?;
        prop_assert_eq!((&a.id, &a.event_type, a.timestamp_us), (&event.id, &event.event_type, event.at.timestamp_micros()));
        prop_assert_eq!((&b.id, &b.event_type, b.timestamp_us), (&a.id, &a.event_type, a.timestamp_us));
        prop_assert_eq!(a.content_hash, b.content_hash, "{} / {}", first, second);
    }
}

/// Regression (found by proptest): a delivery with a lone UTF-16 surrogate escape (valid JSON per
/// RFC 8259, and what JavaScript's `JSON.stringify` writes for a string cut inside an emoji) was
/// refused with 400, but the contract says an event Dash signed is never turned away for its
/// content.
#[test]
fn a_lone_surrogate_escape_in_a_string_is_accepted() {
    let body = r#"{"id":"e1","type":"agent:complete","timestamp":"2026-11-28T10:00:00Z","data":{"result":"cut \ud83d"}}"#;
    let result = parse_delivery(Bytes::from_static(body.as_bytes()));
    assert!(result.is_ok(), "{result:?}");
}

proptest! {
    #![proptest_config(config(64))]

    /// A lone surrogate escape in `data` (valid JSON) never gets an event turned away.
    #[test]
    fn events_with_lone_surrogate_escapes_are_accepted(
        mut event in dash_event(), unit in 0xD800u32..=0xDFFF, ascii in any::<bool>(),
    ) {
        // A Rust string cannot hold a lone surrogate: a marker is replaced in the JSON text.
        event.data.insert("cut".into(), json!("x@@LONE@@"));
        let value = event.to_value(FixedOffset::east_opt(0).expect("UTC"), true);
        let mut text = value.to_string();
        if ascii {
            text.clear();
            write_reversed_ascii(&value, &mut text);
        }
        let body = text.replacen("@@LONE@@", &format!("\\u{unit:04x}"), 1);
        let parsed = parse_delivery(Bytes::from(body.clone()))
            .map_err(|e| TestCaseError::fail(format!("{e}: {body}")))?;
        prop_assert_eq!(&parsed.id, &event.id);
        prop_assert_eq!(parsed.timestamp_us, event.at.timestamp_micros());
        prop_assert!(render_event(body.as_bytes(), 0).is_ok());
    }
}

/// Regression (found by proptest, fixed): lone surrogates are read as U+FFFD for validation, so
/// the content hash also takes the units they stood for; deliveries of one id that differ only in
/// which lone surrogate (or U+FFFD itself) they carry are different content (409), not duplicates.
#[test]
fn different_lone_surrogates_are_different_content() {
    let hash = |escape: &str| {
        let body = format!(
            r#"{{"id":"e","type":"t","timestamp":"2026-11-28T10:00:00Z","data":{{"r":"{escape}"}}}}"#
        );
        parse_delivery(Bytes::from(body)).map(|event| event.content_hash)
    };
    let (high, low, replacement) = (hash(r"\ud800"), hash(r"\udfff"), hash(r"\ufffd"));
    assert!(high.is_ok() && low.is_ok() && replacement.is_ok());
    assert_ne!(high, low, "\\ud800 and \\udfff");
    assert_ne!(high, replacement, "\\ud800 and \\ufffd");
}

/// Regression (found by proptest): an instant whose UTC year leaves 0000–9999 (reachable with an
/// offset) was answered as `-0001-12-31T23:00:00Z` or `+10000-…`, which is not RFC 3339; it is now
/// answered as sent.
#[test]
fn rendered_timestamps_are_rfc3339_at_the_edges_of_the_year_range() {
    for sent in ["0000-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"] {
        let body = json!({"id": "e", "type": "t", "timestamp": sent, "data": {}}).to_string();
        let event = parse_delivery(Bytes::from(body.clone())).expect("the contract accepts it");
        let rendered = render_event(body.as_bytes(), 0).expect("renders");
        let answered = rendered["timestamp"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let instant = parse_timestamp(&answered).map(|t| t.timestamp_micros());
        assert_eq!(
            instant,
            Some(event.timestamp_us),
            "{sent} answered as {answered}"
        );
    }
}
