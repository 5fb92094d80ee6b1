//! `POST /webhooks/dash` accepting what Dash sends: a new event is committed and acknowledged
//! with 200 and comes back from the query API in the shape it was received, with its time in UTC
//! and the time it was received added; a charset parameter, uppercase hex, the previous secret,
//! null optional ids, undocumented types and ids and types at their length limits are all fine.

use chrono::{DateTime, Utc};
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

use dash_events::config::Secret;

use crate::backend::TestDb;
use crate::helpers::DOCUMENTED_TYPES;
use crate::helpers::{encode_segment, event, event_at, instant, new_id, sign, status_and_json};
use crate::support::app::App;
use crate::support::http::SECRET;

both_backends!(
    new_event_is_committed_and_acknowledged_with_200,
    stored_event_is_returned_as_received_with_received_at,
    timestamp_with_offset_is_answered_in_utc,
    json_content_type_with_charset_is_accepted,
    uppercase_hex_signature_is_accepted,
    previous_secret_is_accepted_during_rotation,
    absent_and_null_optional_ids_are_answered_as_null,
    documented_and_undocumented_types_are_stored,
    id_and_type_at_their_limits_are_accepted,
);

/// The stored event, fetched through `GET /events/{id}`.
async fn fetch(app: &App, id: &str) -> Value {
    app.get_json(&format!("/events/{}", encode_segment(id)))
        .await
}

async fn new_event_is_committed_and_acknowledged_with_200(db: TestDb) {
    let app = App::start(&db).await;
    let id = new_id();

    let response = app
        .deliver_bytes(&serde_json::to_vec(&event(&id)).unwrap())
        .await;

    let content_type = response.headers().get(CONTENT_TYPE).cloned();
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({ "received": true, "duplicate": false, "id": id })
    );
    let content_type = content_type.expect("a Content-Type on the answer");
    assert!(
        content_type
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(db.stored_ids().await, vec![id]);
}

async fn stored_event_is_returned_as_received_with_received_at(db: TestDb) {
    let app = App::start(&db).await;
    let id = new_id();
    let sent = event(&id);
    let before = Utc::now();

    app.store(&sent).await;

    let after = Utc::now();
    let got = fetch(&app, &id).await;
    for field in ["id", "type", "data", "webhookId", "instanceId"] {
        assert_eq!(got[field], sent[field], "field {field} of {got}");
    }
    assert_eq!(instant(&got["timestamp"]), instant(&sent["timestamp"]));
    let received_at = got["receivedAt"].as_str().expect("receivedAt is a string");
    assert!(
        received_at.ends_with('Z'),
        "receivedAt {received_at} is not UTC"
    );
    let received_at = instant(&got["receivedAt"]);
    let slack = chrono::Duration::seconds(5);
    assert!(received_at >= before - slack && received_at <= after + slack);
}

async fn timestamp_with_offset_is_answered_in_utc(db: TestDb) {
    let app = App::start(&db).await;
    let id = new_id();

    app.store(&event_at(&id, "agent:start", "2026-11-28T12:00:00+02:00"))
        .await;

    let got = fetch(&app, &id).await;
    let timestamp = got["timestamp"].as_str().expect("timestamp is a string");
    assert!(timestamp.ends_with('Z'), "{timestamp} is not in UTC");
    assert_eq!(
        instant(&got["timestamp"]),
        "2026-11-28T10:00:00Z".parse::<DateTime<Utc>>().unwrap()
    );
}

async fn json_content_type_with_charset_is_accepted(db: TestDb) {
    let app = App::start(&db).await;
    let id = new_id();
    let body = serde_json::to_vec(&event(&id)).unwrap();

    let response = app
        .post_webhook(
            body.clone(),
            &[
                ("content-type", "application/json; charset=utf-8"),
                ("x-dash-signature", &sign(SECRET, &body)),
            ],
        )
        .await;

    let (status, answer) = status_and_json(response).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(db.count_events().await, 1);
}

async fn uppercase_hex_signature_is_accepted(db: TestDb) {
    let app = App::start(&db).await;
    let body = serde_json::to_vec(&event(&new_id())).unwrap();
    let signature = format!("sha256={}", sign(SECRET, &body)[7..].to_uppercase());

    let response = app
        .post_webhook(
            body,
            &[
                ("content-type", "application/json"),
                ("x-dash-signature", &signature),
            ],
        )
        .await;

    let (status, answer) = status_and_json(response).await;
    assert_eq!(status, 200, "{answer}");
}

async fn previous_secret_is_accepted_during_rotation(db: TestDb) {
    let app = App::start_with(&db, |config| {
        config.webhook_secret_previous = Some(Secret::new("the-old-secret".to_owned()));
    })
    .await;

    for (case, secret, expected) in [
        ("signed with the current secret", SECRET, 200),
        ("signed with the previous secret", "the-old-secret", 200),
        ("signed with neither", "some-other-secret", 401),
    ] {
        let body = serde_json::to_vec(&event(&new_id())).unwrap();
        let response = app
            .post_webhook(
                body.clone(),
                &[
                    ("content-type", "application/json"),
                    ("x-dash-signature", &sign(secret, &body)),
                ],
            )
            .await;
        let (status, answer) = status_and_json(response).await;
        assert_eq!(status, expected, "{case}: {answer}");
    }
    assert_eq!(db.count_events().await, 2);
}

async fn absent_and_null_optional_ids_are_answered_as_null(db: TestDb) {
    let app = App::start(&db).await;
    let absent = new_id();
    let null = new_id();
    let mut without = event(&absent);
    let fields = without.as_object_mut().unwrap();
    fields.remove("webhookId");
    fields.remove("instanceId");
    let mut with_null = event(&null);
    with_null["webhookId"] = Value::Null;
    with_null["instanceId"] = Value::Null;

    app.store(&without).await;
    app.store(&with_null).await;

    for id in [absent, null] {
        let got = fetch(&app, &id).await;
        assert_eq!(got["webhookId"], Value::Null, "{got}");
        assert_eq!(got["instanceId"], Value::Null, "{got}");
    }
}

async fn documented_and_undocumented_types_are_stored(db: TestDb) {
    let app = App::start(&db).await;
    let types = DOCUMENTED_TYPES.iter().copied().chain(["dash:future-type"]);

    for event_type in types.clone() {
        app.store(&event_at(&new_id(), event_type, "2026-11-28T10:00:00Z"))
            .await;
    }

    let page = app.get_json("/events").await;
    let mut stored: Vec<&str> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    stored.sort_unstable();
    let mut expected: Vec<&str> = types.collect();
    expected.sort_unstable();
    assert_eq!(stored, expected);
}

async fn id_and_type_at_their_limits_are_accepted(db: TestDb) {
    let app = App::start(&db).await;
    let cases = [
        ("a 256-byte id", "i".repeat(256), "agent:start".to_owned()),
        (
            "Dash's test-script id",
            "test-event-1732788000000".to_owned(),
            "agent:start".to_owned(),
        ),
        ("a one-character type", new_id(), "x".to_owned()),
        ("a 128-character type", new_id(), "t".repeat(128)),
        ("128 two-byte characters of type", new_id(), "é".repeat(128)),
    ];

    for (case, id, event_type) in cases {
        let (status, answer) = app
            .deliver(&event_at(&id, &event_type, "2026-11-28T10:00:00Z"))
            .await;
        assert_eq!(status, 200, "{case}: {answer}");
        assert_eq!(
            fetch(&app, &id).await["type"],
            event_type.as_str(),
            "{case}"
        );
    }
}
