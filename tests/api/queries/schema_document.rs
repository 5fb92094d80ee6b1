//! The OpenAPI document itself, and the checker of `support::openapi`: the checker judges by the
//! document the service serves, and it refuses an answer the document does not describe, saying
//! where and why (each case changes one thing, in a copy of the service's document or in an
//! answer that passes as it is, and expects the refusal to name the spot); parameter values the
//! service refuses are outside their documented schemas.

use reqwest::Method;
use reqwest::header::{ALLOW, CONTENT_TYPE, HeaderMap, HeaderValue};
use serde_json::{Value, json};

use crate::backend::Backend;
use crate::support::app::App;
use crate::support::openapi::{Contract, contract};

const EVENT: &str = r#"{"id":"e1","type":"agent:complete","timestamp":"2026-11-28T10:00:00Z","data":{"cost":0.5},"webhookId":null,"instanceId":"i1","receivedAt":"2026-11-28T10:00:00.123456Z"}"#;
const RECEIPT: &str = r#"{"received":true,"duplicate":false,"id":"e1"}"#;
const STATS: &str =
    r#"{"totalEvents":1,"eventCounts":{"agent:complete":1},"totalCost":0.5,"avgDurationMs":null}"#;
const ERROR: &str = r#"{"error":"no event with id \"e2\""}"#;

/// A request and its answer: method, path, status, content type, body.
type Answer<'a> = (Method, &'a str, u16, &'a str, String);

/// The `Allow` every answer is given: what the router sends with a 405 of `/events`, whose
/// document lists only GET.
const ALLOW_OF_EVENTS: &str = "GET,HEAD";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checker_judges_by_the_openapi_3_1_document_the_service_serves() {
    crate::backend::run(Backend::Sqlite, |db| async move {
        let app = App::start(&db).await;
        let served = app.get_json("/openapi.json").await;
        // Compared whole but not printed: the document is long.
        assert!(
            &served == contract().document(),
            "the checker's document is not the one /openapi.json serves"
        );
        // 3.1's schemas are JSON Schema 2020-12, the draft the checker validates with.
        assert_eq!(served["openapi"], "3.1.0");
    })
    .await;
}

#[test]
fn the_checker_refuses_answers_the_document_does_not_describe() {
    let event_at = |path| (Method::GET, path, 200, "application/json", EVENT.to_owned());
    let passing: [Answer<'static>; 5] = [
        event_at("/events/e1"),
        (
            Method::POST,
            "/webhooks/dash",
            200,
            "application/json",
            RECEIPT.into(),
        ),
        (Method::GET, "/stats", 200, "application/json", STATS.into()),
        (
            Method::GET,
            "/events/e2",
            404,
            "application/json",
            ERROR.into(),
        ),
        (
            Method::GET,
            "/events/export",
            200,
            "application/x-ndjson",
            format!("{EVENT}\n{EVENT}\n"),
        ),
    ];
    let document = contract().document();
    for answer in &passing {
        assert_eq!(verdict(document, answer), Ok(()), "{answer:?}");
    }
    for (case, change, answer, named) in cases(&passing) {
        let mut changed = document.clone();
        change(&mut changed);
        match verdict(&changed, &answer) {
            Ok(()) => panic!("{case}: the checker let {answer:?} pass"),
            Err(problem) => assert!(
                problem.contains(named),
                "{case}: {problem:?} does not name {named:?}"
            ),
        }
    }
}

type Change = fn(&mut Value);

/// (case, change to the document, answer, what the refusal must name).
fn cases(
    passing: &[Answer<'static>; 5],
) -> Vec<(&'static str, Change, Answer<'static>, &'static str)> {
    let [event, receipt, stats, not_found, export] = passing.clone();
    let unchanged: Change = |_| {};
    let with_body = |answer: &Answer<'static>, body: &str| {
        (
            answer.0.clone(),
            answer.1,
            answer.2,
            answer.3,
            body.to_owned(),
        )
    };
    vec![
        (
            "a field's type",
            |d| schema(d, "Event")["properties"]["receivedAt"]["type"] = json!("integer"),
            event.clone(),
            "/receivedAt",
        ),
        (
            "an enum",
            |d| schema(d, "Receipt")["properties"]["duplicate"]["enum"] = json!([true]),
            receipt,
            "/duplicate",
        ),
        (
            "a format",
            unchanged,
            with_body(&event, &EVENT.replace("2026-11-28T10:00:00Z", "yesterday")),
            "date-time",
        ),
        (
            "a required field",
            unchanged,
            with_body(&event, &EVENT.replace(r#""id":"e1","#, "")),
            "\"id\" is a required property",
        ),
        (
            "additionalProperties",
            |d| schema(d, "ErrorBody")["additionalProperties"] = json!(false),
            with_body(&not_found, r#"{"error":"x","hint":"y"}"#),
            "hint",
        ),
        (
            "allOf",
            |d| {
                let stats = schema(d, "Stats").take();
                *schema(d, "Stats") = json!({"allOf": [stats, {"required": ["median"]}]})
            },
            stats.clone(),
            "median",
        ),
        (
            "an item behind $ref",
            unchanged,
            (
                Method::GET,
                "/events",
                200,
                "application/json",
                format!(
                    r#"{{"events":[{}],"nextCursor":null}}"#,
                    EVENT.replace(r#""e1""#, "5")
                ),
            ),
            "/events/0/id",
        ),
        (
            "an NDJSON line",
            unchanged,
            with_body(
                &export,
                &format!(
                    "{EVENT}\n{}\n",
                    EVENT.replace(r#","receivedAt":"2026-11-28T10:00:00.123456Z""#, "")
                ),
            ),
            "line 2",
        ),
        (
            "a body that is not JSON",
            unchanged,
            with_body(&stats, "oops"),
            "not JSON",
        ),
        (
            "an undocumented status",
            unchanged,
            (
                Method::POST,
                "/webhooks/dash",
                418,
                "application/json",
                ERROR.into(),
            ),
            "418",
        ),
        (
            "an undocumented content type",
            unchanged,
            (Method::GET, "/stats", 200, "text/plain", "1".into()),
            "text/plain",
        ),
        (
            "a path outside the document",
            unchanged,
            (
                Method::GET,
                "/no/such/path",
                200,
                "application/json",
                "{}".into(),
            ),
            "not in the document",
        ),
        (
            "a 405 with a wrong Allow",
            |d| d["paths"]["/events"]["post"] = d["paths"]["/events"]["get"].clone(),
            (
                Method::DELETE,
                "/events",
                405,
                "application/json",
                ERROR.into(),
            ),
            "Allow",
        ),
    ]
}

/// The schema `name` of the document's components.
fn schema<'a>(document: &'a mut Value, name: &str) -> &'a mut Value {
    &mut document["components"]["schemas"][name]
}

/// What the checker, compiled from `document`, says of `answer`.
fn verdict(
    document: &Value,
    (method, path, status, content_type, body): &Answer,
) -> Result<(), String> {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_str(content_type).unwrap());
    headers.insert(ALLOW, HeaderValue::from_static(ALLOW_OF_EVENTS));
    Contract::compile(document.clone()).check(method, path, (*status, &headers, body.as_bytes()))
}

/// Parameter values the service refuses (400) are outside their documented schema, so that a
/// schema-driven client never generates them as valid (schemathesis found `type=` and
/// `cursor=` documented as plain strings). SQLite only: this reads the document and parses
/// parameters, before any database access.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_query_parameters_are_outside_their_documented_schema() {
    crate::backend::run(Backend::Sqlite, |db| async move {
        let app = App::start(&db).await;
        let doc = app.get_json("/openapi.json").await;
        let parameters = doc["paths"]["/events"]["get"]["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let schema_of = |name: &str| {
            parameters
                .iter()
                .find(|p| p["name"] == name)
                .map(|p| p["schema"].clone())
                .unwrap_or_else(|| panic!("no parameter {name}"))
        };
        let (type_schema, cursor_schema) = (schema_of("type"), schema_of("cursor"));
        assert_eq!(type_schema["pattern"], "^[^,]+(,[^,]+)*$", "{type_schema}");
        for name in [
            "agentId",
            "swarmId",
            "workflowId",
            "instanceId",
            "webhookId",
        ] {
            let schema = schema_of(name);
            assert_eq!(
                schema["pattern"], r"^[^,\u0000]+(,[^,\u0000]+)*$",
                "{name}: {schema}"
            );
        }
        assert_eq!(cursor_schema["minLength"], 1, "{cursor_schema}");
        for (value, name) in [
            ("", "type"),
            ("a,,b", "type"),
            (",a", "type"),
            ("", "cursor"),
            ("", "agentId"),
            ("a,,b", "swarmId"),
            (",w", "webhookId"),
        ] {
            let (status, body) = app.get_query("/events", &[(name, value)]).await;
            assert_eq!(status, 400, "{name}={value:?}: {body}");
        }
        let accepted = app
            .get_query("/events", &[("type", "agent:complete,x")])
            .await;
        assert_eq!(accepted.0, 200, "{accepted:?}");
    })
    .await;
}
