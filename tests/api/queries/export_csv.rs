//! `GET /events/export?format=csv`: the events of the NDJSON export, in its order, as CSV rows
//! under a fixed header (the audit ids, cost and duration in their own columns, `data` as JSON),
//! quoted so that commas, quotes and line breaks in the data read back unchanged; offered as a
//! file (`Content-Disposition`); a bad `format` is a 400 naming it.

use serde_json::{Value, json};

use crate::backend::TestDb;
use crate::helpers::{assert_error, new_id};
use crate::queries::export::{export_raw, lines};
use crate::support::app::App;

both_backends!(
    csv_export_reads_back_as_the_ndjson_export,
    csv_export_of_nothing_is_the_header_alone,
    csv_export_refuses_a_bad_format_naming_it,
);

/// The header row every CSV export starts with.
const HEADER: [&str; 12] = [
    "id",
    "type",
    "timestamp",
    "receivedAt",
    "agentId",
    "swarmId",
    "workflowId",
    "instanceId",
    "webhookId",
    "cost",
    "durationMs",
    "data",
];

/// Events whose text needs quoting in CSV: commas, quotes, line breaks (LF, CRLF, a lone CR),
/// non-ASCII; and fields absent or of another kind than their column expects.
fn awkward_events() -> Vec<Value> {
    let at = |minute: u32| format!("2026-11-28T10:{minute:02}:00.250Z");
    vec![
        json!({"id": new_id(), "type": "agent:complete", "timestamp": at(1),
            "webhookId": "wh,1", "instanceId": "inst \"one\"",
            "data": {"agentId": "agent, the \"first\"", "swarmId": "swarm-1", "workflowId": "wf-1",
                "result": "line one\nline two\r\nline three\rend", "cost": 0.1, "durationMs": 1500}}),
        json!({"id": new_id(), "type": "agent:error", "timestamp": at(2),
            "data": {"agentId": "agent-ü", "error": "\"quoted\" at start, and a comma", "cost": 2}}),
        json!({"id": new_id(), "type": "swarm:progress", "timestamp": at(3),
            "data": {"agentId": 42, "swarmId": null, "cost": "0.5", "durationMs": {"ms": 1}}}),
        json!({"id": format!("{},with \"quotes\"", new_id()), "type": "budget:warning",
            "timestamp": at(4), "webhookId": "wh_2", "data": {}}),
    ]
}

async fn csv_export_reads_back_as_the_ndjson_export(db: TestDb) {
    let app = App::start(&db).await;
    for event in awkward_events() {
        app.store(&event).await;
    }

    let (_, _, ndjson) = export_raw(&app, &app.client, &[]).await;
    let (status, content_type, csv) = export_raw(&app, &app.client, &[("format", "csv")]).await;
    let (_, _, filtered) = export_raw(
        &app,
        &app.client,
        &[("format", "csv"), ("type", "agent:error,budget:warning")],
    )
    .await;

    assert_eq!(status, 200);
    assert_eq!(content_type, "text/csv; charset=utf-8; header=present");
    let events = lines(&ndjson);
    assert_eq!(events.len(), 4);
    let rows = csv_rows(&csv);
    assert_eq!(rows.len(), events.len(), "one row per event");
    for (row, event) in rows.iter().zip(&events) {
        assert_eq!(row[..11], expected_columns(event), "row of {}", event["id"]);
        let data: Value = serde_json::from_str(&row[11]).expect("data is JSON");
        assert_eq!(data, event["data"], "data of {}", event["id"]);
    }
    let types: Vec<String> = csv_rows(&filtered)
        .into_iter()
        .map(|r| r[1].clone())
        .collect();
    assert_eq!(types, ["budget:warning", "agent:error"]);
}

async fn csv_export_of_nothing_is_the_header_alone(db: TestDb) {
    let app = App::start(&db).await;

    let response = app
        .send(app.authorize(app.client.get(app.url("/events/export?format=csv"))))
        .await;

    assert_eq!(response.status(), 200);
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.starts_with("attachment; filename=\"dash-events-")
            && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    let body = response.bytes().await.unwrap();
    assert_eq!(&body[..], format!("{}\r\n", HEADER.join(",")).as_bytes());
}

async fn csv_export_refuses_a_bad_format_naming_it(db: TestDb) {
    let app = App::start(&db).await;
    let cases: [&[(&str, &str)]; 5] = [
        &[("format", "xml")],
        &[("format", "")],
        &[("format", "CSV")],
        &[("format", "csv"), ("format", "ndjson")],
        &[("format", "csv"), ("limit", "5")],
    ];
    for query in cases {
        let (status, body) = app.get_query("/events/export", query).await;
        let word = if query.len() == 2 && query[1].0 == "limit" {
            "limit"
        } else {
            "format"
        };
        assert_error(&format!("{query:?}"), status, &body, 400, Some(word));
    }
}

/// The data rows of a CSV export, after checking its header; every row ends in CRLF.
fn csv_rows(body: &[u8]) -> Vec<Vec<String>> {
    assert!(body.ends_with(b"\r\n"), "the last row is not ended");
    let mut reader = csv::ReaderBuilder::new().from_reader(body);
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, HEADER);
    reader
        .records()
        .map(|record| {
            record
                .expect("a CSV row")
                .iter()
                .map(String::from)
                .collect()
        })
        .collect()
}

/// The columns an NDJSON event should become, but for `data` (compared as JSON: its key order
/// is serde_json's).
fn expected_columns(event: &Value) -> Vec<String> {
    let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
    let number = |value: &Value| match value {
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    let data = &event["data"];
    let mut row: Vec<String> = ["id", "type", "timestamp", "receivedAt"]
        .iter()
        .map(|key| text(&event[key]))
        .collect();
    row.extend(["agentId", "swarmId", "workflowId"].map(|key| text(&data[key])));
    row.extend(["instanceId", "webhookId"].map(|key| text(&event[key])));
    row.extend(["cost", "durationMs"].map(|key| number(&data[key])));
    row
}
