//! Input generators shared by the properties: contract-valid events written with any offset, key
//! order and escaping, bodies a signer might send, and query strings for `GET /events`.

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use dash_events::cursor::Cursor;
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// An event valid per the contract, written later with any offset, key order and escaping.
#[derive(Debug, Clone)]
pub struct DashEvent {
    pub id: String,
    pub event_type: String,
    pub at: DateTime<Utc>,
    pub data: Map<String, Value>,
    pub webhook_id: Option<String>,
}

impl DashEvent {
    /// The event as JSON, its timestamp written at `offset` (`Z` for UTC when `z`).
    pub fn to_value(&self, offset: FixedOffset, z: bool) -> Value {
        let time = self.at.with_timezone(&offset);
        let mut value = json!({ "id": self.id, "type": self.event_type, "data": self.data,
            "timestamp": time.to_rfc3339_opts(SecondsFormat::AutoSi, z) });
        if let Some(webhook_id) = &self.webhook_id {
            value["webhookId"] = json!(webhook_id);
        }
        value
    }
}

/// 1–256 bytes without control characters, often at the 256-byte boundary.
fn event_id() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z0-9-]{1,36}", "[^\\p{Cc}]{1,80}", "[!-~]{250,256}"].prop_map(|mut id| {
        while id.len() > 256 {
            id.pop();
        }
        id
    })
}

/// 1–128 characters of any kind (the contract allows any type string).
fn event_type() -> impl Strategy<Value = String> {
    vec(any::<char>(), 1..=128).prop_map(String::from_iter)
}

/// An instant in the years 0001–9998 (so every offset keeps a four-digit year), nanoseconds.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    let seconds = prop_oneof![
        1_700_000_000i64..1_900_000_000,
        -62_135_596_800i64..253_370_764_800
    ];
    let nanos = prop_oneof![Just(0u32), 0u32..1_000_000_000];
    (seconds, nanos)
        .prop_map(|(s, n)| DateTime::from_timestamp(s, n).expect("within chrono's range"))
}

/// Any UTC offset RFC 3339 can write, whole minutes up to ±23:59.
pub fn offset() -> impl Strategy<Value = FixedOffset> {
    (-1439i32..=1439).prop_map(|minutes| FixedOffset::east_opt(minutes * 60).expect("< 1 day"))
}

fn json_value() -> impl Strategy<Value = Value> {
    let finite = any::<f64>().prop_filter("JSON numbers are finite", |f| f.is_finite());
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        finite.prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::from),
            json_object(inner).prop_map(Value::Object)
        ]
    })
}

fn json_object(values: impl Strategy<Value = Value>) -> impl Strategy<Value = Map<String, Value>> {
    btree_map(any::<String>(), values, 0..6).prop_map(|map| map.into_iter().collect())
}

pub fn dash_event() -> impl Strategy<Value = DashEvent> {
    let webhook_id = proptest::option::of("[a-z0-9_]{1,12}");
    (
        event_id(),
        event_type(),
        instant(),
        json_object(json_value()),
        webhook_id,
    )
        .prop_map(|(id, event_type, at, data, webhook_id)| DashEvent {
            id,
            event_type,
            at,
            data,
            webhook_id,
        })
}

/// Bodies a signer might send: valid events, events with one field replaced, any JSON, any bytes.
pub fn any_body() -> impl Strategy<Value = Vec<u8>> {
    let field = prop::sample::select(vec![
        "id",
        "type",
        "timestamp",
        "data",
        "webhookId",
        "instanceId",
    ]);
    let mutated =
        (dash_event(), offset(), field, json_value()).prop_map(|(event, offset, field, value)| {
            let mut body = event.to_value(offset, false);
            body[field] = value;
            body.to_string().into_bytes()
        });
    prop_oneof![
        (dash_event(), offset()).prop_map(|(e, o)| e.to_value(o, true).to_string().into_bytes()),
        mutated,
        json_value().prop_map(|v| v.to_string().into_bytes()),
        vec(any::<u8>(), 0..300),
    ]
}

/// Writes `value` as equivalent JSON with every object's keys in reverse order and every
/// non-ASCII character as `\u` escapes (UTF-16 surrogate pairs beyond the BMP).
pub fn write_reversed_ascii(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().rev().enumerate() {
                out.push_str(if i == 0 { "" } else { " , " });
                write_ascii_string(key, out);
                out.push_str(" : ");
                write_reversed_ascii(item, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                out.push_str(if i == 0 { "" } else { "," });
                write_reversed_ascii(item, out);
            }
            out.push(']');
        }
        Value::String(text) => write_ascii_string(text, out),
        other => out.push_str(&other.to_string()),
    }
}

fn write_ascii_string(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' | '\\' => out.extend(['\\', c]),
            ' '..='~' => out.push(c),
            _ => c
                .encode_utf16(&mut [0; 2])
                .iter()
                .for_each(|u| out.push_str(&format!("\\u{u:04x}"))),
        }
    }
    out.push('"');
}

/// Query strings built from the parameters `GET /events` knows, with plausible and hostile values.
pub fn query_string() -> impl Strategy<Value = String> {
    let key = prop_oneof!["type", "since", "until", "limit", "cursor", "[a-z]{1,4}"];
    let time = instant().prop_map(|t| t.to_rfc3339());
    let cursor = (any::<i64>(), ".{0,6}").prop_map(|(t, id)| {
        Cursor {
            timestamp_us: t,
            id,
        }
        .encode()
    });
    let value = prop_oneof![
        any::<String>(),
        "-?[0-9]{1,5}",
        "[a-z:,]{0,12}",
        time,
        cursor
    ];
    let pairs = vec((key, value), 0..6).prop_map(|pairs| {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    });
    prop_oneof![pairs, any::<String>(), "[a-z=&%0-9+,:-]{0,40}"]
}
