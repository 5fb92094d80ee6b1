//! "Any valid JSON is stored as sent": the signature is checked over the raw bytes, unknown
//! top-level fields are kept, and strings holding `\u0000` or other escapes that a database's JSON
//! or text types may refuse — in `data`, `type`, `webhookId` or `instanceId` — are stored and
//! returned unchanged. An event Dash signed is never turned away for its content.

use serde_json::{Value, json};

use crate::backend::TestDb;
use crate::helpers::{encode_segment, event, new_id, status_and_json};
use crate::support::app::App;

both_backends!(
    unknown_top_level_fields_are_kept_and_returned,
    nul_and_escapes_inside_strings_are_stored_and_returned,
    nul_in_type_and_optional_ids_is_stored_and_returned,
    signature_is_checked_over_the_raw_bytes_as_sent,
    lone_surrogate_escapes_are_accepted_and_kept_byte_for_byte,
);

/// The stored event, fetched through `GET /events/{id}`.
async fn fetch(app: &App, id: &str) -> Value {
    app.get_json(&format!("/events/{}", encode_segment(id)))
        .await
}

async fn unknown_top_level_fields_are_kept_and_returned(db: TestDb) {
    let app = App::start(&db).await;
    let id = new_id();
    let mut sent = event(&id);
    sent["schemaVersion"] = json!(3);
    sent["trace"] = json!({ "span": "abc", "tags": ["x", 1, null] });

    app.store(&sent).await;

    let got = fetch(&app, &id).await;
    assert_eq!(got["schemaVersion"], json!(3), "{got}");
    assert_eq!(got["trace"], sent["trace"], "{got}");
}

async fn nul_and_escapes_inside_strings_are_stored_and_returned(db: TestDb) {
    let app = App::start(&db).await;
    let id = new_id();
    // Written by hand so the body holds the escapes themselves, as Dash's JSON.stringify would.
    let body = format!(
        r#"{{"id":"{id}","type":"agent:error","timestamp":"2026-11-28T10:00:00Z","data":{{"error":"nul\u0000here","quote":"\"\\\/","smile":"\ud83d\ude00","tab":"a\tb","accent":"\u00e9"}}}}"#
    );

    let (status, answer) = status_and_json(app.deliver_bytes(body.as_bytes()).await).await;

    assert_eq!(status, 200, "{answer}");
    let got = fetch(&app, &id).await;
    let sent: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(got["data"], sent["data"], "{got}");
    assert_eq!(got["data"]["error"], "nul\u{0}here");
}

async fn signature_is_checked_over_the_raw_bytes_as_sent(db: TestDb) {
    let app = App::start(&db).await;
    let id = new_id();
    // Odd spacing and key order: re-serializing this would change the bytes and the HMAC.
    let body = format!(
        "{{ \"type\" : \"agent:start\",\n  \"data\":{{\"z\":1, \"a\" :2}},\n\t\"timestamp\":\"2026-11-28T10:00:00.000Z\" , \"id\":\"{id}\" }}\n"
    );

    let (status, answer) = status_and_json(app.deliver_bytes(body.as_bytes()).await).await;

    assert_eq!(status, 200, "{answer}");
    assert_eq!(fetch(&app, &id).await["data"], json!({ "z": 1, "a": 2 }));
}

async fn nul_in_type_and_optional_ids_is_stored_and_returned(db: TestDb) {
    let app = App::start(&db).await;
    let cases = [
        ("type", json!("agent:\u{0}complete")),
        ("webhookId", json!("wh\u{0}1")),
        ("instanceId", json!("inst\u{0}1")),
        ("data", json!({ "key\u{0}with nul": "value" })),
    ];

    let mut refused = Vec::new();
    for (field, value) in cases {
        let id = new_id();
        let mut sent = event(&id);
        sent[field] = value.clone();
        let (status, answer) = app.deliver(&sent).await;
        if status != 200 {
            refused.push(format!("a NUL in {field} answered {status}: {answer}"));
            continue;
        }
        assert_eq!(
            fetch(&app, &id).await[field],
            value,
            "{field} came back changed"
        );
        let (status, answer) = app.deliver(&sent).await;
        assert_eq!(
            (status, &answer["duplicate"]),
            (200, &json!(true)),
            "{field}: {answer}"
        );
    }
    assert!(
        refused.is_empty(),
        "signed events turned away:\n{}",
        refused.join("\n")
    );
}

/// A string cut inside an emoji, as JavaScript's `JSON.stringify` writes it: a lone surrogate
/// escape is valid JSON, so the event is stored (its exact bytes kept) and answered with U+FFFD.
async fn lone_surrogate_escapes_are_accepted_and_kept_byte_for_byte(db: TestDb) {
    let app = App::start(&db).await;
    let id = new_id();
    let body = format!(
        r#"{{"id":"{id}","type":"agent:complete","timestamp":"2026-11-28T10:00:00Z","data":{{"result":"cut \ud83d"}}}}"#
    );
    let (status, answer) = status_and_json(app.deliver_bytes(body.as_bytes()).await).await;
    assert_eq!(
        (status, &answer["duplicate"]),
        (200, &json!(false)),
        "{answer}"
    );
    let stored = fetch(&app, &id).await;
    assert_eq!(stored["data"]["result"], "cut \u{fffd}");
    let (status, answer) = status_and_json(app.deliver_bytes(body.as_bytes()).await).await;
    assert_eq!(
        (status, &answer["duplicate"]),
        (200, &json!(true)),
        "{answer}"
    );
}
