//! Deliveries through API Gateway: signed ones stored once, whatever the case of the signature
//! header and whether the body came base64-encoded; unsigned, wrongly signed and invalid ones
//! refused with nothing stored; a body API Gateway could never have sent fails the invocation
//! only, and the function goes on.

use serde_json::{Value, json};

use crate::backend::TestDb;
use crate::function::{Function, body_bytes, recorded};
use crate::helpers::assert_error;
use crate::on_postgres;
use crate::runtime::Outcome;

/// The body stored for `id`, byte for byte, read behind the function's back.
async fn stored_body(db: &TestDb, id: &str) -> Vec<u8> {
    sqlx::query_scalar("select body from events where id = $1")
        .bind(id)
        .fetch_one(&mut db.postgres().await)
        .await
        .unwrap_or_else(|err| panic!("event {id} is not stored: {err}"))
}

fn receipt(id: &str, duplicate: bool) -> Value {
    json!({ "received": true, "duplicate": duplicate, "id": id })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_api_delivery_with_mixed_case_header_is_stored_once() {
    on_postgres(|db| async move {
        let function = Function::start(&db).await;
        let event = recorded("rest_v1_signed.json");
        let id = "evt-rest-v1-signed";

        let first = function.invoke(event.clone()).await;
        let again = function.invoke(event.clone()).await;

        assert_eq!(first, (200, receipt(id, false)));
        assert_eq!(again, (200, receipt(id, true)));
        assert_eq!(db.count_events().await, 1);
        assert_eq!(stored_body(&db, id).await, body_bytes(&event));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_api_delivery_with_lower_case_header_is_stored() {
    on_postgres(|db| async move {
        let function = Function::start(&db).await;
        let event = recorded("http_v2_signed.json");

        let answer = function.runtime.invoke(event.clone()).await;

        let Outcome::Response(response) = answer else {
            panic!("the invocation failed: {answer:?}");
        };
        // A payload 2.0 response, its body as text (JSON needs no binary media type).
        assert_eq!(response["isBase64Encoded"], false, "{response}");
        assert_eq!(response["headers"]["content-type"], "application/json");
        let (status, body) = crate::function::status_and_json(&response);
        assert_eq!((status, body), (200, receipt("evt-http-v2-signed", false)));
        assert_eq!(
            stored_body(&db, "evt-http-v2-signed").await,
            body_bytes(&event)
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn base64_bodies_are_verified_and_stored_as_their_decoded_bytes() {
    on_postgres(|db| async move {
        let function = Function::start(&db).await;
        let cases = [
            // REST API, stage `prod`, non-ASCII text and an escaped NUL in the body.
            ("rest_v1_base64_signed.json", "evt-rest-v1-base64"),
            // HTTP API on a named stage: rawPath is /prod/webhooks/dash.
            ("http_v2_stage_base64_signed.json", "evt-http-v2-base64"),
        ];
        for (name, id) in cases {
            let event = recorded(name);
            assert_eq!(
                function.invoke(event.clone()).await,
                (200, receipt(id, false)),
                "{name}"
            );
            assert_eq!(stored_body(&db, id).await, body_bytes(&event), "{name}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_wrongly_signed_and_invalid_deliveries_store_nothing() {
    on_postgres(|db| async move {
        let function = Function::start(&db).await;
        let cases = [
            ("rest_v1_unsigned.json", 401, None),
            ("rest_v1_wrong_signature.json", 401, None),
            ("http_v2_invalid_json.json", 400, None),
        ];
        for (name, expected, word) in cases {
            let (status, body) = function.invoke(recorded(name)).await;
            assert_error(name, status, &body, expected, word);
        }
        assert_eq!(db.count_events().await, 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_is_not_base64_fails_only_its_invocation() {
    on_postgres(|db| async move {
        let function = Function::start(&db).await;
        let mut broken = recorded("rest_v1_signed.json");
        broken["isBase64Encoded"] = json!(true);
        broken["body"] = json!("this is not base64!");

        let answer = function.runtime.invoke(broken).await;
        let after = function.invoke(recorded("rest_v1_signed.json")).await;

        assert!(matches!(answer, Outcome::Error(_)), "{answer:?}");
        assert_eq!(after, (200, receipt("evt-rest-v1-signed", false)));
        assert_eq!(db.count_events().await, 1);
    })
    .await;
}
