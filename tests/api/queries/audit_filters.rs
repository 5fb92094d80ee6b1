//! The audit filters on the endpoints that list events (`GET /events` and `GET /events/export`;
//! the stream's are in `stream::filters`): `agentId`, `swarmId`, `workflowId`, `instanceId`,
//! `webhookId` and `data.<field>`, alone, with several values, combined with each other and with
//! `type`, `since` and `until`. Each case is compared with what the test computes from the events
//! it stored: every page walked with its cursor yields each match once, in order, and the export
//! equals all the pages. Then the typing of `data.` values and bodies the database cannot read.
//! (Input that looks like SQL and the 400s are in `audit_filter_input`.)

use serde_json::{Value, json};

use crate::backend::TestDb;
use crate::helpers::{assert_error, ids_of, status_and_json};
use crate::queries::export::{export_raw, lines};
use crate::support::app::App;

both_backends!(
    each_filter_alone_and_combined_pages_and_exports_exactly_its_events,
    data_values_are_typed_and_odd_bodies_never_fail_a_page,
);

/// The day the seeded events are spread over.
pub(crate) const DAY: &str = "2026-11-28";
const TYPES: [&str; 4] = [
    "agent:complete",
    "agent:error",
    "swarm:complete",
    "workflow:step",
];

/// A seeded event as the test knows it: its id, type, minute of `DAY` and body.
pub(crate) struct Seeded {
    pub(crate) id: String,
    event_type: &'static str,
    minute: u32,
    pub(crate) body: Value,
}

/// `count` events (at most 960) with every shape of id: strings, absent, a number, an empty
/// string; two events at each minute, so that pages cut between ties.
pub(crate) fn seeded(count: u32) -> Vec<Seeded> {
    let agents = [
        json!("a-1"),
        json!("a-2"),
        json!("a-3"),
        json!(null),
        json!(7),
        json!(""),
    ];
    let swarms = [json!("s-1"), json!("s-2"), json!(null)];
    let workflows = [json!("w-1"), json!(null)];
    let instances = [json!("i-1"), json!("i-2")];
    let webhooks = [json!("wh-1"), json!("wh-2"), json!(null), json!("wh-1")];
    let numbers = [
        json!(42),
        json!("42"),
        json!(true),
        json!(42.0),
        json!(null),
    ];
    (0..count)
        .map(|i| {
            let n = i as usize;
            let minute = i / 2 * 3;
            let mut data = serde_json::Map::new();
            for (salt, field, choices) in [
                (1, "agentId", &agents[..]),
                (2, "swarmId", &swarms[..]),
                (3, "workflowId", &workflows[..]),
                (4, "n", &numbers[..]),
            ] {
                let value = &choices[pick(n, salt, choices.len())];
                if !value.is_null() {
                    data.insert(field.into(), value.clone());
                }
            }
            let id = format!("e{i:03}");
            let event_type = TYPES[pick(n, 5, TYPES.len())];
            let mut body = json!({
                "id": id, "type": event_type,
                "timestamp": format!("{DAY}T{:02}:{:02}:00Z", minute / 60, minute % 60),
                "data": data,
                "instanceId": instances[pick(n, 6, 2)],
            });
            let webhook = &webhooks[pick(n, 7, webhooks.len())];
            if !webhook.is_null() {
                body["webhookId"] = webhook.clone();
            }
            Seeded {
                id,
                event_type,
                minute,
                body,
            }
        })
        .collect()
}

/// A choice among `choices` for event `n`, spread so that the fields do not go together.
fn pick(n: usize, salt: u64, choices: usize) -> usize {
    let mixed = (n as u64 + salt * 1000).wrapping_mul(2_654_435_761) >> 7;
    (mixed % choices as u64) as usize
}

/// Whether `event` passes the filters of `query`, as the service should read them.
fn matches(event: &Seeded, query: &[(&str, &str)]) -> bool {
    let field = |name: &str| match name {
        "agentId" | "swarmId" | "workflowId" => event.body["data"][name].clone(),
        _ => event.body[name].clone(),
    };
    let minute_of = |value: &str| {
        let time = value
            .strip_prefix(&format!("{DAY}T"))
            .expect("a time of DAY");
        time[..2].parse::<u32>().unwrap() * 60 + time[3..5].parse::<u32>().unwrap()
    };
    let mut names: Vec<&str> = query.iter().map(|(name, _)| *name).collect();
    names.sort_unstable();
    names.dedup();
    names.into_iter().all(|name| {
        let values = query
            .iter()
            .filter(|(n, _)| *n == name)
            .flat_map(|(_, v)| v.split(','));
        match name {
            "type" => values.into_iter().any(|v| v == event.event_type),
            "since" => event.minute >= minute_of(query_value(query, name)),
            "until" => event.minute < minute_of(query_value(query, name)),
            "data.n" => values
                .into_iter()
                .any(|v| same(&event.body["data"]["n"], &typed(v))),
            _ => values.into_iter().any(|v| field(name) == json!(v)),
        }
    })
}

fn query_value<'a>(query: &[(&str, &'a str)], name: &str) -> &'a str {
    query.iter().find(|(n, _)| *n == name).expect(name).1
}

/// JSON equality with numbers compared as numbers (42 is 42.0).
fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// A `data.` value as the design types it.
fn typed(text: &str) -> Value {
    match serde_json::from_str(text) {
        Ok(value @ (Value::Number(_) | Value::Bool(_) | Value::String(_))) => value,
        _ => json!(text),
    }
}

/// The ids matching `query`, newest first, ties by id descending.
pub(crate) fn expected(events: &[Seeded], query: &[(&str, &str)]) -> Vec<String> {
    let mut matching: Vec<&Seeded> = events.iter().filter(|e| matches(e, query)).collect();
    matching.sort_by(|a, b| (b.minute, &b.id).cmp(&(a.minute, &a.id)));
    matching.into_iter().map(|e| e.id.clone()).collect()
}

/// Every page of `GET /events` with `query` and `limit`, following `nextCursor`.
pub(crate) async fn walk_pages(app: &App, query: &[(&str, &str)], limit: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut params = query.to_vec();
        params.push(("limit", limit));
        if let Some(cursor) = &cursor {
            params.push(("cursor", cursor));
        }
        let (status, page) = app.get_query("/events", &params).await;
        assert_eq!(status, 200, "{params:?}: {page}");
        ids.extend(ids_of(&page));
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return ids,
        }
    }
}

async fn export_ids(app: &App, query: &[(&str, &str)]) -> Vec<String> {
    let (status, _, body) = export_raw(app, &app.client, query).await;
    assert_eq!(status, 200, "{query:?}");
    lines(&body)
        .iter()
        .map(|e| e["id"].as_str().expect("an id").to_owned())
        .collect()
}

/// Asserts that pages of 7 and of 1000, and the export, answer exactly `expected`.
pub(crate) async fn assert_reads(app: &App, query: &[(&str, &str)], expected: &[String]) {
    assert_eq!(
        walk_pages(app, query, "7").await,
        expected,
        "pages of 7: {query:?}"
    );
    assert_eq!(
        walk_pages(app, query, "1000").await,
        expected,
        "one page: {query:?}"
    );
    assert_eq!(export_ids(app, query).await, expected, "export: {query:?}");
}

async fn each_filter_alone_and_combined_pages_and_exports_exactly_its_events(db: TestDb) {
    let app = App::start(&db).await;
    let events = seeded(120);
    for event in &events {
        app.store(&event.body).await;
    }
    let since = format!("{DAY}T00:35:00Z");
    let until = format!("{DAY}T02:10:00Z");
    let window = [("since", since.as_str()), ("until", until.as_str())];
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![("agentId", "a-1")],
        vec![("swarmId", "s-2")],
        vec![("workflowId", "w-1")],
        vec![("instanceId", "i-2")],
        vec![("webhookId", "wh-1")],
        vec![("agentId", "a-1,a-3")],
        vec![
            ("agentId", "a-3"),
            ("agentId", "a-2,a-3"),
            ("agentId", "none"),
        ],
        vec![("agentId", "a-2"), ("type", "agent:error,swarm:complete")],
        vec![("swarmId", "s-1"), ("type", "agent:complete")],
        vec![
            ("agentId", "a-1,a-2"),
            ("swarmId", "s-1"),
            ("webhookId", "wh-1"),
        ],
        vec![("workflowId", "w-1"), ("instanceId", "i-1")],
        vec![
            ("instanceId", "i-1,i-2"),
            ("webhookId", "wh-2"),
            ("type", "workflow:step"),
        ],
        vec![("agentId", "a-2"), window[0], window[1]],
        vec![("webhookId", "wh-1,wh-2"), window[0]],
        vec![("swarmId", "s-1,s-2"), ("workflowId", "w-1"), window[1]],
        vec![("data.n", "42"), window[0], window[1]],
        vec![
            ("data.n", "42"),
            ("agentId", "a-1,a-3"),
            window[0],
            window[1],
        ],
        vec![
            ("data.n", "\"42\""),
            ("data.n", "true"),
            ("type", "agent:complete"),
            window[0],
        ],
        vec![("agentId", "7")],
        vec![("agentId", "nobody")],
    ];
    for query in cases {
        let expected = expected(&events, &query);
        eprintln!("{} events for {query:?}", expected.len());
        assert_reads(&app, &query, &expected).await;
    }
}

/// Bodies with every kind of `data.n`, and a body PostgreSQL's json cannot turn into text (a
/// `\u0000` escape, a lone surrogate), which a `data.` filter must pass over, not fail on.
async fn data_values_are_typed_and_odd_bodies_never_fail_a_page(db: TestDb) {
    let app = App::start(&db).await;
    let values = [
        ("int", json!(42)),
        ("float", json!(42.0)),
        ("fraction", json!(42.5)),
        ("string", json!("42")),
        ("word", json!("abc")),
        ("quoted", json!("\"abc\"")),
        ("yes", json!(true)),
        ("no", json!(false)),
        ("null", json!(null)),
        ("object", json!({ "n": 42 })),
        ("list", json!([42])),
    ];
    for (n, (id, value)) in values.iter().enumerate() {
        let body = json!({
            "id": id, "type": "agent:complete",
            "timestamp": format!("{DAY}T10:{n:02}:00Z"), "data": { "n": value },
        });
        app.store(&body).await;
    }
    let odd = format!(
        r#"{{"id":"odd","type":"agent:complete","timestamp":"{DAY}T11:00:00Z",
        "data":{{"n":"\uD83D","text":"nul \u0000 here","agentId":"a\u0000b"}}}}"#
    );
    let (status, answer) = status_and_json(app.deliver_bytes(odd.as_bytes()).await).await;
    assert_eq!(status, 200, "the odd body is stored: {answer}");
    let since = format!("{DAY}T00:00:00Z");
    let cases: [(&str, &[&str]); 10] = [
        ("42", &["float", "int"]),
        ("42.0", &["float", "int"]),
        ("4.2e1", &["float", "int"]),
        ("\"42\"", &["string"]),
        ("abc", &["word"]),
        ("\"abc\"", &["word"]),
        ("\"\\\"abc\\\"\"", &["quoted"]),
        ("true", &["yes"]),
        ("false", &["no"]),
        ("null", &[]),
    ];
    for (value, ids) in cases {
        let query = [("data.n", value), ("since", since.as_str())];
        let mut expected: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
        expected.sort_by(|a, b| b.cmp(a));
        let mut listed = walk_pages(&app, &query, "1000").await;
        listed.sort_by(|a, b| b.cmp(a));
        assert_eq!(listed, expected, "data.n={value}");
        let mut exported = export_ids(&app, &query).await;
        exported.sort_by(|a, b| b.cmp(a));
        assert_eq!(exported, expected, "export of data.n={value}");
    }
    let query = [("data.text", "nul \u{0}"), ("since", since.as_str())];
    let (status, body) = app.get_query("/events", &query).await;
    assert_error(
        "a NUL in a data value",
        status,
        &body,
        400,
        Some("data.text"),
    );
    for (field, value) in [
        ("text", "x"),
        ("text", "nul "),
        ("n", "x"),
        ("agentId", "a"),
    ] {
        let name = format!("data.{field}");
        let query = [(name.as_str(), value), ("since", since.as_str())];
        assert!(walk_pages(&app, &query, "5").await.is_empty(), "{query:?}");
    }
}
