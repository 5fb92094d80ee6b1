//! The query API through API Gateway: the same bearer token as `serve`, query strings from
//! either payload format, and the live tail answered as a bounded window (long polling) rather
//! than held open past API Gateway's time limit.

use std::time::Duration;

use serde_json::json;

use crate::function::{Function, TOKEN, recorded};
use crate::helpers::{assert_error, ids_of};
use crate::on_postgres;
use crate::runtime::{Outcome, Timing};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_listed_and_fetched_with_the_api_token() {
    on_postgres(|db| async move {
        let function = Function::start(&db).await;
        for name in ["rest_v1_signed.json", "http_v2_signed.json"] {
            assert_eq!(function.invoke(recorded(name)).await.0, 200, "{name}");
        }

        // REST API, repeated `type` in multiValueQueryStringParameters, `limit`.
        let (status, page) = function.invoke(recorded("rest_v1_list_events.json")).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(ids_of(&page), ["evt-rest-v1-signed", "evt-http-v2-signed"]);
        assert_eq!(page["nextCursor"], json!(null));

        // HTTP API, GET /events/{id}: refused without the token, answered with it.
        let mut get_event = recorded("http_v2_get_event_no_token.json");
        let (status, body) = function.invoke(get_event.clone()).await;
        assert_error("no token", status, &body, 401, None);
        get_event["headers"]["authorization"] = json!(format!("Bearer {TOKEN}"));
        let (status, event) = function.invoke(get_event).await;
        assert_eq!(status, 200, "{event}");
        assert_eq!(event["id"], "evt-http-v2-signed");
        assert_eq!(event["type"], "budget:warning");
        assert_eq!(event["data"]["percentage"], 80);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_is_answered_whole_as_text() {
    on_postgres(|db| async move {
        let function = Function::start(&db).await;
        for name in ["rest_v1_signed.json", "http_v2_signed.json"] {
            assert_eq!(function.invoke(recorded(name)).await.0, 200, "{name}");
        }
        let mut export = recorded("rest_v1_list_events.json");
        export["path"] = json!("/events/export");
        export["queryStringParameters"] = json!(null);
        export["multiValueQueryStringParameters"] = json!(null);

        let answer = function.runtime.invoke(export).await;

        let Outcome::Response(response) = answer else {
            panic!("the invocation failed: {answer:?}");
        };
        assert_eq!(response["statusCode"], 200, "{response}");
        // Text, not base64: a REST API without binary media types passes base64 on as it is.
        assert_eq!(response["isBase64Encoded"], false, "{response}");
        let body = response["body"].as_str().expect("a text body");
        let ids: Vec<String> = body
            .lines()
            .map(|line| {
                serde_json::from_str::<serde_json::Value>(line).expect("NDJSON")["id"].to_string()
            })
            .collect();
        assert_eq!(ids, ["\"evt-rest-v1-signed\"", "\"evt-http-v2-signed\""]);
    })
    .await;
}

/// Milliseconds the function keeps between the end of a stream's window and the invocation's
/// deadline (`DEADLINE_MARGIN` in `src/lambda/answer.rs`), to hand its answer over in time.
const DEADLINE_MARGIN_MS: u128 = 500;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_live_stream_answers_empty_before_the_invocation_deadline() {
    on_postgres(|db| async move {
        let function = Function::start(&db).await;
        let mut stream = recorded("http_v2_get_event_no_token.json");
        stream["rawPath"] = json!("/events/stream");
        stream["headers"]["authorization"] = json!(format!("Bearer {TOKEN}"));

        let (answer, timing) = function
            .runtime
            .invoke_with_deadline(stream, Duration::from_secs(3))
            .await;

        let Outcome::Response(response) = answer else {
            panic!("the invocation failed: {answer:?}");
        };
        assert_eq!(response["statusCode"], 200, "{response}");
        assert_eq!(response["headers"]["content-type"], "text/event-stream");
        assert_eq!(response["body"], "", "{response}");
        assert_answered_at_the_end_of_the_window(timing);
    })
    .await;
}

/// Asserts that a long poll was held open until its window closed, `DEADLINE_MARGIN_MS` before
/// the deadline, and answered before the deadline, as the fake Runtime API saw it. An answer
/// reached the fake 2–5 ms after the window closed, measured with a load average of 6 on 2 cores:
/// the margin is 100 times that. The window is timed from the invocation's start, so a delay
/// before it (the function preempted) ends it earlier: hence the lower bound a second before the
/// deadline; an answer at once would come 3 s before it.
fn assert_answered_at_the_end_of_the_window(timing: Timing) {
    let Timing {
        deadline_ms,
        answered_ms,
    } = timing;
    assert!(
        answered_ms < deadline_ms,
        "answered {} ms after the invocation's deadline",
        answered_ms - deadline_ms
    );
    assert!(
        answered_ms + 2 * DEADLINE_MARGIN_MS >= deadline_ms,
        "answered {} ms before the deadline: the stream was not held open for its window",
        deadline_ms - answered_ms
    );
}
