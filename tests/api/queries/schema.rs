//! The OpenAPI document at `/openapi.json` against the service's real answers. Every answer of
//! the contract's tables that a test can provoke (the 503s have tests of their own) is checked
//! against the document: its status must be listed for its operation, and a JSON body must have
//! the documented required fields with the documented JSON types, down through nested schemas.
//! `.ci/schemathesis.sh` fuzzes the same document with generated requests; this is the
//! deterministic part, run by `cargo test` on both backends.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use crate::backend::{Backend, TestDb};
use crate::helpers::{event, new_id, sign, status_and_json};
use crate::support::app::{App, api_token};
use crate::support::raw_client::{self as raw, read_until_closed, split_answer};

both_backends!(every_answer_provoked_is_documented_with_its_status_and_shape);

/// (method, path template, status, JSON body or `Value::Null` for a non-JSON answer).
type Answer = (&'static str, &'static str, u16, Value);

async fn every_answer_provoked_is_documented_with_its_status_and_shape(db: TestDb) {
    let app = App::start_with(&db, |config| {
        api_token(config, "schema-token");
        config.max_body_bytes = 4096;
        // The 408 of a body that stops half-way comes after 500 ms instead of 15 s.
        config.limits.body_read_timeout = Duration::from_millis(500);
    })
    .await;
    let doc = app.get_json("/openapi.json").await;

    let mut answers = webhook_answers(&app).await;
    answers.extend(query_answers(&app).await);
    answers.push(("post", "/webhooks/dash", 408, slow_body_answer(&app).await));

    for (method, path, status, body) in &answers {
        check_answer(&doc, method, path, *status, body);
    }
    let statuses: Vec<u16> = answers.iter().map(|answer| answer.2).collect();
    for expected in [200, 400, 401, 404, 408, 409, 413, 415] {
        assert!(statuses.contains(&expected), "no {expected} was provoked");
    }
}

/// The answers of the contract's webhook table (but 503), in its order.
async fn webhook_answers(app: &App) -> Vec<Answer> {
    let id = new_id();
    let body = serde_json::to_vec(&event(&id)).expect("serialize");
    let json_type = (CONTENT_TYPE.as_str(), "application/json");
    let mut other = event(&id);
    other["data"]["cost"] = json!(1.5);
    let post = |body: Vec<u8>, headers: Vec<(&'static str, String)>| async move {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let answer = status_and_json(app.post_webhook(body, &headers).await).await;
        ("post", "/webhooks/dash", answer.0, answer.1)
    };
    let signed = |body: &[u8]| {
        vec![
            (json_type.0, json_type.1.to_owned()),
            ("x-dash-signature", sign(&app.secret, body)),
        ]
    };
    let other_body = serde_json::to_vec(&other).expect("serialize");
    vec![
        post(vec![b' '; 8192], signed(&[b' '; 8192])).await,
        post(
            body.clone(),
            vec![("x-dash-signature", sign(&app.secret, &body))],
        )
        .await,
        post(body.clone(), vec![(json_type.0, json_type.1.to_owned())]).await,
        post(b"{not json".to_vec(), signed(b"{not json")).await,
        post(body.clone(), signed(&body)).await,
        post(body.clone(), signed(&body)).await,
        post(other_body.clone(), signed(&other_body)).await,
    ]
}

/// Answers of the query API and the operations endpoints.
async fn query_answers(app: &App) -> Vec<Answer> {
    let id = new_id();
    app.store(&event(&id)).await;
    let get = |path: String, template: &'static str, token: bool| async move {
        let request = if token {
            app.request(Method::GET, &path)
        } else {
            app.client.get(app.url(&path))
        };
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let is_json = response
            .headers()
            .get(CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
        let body = if is_json {
            response.json().await.expect("JSON body")
        } else {
            Value::Null
        };
        ("get", template, status, body)
    };
    let (events, one, stats) = ("/events", "/events/{id}", "/stats");
    let (body, timeline) = ("/events/{id}/body", "/stats/timeline");
    vec![
        get("/events".into(), events, true).await,
        get("/events?limit=1".into(), events, true).await,
        get("/events?limit=0".into(), events, true).await,
        get("/events".into(), events, false).await,
        get(format!("/events/{id}"), one, true).await,
        get(format!("/events/{}", new_id()), one, true).await,
        get(format!("/events/{id}"), one, false).await,
        get("/stats".into(), stats, true).await,
        get("/stats?since=yesterday".into(), stats, true).await,
        get("/stats".into(), stats, false).await,
        get(format!("/events/{id}/body"), body, true).await,
        get(format!("/events/{}/body", new_id()), body, true).await,
        get(format!("/events/{id}/body"), body, false).await,
        get("/stats/timeline".into(), timeline, true).await,
        get("/stats/timeline?bucket=week".into(), timeline, true).await,
        get("/stats/timeline".into(), timeline, false).await,
        get("/".into(), "/", false).await,
        get("/healthz".into(), "/healthz", false).await,
        get("/readyz".into(), "/readyz", false).await,
        get("/metrics".into(), "/metrics", false).await,
        get("/openapi.json".into(), "/openapi.json", false).await,
    ]
}

/// The 408 of a body that stops half-way; also checked by `ingest::slow_clients`.
async fn slow_body_answer(app: &App) -> Value {
    let (mut reader, mut writer) = raw::connect(app.addr).await.into_split();
    let head = "POST /webhooks/dash HTTP/1.1\r\nhost: 127.0.0.1\r\n\
                content-type: application/json\r\ncontent-length: 100\r\n\r\n{";
    writer
        .write_all(head.as_bytes())
        .await
        .expect("send the head");
    let seen = AtomicBool::new(false);
    let limit = Duration::from_secs(10);
    let (answer, _) = read_until_closed(&mut reader, Instant::now(), limit, &seen).await;
    assert_eq!(
        raw::status(&answer),
        Some(408),
        "{:?}",
        split_answer(&answer)
    );
    serde_json::from_str(&split_answer(&answer).1).expect("a JSON 408 body")
}

/// Asserts that `status` is documented for the operation and that a JSON `body` has its shape.
fn check_answer(doc: &Value, method: &str, path: &str, status: u16, body: &Value) {
    let operation = &doc["paths"][path][method];
    assert!(
        operation.is_object(),
        "{method} {path} is not in the document"
    );
    let what = format!("{method} {path} answered {status}");
    let Some(response) = operation["responses"].get(status.to_string()) else {
        panic!("{what}, which the document does not list: {body}");
    };
    match response.pointer("/content/application~1json/schema") {
        Some(schema) => {
            if let Err(problem) = check_shape(doc, schema, body, "body") {
                panic!("{what}: {problem}\n{body}");
            }
        }
        None => assert!(
            body.is_null(),
            "{what} with JSON the document does not describe: {body}"
        ),
    }
}

/// Checks `value` against the parts of a JSON Schema utoipa emits: `$ref`, `type` (one or a
/// list), `required`, `properties`, `items` and `oneOf`/`anyOf`.
fn check_shape(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(doc, schema)?;
    if let Some(variants) = schema.get("oneOf").or_else(|| schema.get("anyOf")) {
        let variants = variants.as_array().ok_or(format!("{at}: bad oneOf"))?;
        if !variants
            .iter()
            .any(|v| check_shape(doc, v, value, at).is_ok())
        {
            return Err(format!(
                "{at}: {value} matches none of {}",
                Value::from(variants.clone())
            ));
        }
    }
    if let Some(types) = schema.get("type") {
        let listed: Vec<&str> = match types {
            Value::Array(types) => types.iter().filter_map(Value::as_str).collect(),
            other => other.as_str().into_iter().collect(),
        };
        if !listed.iter().any(|t| is_of_type(value, t)) {
            return Err(format!("{at}: {value} is not of type {types}"));
        }
    }
    for name in schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if value.get(name).is_none() {
            return Err(format!("{at}: the required `{name}` is missing"));
        }
    }
    if let (Some(properties), Some(object)) = (schema["properties"].as_object(), value.as_object())
    {
        for (name, property) in properties {
            if let Some(field) = object.get(name) {
                check_shape(doc, property, field, &format!("{at}.{name}"))?;
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            check_shape(doc, items, item, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> Result<&'a Value, String> {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => reference
            .strip_prefix('#')
            .and_then(|pointer| doc.pointer(pointer))
            .ok_or(format!("unresolved {reference}")),
        None => Ok(schema),
    }
}

fn is_of_type(value: &Value, json_type: &str) -> bool {
    match json_type {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => true,
    }
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
        assert_eq!(cursor_schema["minLength"], 1, "{cursor_schema}");
        for (value, name) in [
            ("", "type"),
            ("a,,b", "type"),
            (",a", "type"),
            ("", "cursor"),
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
