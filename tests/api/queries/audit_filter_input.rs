//! Input of the audit filters that is not what it seems: values that look like SQL are only
//! values (they match the events holding them, nothing else), and every bad filter answers 400
//! naming its parameter on `/events`, the export and the stream alike: empty values, more than
//! 20, malformed `data.` paths, a `data.` filter without `since` or over more than 31 days.

use serde_json::json;

use crate::backend::TestDb;
use crate::helpers::{Query, assert_error};
use crate::queries::audit_filters::{DAY, assert_reads, walk_pages};
use crate::support::app::App;

both_backends!(
    sql_looking_input_is_only_a_value,
    bad_filters_answer_400_naming_the_parameter,
);

async fn sql_looking_input_is_only_a_value(db: TestDb) {
    let app = App::start(&db).await;
    let hostile = "a'); drop table events; --";
    let body = json!({
        "id": "hostile", "type": "agent:complete", "timestamp": format!("{DAY}T10:00:00Z"),
        "data": { "agentId": hostile, "note": "' or '1'='1" },
    });
    app.store(&body).await;
    let other = json!({
        "id": "other", "type": "agent:complete", "timestamp": format!("{DAY}T10:00:01Z"),
        "data": { "agentId": "a-1", "note": "x" },
    });
    app.store(&other).await;
    let since = format!("{DAY}T00:00:00Z");
    let cases: [(Query, &[&str]); 6] = [
        (&[("agentId", hostile)], &["hostile"]),
        (&[("agentId", "' or 1=1 --")], &[]),
        (&[("swarmId", "x' or 'a'='a")], &[]),
        (
            &[("data.note", "' or '1'='1"), ("since", &since)],
            &["hostile"],
        ),
        (&[("data.note", "x') or 1=1 --"), ("since", &since)], &[]),
        (&[("webhookId", "\\\"; select 1"), ("agentId", "a-1")], &[]),
    ];
    for (query, ids) in cases {
        let expected: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
        assert_reads(&app, query, &expected).await;
    }
    assert_eq!(walk_pages(&app, &[], "10").await, ["other", "hostile"]);
}

async fn bad_filters_answer_400_naming_the_parameter(db: TestDb) {
    let app = App::start(&db).await;
    let many: Vec<String> = (0..21).map(|n| format!("a-{n}")).collect();
    let many = many.join(",");
    let twenty_data: Vec<(String, String)> = (0..21)
        .map(|n| ("data.f".to_owned(), n.to_string()))
        .collect();
    let since = "2026-11-01T00:00:00Z";
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("agentId", "")], "agentId"),
        (vec![("swarmId", "a,,b")], "swarmId"),
        (vec![("workflowId", ",w")], "workflowId"),
        (vec![("instanceId", "")], "instanceId"),
        (vec![("webhookId", "w,")], "webhookId"),
        (vec![("agentId", many.as_str())], "agentId"),
        (vec![("data.", "1"), ("since", since)], "data."),
        (vec![("data.a.b", "1"), ("since", since)], "data.a.b"),
        (vec![("data.a[0]", "1"), ("since", since)], "data.a[0]"),
        (vec![("data.a b", "1"), ("since", since)], "data.a b"),
        (vec![("data.x", ""), ("since", since)], "data.x"),
        (vec![("data.x", "1")], "since"),
        (
            vec![("data.x", "1"), ("until", "2026-11-28T00:00:00Z")],
            "since",
        ),
        (
            vec![
                ("data.x", "1"),
                ("since", since),
                ("until", "2026-12-02T00:00:01Z"),
            ],
            "since",
        ),
        (
            vec![("data.x", "1"), ("since", "2000-01-01T00:00:00Z")],
            "since",
        ),
    ];
    let data_query: Vec<(&str, &str)> = twenty_data
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain([("since", since)])
        .collect();
    let cases = cases.into_iter().chain([(data_query, "data.f")]);
    for (query, name) in cases {
        for path in ["/events", "/events/export", "/events/stream"] {
            let (status, body) = app.get_query(path, &query).await;
            assert_error(&format!("{path} {query:?}"), status, &body, 400, Some(name));
        }
    }
    let month = [
        ("data.x", "1"),
        ("since", since),
        ("until", "2026-12-02T00:00:00Z"),
    ];
    let (status, body) = app.get_query("/events", &month).await;
    assert_eq!(status, 200, "exactly 31 days is accepted: {body}");
}
