//! `GET /events/{id}/body`: the exact bytes Dash signed, as stored — spacing, key order, escapes
//! and extra fields included — answered as `application/json`; 404 `{"error": …}` for an id
//! that is not stored.

use reqwest::header::CONTENT_TYPE;

use crate::backend::TestDb;
use crate::helpers::{assert_error, encode_segment, new_id, sign, status_and_json};
use crate::support::app::App;

both_backends!(
    the_signed_body_is_answered_byte_for_byte,
    the_body_of_an_unknown_id_is_404,
);

/// Bodies whose bytes a JSON round trip would change.
fn unusual_bodies(id: &str) -> Vec<String> {
    vec![
        format!(
            r#"{{ "type" : "agent:complete",   "id":"{id}-a", "timestamp":"2026-11-28T10:00:00.000+02:00",
  "data":{{"z":1,"a":1.50,"durationMs":5e3}}, "extra":[true,null] }}"#
        ),
        format!(
            r#"{{"id":"{id}-b","type":"agent:error","timestamp":"2026-11-28T10:00:00Z","data":{{"msg":"nul \u0000 and \ud83d\ude00 and \u00e9"}},"webhookId":null}}"#
        ),
        format!(
            "{{\"id\":\"{id}-c\",\"type\":\"swarm:start\",\"timestamp\":\"2026-11-28T10:00:00Z\",\"data\":{{\"text\":\"é日本\"}}}}\n"
        ),
    ]
}

async fn the_signed_body_is_answered_byte_for_byte(db: TestDb) {
    let app = App::start(&db).await;
    let id = new_id();
    let bodies = unusual_bodies(&id);
    for body in &bodies {
        let (status, answer) = status_and_json(app.deliver_bytes(body.as_bytes()).await).await;
        assert_eq!(status, 200, "{body}: {answer}");
    }

    for (body, suffix) in bodies.iter().zip(["a", "b", "c"]) {
        let response = app.get(&format!("/events/{id}-{suffix}/body")).await;
        assert_eq!(response.status(), 200, "{body}");
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        let bytes = response.bytes().await.expect("read the body");
        assert_eq!(
            &bytes[..],
            body.as_bytes(),
            "the answer is not the bytes sent"
        );
        // The very bytes the signature was computed over.
        assert_eq!(
            sign(&app.secret, &bytes),
            sign(&app.secret, body.as_bytes())
        );
    }
}

async fn the_body_of_an_unknown_id_is_404(db: TestDb) {
    let app = App::start(&db).await;
    let id = new_id();
    let body = format!(
        r#"{{"id":"{id}","type":"agent:start","timestamp":"2026-11-28T10:00:00Z","data":{{}}}}"#
    );
    app.deliver_bytes(body.as_bytes()).await;

    for (case, path) in [
        ("an unknown id", format!("/events/{}/body", new_id())),
        (
            "a prefix of a stored id",
            format!("/events/{}/body", &id[..8]),
        ),
        (
            "an id with a control character",
            "/events/%0A/body".to_owned(),
        ),
        (
            "an encoded slash",
            format!("/events/{}/body", encode_segment(&format!("{id}/x"))),
        ),
    ] {
        let (status, answer) = status_and_json(app.get(&path).await).await;
        assert_error(case, status, &answer, 404, None);
    }
    let (status, _) = status_and_json(app.get(&format!("/events/{id}/body")).await).await;
    assert_eq!(status, 200);
}
