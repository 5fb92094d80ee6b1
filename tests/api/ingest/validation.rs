//! The 400 row of the receiving table: a correctly signed body that is not JSON, or whose required
//! field is missing or of the wrong kind, is rejected with `{"error": …}` naming the field, and
//! nothing is written — so the same id can still be delivered properly afterwards.

use serde_json::{Value, json};

use crate::backend::TestDb;
use crate::helpers::{assert_error, event, new_id, status_and_json};
use crate::support::app::App;

both_backends!(
    signed_body_that_is_not_an_event_object_is_rejected_with_400,
    invalid_field_is_rejected_with_400_naming_the_field,
    rejected_id_can_still_be_delivered_properly,
);

/// An event with `field` set to `value` (the field is removed when `value` is `None`).
fn with(id: &str, field: &str, value: Option<Value>) -> Value {
    let mut event = event(id);
    match value {
        Some(value) => event[field] = value,
        None => {
            event.as_object_mut().unwrap().remove(field);
        }
    }
    event
}

async fn signed_body_that_is_not_an_event_object_is_rejected_with_400(db: TestDb) {
    let app = App::start(&db).await;
    let cases: [(&str, &[u8]); 7] = [
        ("not JSON at all", b"hello"),
        ("truncated JSON", b"{\"id\": \"abc\", "),
        ("an empty body", b""),
        ("JSON null", b"null"),
        ("a JSON array", b"[]"),
        ("a JSON string", b"\"event\""),
        ("invalid UTF-8", b"{\"id\": \"\xff\xfe\"}"),
    ];

    for (case, body) in cases {
        let (status, answer) = status_and_json(app.deliver_bytes(body).await).await;
        assert_error(case, status, &answer, 400, None);
    }
    assert_eq!(db.count_events().await, 0);
}

async fn invalid_field_is_rejected_with_400_naming_the_field(db: TestDb) {
    let app = App::start(&db).await;
    let cases: Vec<(&str, &str, Option<Value>)> = vec![
        ("id missing", "id", None),
        ("id is null", "id", Some(Value::Null)),
        ("id is a number", "id", Some(json!(42))),
        ("id is empty", "id", Some(json!(""))),
        ("id is 257 bytes", "id", Some(json!("i".repeat(257)))),
        (
            "id is 129 two-byte characters",
            "id",
            Some(json!("é".repeat(129))),
        ),
        ("id contains a newline", "id", Some(json!("abc\ndef"))),
        ("id contains U+0000", "id", Some(json!("abc\u{0}def"))),
        ("id contains U+0001", "id", Some(json!("abc\u{1}def"))),
        ("id contains DEL", "id", Some(json!("abc\u{7f}def"))),
        (
            "id contains a C1 control",
            "id",
            Some(json!("abc\u{85}def")),
        ),
        ("type missing", "type", None),
        ("type is null", "type", Some(Value::Null)),
        ("type is empty", "type", Some(json!(""))),
        (
            "type is 129 characters",
            "type",
            Some(json!("t".repeat(129))),
        ),
        ("type is a number", "type", Some(json!(7))),
        (
            "type is an object",
            "type",
            Some(json!({ "name": "agent:start" })),
        ),
        ("timestamp missing", "timestamp", None),
        ("timestamp is null", "timestamp", Some(Value::Null)),
        (
            "timestamp without a zone",
            "timestamp",
            Some(json!("2026-11-28T10:00:00")),
        ),
        (
            "timestamp with fraction, no zone",
            "timestamp",
            Some(json!("2026-11-28T10:00:00.000")),
        ),
        (
            "timestamp is a date only",
            "timestamp",
            Some(json!("2026-11-28")),
        ),
        (
            "timestamp is not a time",
            "timestamp",
            Some(json!("yesterday")),
        ),
        (
            "timestamp is an impossible date",
            "timestamp",
            Some(json!("2026-02-30T10:00:00Z")),
        ),
        (
            "timestamp is epoch milliseconds",
            "timestamp",
            Some(json!(1_732_788_000_000_i64)),
        ),
        ("data missing", "data", None),
        ("data is null", "data", Some(Value::Null)),
        ("data is an array", "data", Some(json!([1, 2]))),
        ("data is a string", "data", Some(json!("{}"))),
        ("data is a number", "data", Some(json!(5))),
        ("webhookId is a number", "webhookId", Some(json!(1))),
        ("webhookId is an object", "webhookId", Some(json!({}))),
        ("webhookId is a boolean", "webhookId", Some(json!(true))),
        ("instanceId is a number", "instanceId", Some(json!(1))),
        (
            "instanceId is an array",
            "instanceId",
            Some(json!(["inst_1"])),
        ),
    ];

    for (case, field, value) in cases {
        let (status, answer) = app.deliver(&with(&new_id(), field, value)).await;
        assert_error(case, status, &answer, 400, Some(field));
    }
    assert_eq!(db.count_events().await, 0, "a rejected event was stored");
    assert_eq!(app.get_json("/events").await["events"], json!([]));
}

async fn rejected_id_can_still_be_delivered_properly(db: TestDb) {
    let app = App::start(&db).await;
    let id = new_id();

    let (status, answer) = app
        .deliver(&with(&id, "data", Some(json!("not an object"))))
        .await;
    assert_error("data is a string", status, &answer, 400, Some("data"));

    let (status, answer) = app.deliver(&event(&id)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["duplicate"], false, "{answer}");
}
