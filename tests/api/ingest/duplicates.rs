//! Dash retries deliveries, so the same event arrives again: sequentially, many at once, or after
//! the receiver restarted. Each time it must be stored once and acknowledged `duplicate: true`.
//! The same id with different content is a 409 that leaves the stored event exactly as it was.

use futures::future::join_all;
use serde_json::{Value, json};

use crate::backend::TestDb;
use crate::helpers::{assert_error, encode_segment, event, new_id, status_and_json};
use crate::support::app::App;

both_backends!(
    repeated_delivery_is_acknowledged_as_duplicate,
    fifty_concurrent_deliveries_of_one_id_store_it_once,
    delivery_repeated_after_a_restart_is_a_duplicate,
    equivalent_content_in_other_bytes_is_a_duplicate,
    reused_id_with_different_content_is_rejected_with_409_leaving_the_event_untouched,
);

async fn repeated_delivery_is_acknowledged_as_duplicate(db: TestDb) {
    let app = App::start(&db).await;
    let id = new_id();
    let sent = event(&id);

    let first = app.deliver(&sent).await;
    let second = app.deliver(&sent).await;
    let third = app.deliver(&sent).await;

    let new = json!({ "received": true, "duplicate": false, "id": id });
    let duplicate = json!({ "received": true, "duplicate": true, "id": id });
    assert_eq!(first, (200, new));
    assert_eq!(second, (200, duplicate.clone()));
    assert_eq!(third, (200, duplicate));
    assert_eq!(db.count_events().await, 1);
}

async fn fifty_concurrent_deliveries_of_one_id_store_it_once(db: TestDb) {
    let app = App::start(&db).await;
    let id = new_id();
    let sent = event(&id);

    let answers = join_all((0..50).map(|_| app.deliver(&sent))).await;

    let mut new = 0;
    for (status, body) in &answers {
        assert_eq!(
            *status, 200,
            "a concurrent delivery answered {status}: {body}"
        );
        assert_eq!(body["id"], id.as_str());
        if body["duplicate"] == false {
            new += 1;
        } else {
            assert_eq!(body["duplicate"], true, "{body}");
        }
    }
    assert_eq!(new, 1, "deliveries acknowledged as new: {new} of 50");
    assert_eq!(db.count_events().await, 1);
}

async fn delivery_repeated_after_a_restart_is_a_duplicate(db: TestDb) {
    let app = App::start(&db).await;
    let id = new_id();
    let sent = event(&id);
    app.store(&sent).await;

    let app = app.restart().await;
    let (status, body) = app.deliver(&sent).await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["duplicate"], true, "{body}");
    let mut changed = sent.clone();
    changed["type"] = json!("agent:error");
    let (status, body) = app.deliver(&changed).await;
    assert_error("other content after a restart", status, &body, 409, None);
    assert_eq!(db.count_events().await, 1);
}

async fn equivalent_content_in_other_bytes_is_a_duplicate(db: TestDb) {
    let app = App::start(&db).await;
    // (case, first delivery, retry): each body is written by hand to control its exact bytes.
    let cases: [(&str, &str, &str); 5] = [
        (
            "data keys in another order",
            r#"{"id":"ID","type":"agent:complete","timestamp":"2026-11-28T10:00:00Z","data":{"a":1,"b":[1,2],"c":{"x":true,"y":null}}}"#,
            r#"{"id":"ID","type":"agent:complete","timestamp":"2026-11-28T10:00:00Z","data":{"c":{"y":null,"x":true},"b":[1,2],"a":1}}"#,
        ),
        (
            "top-level keys in another order and other whitespace",
            r#"{"id":"ID","type":"agent:start","timestamp":"2026-11-28T10:00:00Z","data":{},"webhookId":"wh_1"}"#,
            "{ \"webhookId\" : \"wh_1\",\n \"data\" : { },\n \"timestamp\":\"2026-11-28T10:00:00Z\", \"type\":\"agent:start\", \"id\":\"ID\" }",
        ),
        (
            "the same instant written with an offset and a fraction",
            r#"{"id":"ID","type":"agent:start","timestamp":"2026-11-28T10:00:00.000Z","data":{}}"#,
            r#"{"id":"ID","type":"agent:start","timestamp":"2026-11-28T12:00:00+02:00","data":{}}"#,
        ),
        (
            "webhookId and instanceId null instead of absent",
            r#"{"id":"ID","type":"agent:start","timestamp":"2026-11-28T10:00:00Z","data":{}}"#,
            r#"{"id":"ID","type":"agent:start","timestamp":"2026-11-28T10:00:00Z","data":{},"webhookId":null,"instanceId":null}"#,
        ),
        (
            "the same bytes",
            r#"{"id":"ID","type":"agent:start","timestamp":"2026-11-28T10:00:00Z","data":{"cost":0.05}}"#,
            r#"{"id":"ID","type":"agent:start","timestamp":"2026-11-28T10:00:00Z","data":{"cost":0.05}}"#,
        ),
    ];

    for (case, first, retry) in cases {
        let id = new_id();
        let (status, body) = deliver_text(&app, &first.replace("ID", &id)).await;
        assert_eq!(
            (status, &body["duplicate"]),
            (200, &json!(false)),
            "{case}: {body}"
        );
        let (status, body) = deliver_text(&app, &retry.replace("ID", &id)).await;
        assert_eq!(status, 200, "{case}: the retry answered {status}: {body}");
        assert_eq!(body["duplicate"], true, "{case}: {body}");
    }
    assert_eq!(db.count_events().await, 5);
}

async fn reused_id_with_different_content_is_rejected_with_409_leaving_the_event_untouched(
    db: TestDb,
) {
    let app = App::start(&db).await;
    let id = new_id();
    let original = event(&id);
    app.store(&original).await;
    let path = format!("/events/{}", encode_segment(&id));
    let stored = app.get_json(&path).await;
    let changed = |field: &str, value: Option<Value>| {
        let mut event = original.clone();
        match value {
            Some(value) => event[field] = value,
            None => drop(event.as_object_mut().unwrap().remove(field)),
        }
        event
    };
    let mut data = original["data"].clone();
    data["cost"] = json!(0.06);
    let mut more_data = original["data"].clone();
    more_data["extra"] = json!("x");
    let cases = [
        ("another type", changed("type", Some(json!("agent:error")))),
        (
            "a timestamp 1 µs later",
            changed("timestamp", Some(json!("2026-11-28T10:00:00.000001Z"))),
        ),
        (
            "a timestamp 1 s later",
            changed("timestamp", Some(json!("2026-11-28T10:00:01Z"))),
        ),
        ("another cost in data", changed("data", Some(data))),
        ("an extra key in data", changed("data", Some(more_data))),
        ("empty data", changed("data", Some(json!({})))),
        (
            "another webhookId",
            changed("webhookId", Some(json!("wh_2"))),
        ),
        ("no webhookId", changed("webhookId", None)),
        (
            "another instanceId",
            changed("instanceId", Some(json!("inst_2"))),
        ),
        (
            "a null instanceId",
            changed("instanceId", Some(Value::Null)),
        ),
    ];

    for (case, event) in cases {
        let (status, body) = app.deliver(&event).await;
        assert_error(case, status, &body, 409, None);
    }

    assert_eq!(
        app.get_json(&path).await,
        stored,
        "the stored event changed"
    );
    assert_eq!(db.count_events().await, 1);
    let (status, body) = app.deliver(&original).await;
    assert_eq!((status, &body["duplicate"]), (200, &json!(true)), "{body}");
}

async fn deliver_text(app: &App, body: &str) -> (u16, Value) {
    status_and_json(app.deliver_bytes(body.as_bytes()).await).await
}
