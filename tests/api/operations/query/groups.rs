//! Groups: `--group-by` prints what `GET /stats/groups` answers (every page of it) for each key,
//! both orders and the filters, as JSON lines, CSV and a table; `--limit` keeps the first.

use serde_json::Value;

use super::{WINDOW, csv_rows, event, json_lines, query, query_ok};
use crate::backend::TestDb;
use crate::support::app::App;
use crate::support::http::Http;

both_backends!(query_groups_like_the_api_with_serve_stopped);

/// The CSV columns of a group.
const GROUP_HEADER: [&str; 7] = [
    "key",
    "events",
    "cost",
    "totalCost",
    "durationCount",
    "durationMeanMs",
    "durationMaxMs",
];

const KEYS: [&str; 7] = [
    "agentId",
    "swarmId",
    "workflowId",
    "instanceId",
    "webhookId",
    "type",
    "day",
];

async fn query_groups_like_the_api_with_serve_stopped(db: TestDb) {
    let app = App::start(&db).await;
    for n in 0..36 {
        app.store(&event(n)).await;
    }
    let mut cases: Vec<(Vec<&str>, Vec<Value>)> = Vec::new();
    for by in KEYS {
        for sort in ["cost", "events"] {
            let flags = vec!["--group-by", by, "--sort", sort];
            cases.push((flags.clone(), all_groups(&app, &flags).await));
        }
    }
    let filtered = [
        "--group-by",
        "agentId",
        "--type",
        "agent:complete,agent:error",
    ];
    let mut data = vec!["--group-by", "swarmId", "--data", "status=ok"];
    data.extend(WINDOW);
    for flags in [
        &filtered[..],
        &["--group-by", "type", "--workflow", "wf-main"],
        &data,
    ] {
        cases.push((flags.to_vec(), all_groups(&app, flags).await));
    }
    app.stop().await;

    for (flags, groups) in &cases {
        assert!(!groups.is_empty(), "{flags:?}: no group to compare");
        let printed = json_lines(&query_ok(&db, flags, "json").await);
        assert_eq!(&printed, groups, "{flags:?} --format json");
        let rows = csv_rows(&query_ok(&db, flags, "csv").await, &GROUP_HEADER);
        let expected: Vec<Vec<String>> = groups.iter().map(csv_row_of).collect();
        assert_eq!(rows, expected, "{flags:?} --format csv");
    }
    let (flags, groups) = &cases[0];
    let mut first_two = flags.clone();
    first_two.extend(["--limit", "2"]);
    let printed = json_lines(&query_ok(&db, &first_two, "json").await);
    assert_eq!(printed, groups[..2], "--limit keeps the first groups");
    let table = query(&db, &["--group-by", "agentId"], &[("COLUMNS", "60")]).await;
    assert_eq!(table.status.code(), Some(0), "{table:?}");
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert!(
        lines[0].starts_with("agentId") && lines[1].starts_with("agent-"),
        "{lines:?}"
    );
    assert!(
        lines.iter().all(|line| line.chars().count() <= 60),
        "{lines:?}"
    );
    assert!(table.stderr.contains("3 groups"), "{}", table.stderr);
}

/// Every group `GET /stats/groups` answers for the same filters as `flags`, following
/// `nextCursor` with pages of 2 (so the paging is part of what is compared).
async fn all_groups(app: &Http, flags: &[&str]) -> Vec<Value> {
    let mut params: Vec<(String, String)> = flags
        .chunks(2)
        .map(|pair| match pair[0] {
            "--data" => {
                let (field, value) = pair[1].split_once('=').expect("FIELD=VALUE");
                (format!("data.{field}"), value.to_owned())
            }
            flag => (parameter(flag).to_owned(), pair[1].to_owned()),
        })
        .collect();
    params.push(("limit".to_owned(), "2".to_owned()));
    let mut groups = Vec::new();
    for _ in 0..100 {
        let query: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let (status, page) = app.get_query("/stats/groups", &query).await;
        assert_eq!(status, 200, "{flags:?}: {page}");
        groups.extend(page["groups"].as_array().expect("groups").iter().cloned());
        let Some(next) = page["nextCursor"].as_str() else {
            return groups;
        };
        params.retain(|(name, _)| name != "cursor");
        params.push(("cursor".to_owned(), next.to_owned()));
    }
    panic!("more than 100 pages of groups");
}

/// The parameter of `GET /stats/groups` a flag stands for.
fn parameter(flag: &str) -> &'static str {
    match flag {
        "--group-by" => "by",
        "--sort" => "sort",
        "--type" => "type",
        "--workflow" => "workflowId",
        "--since" => "since",
        "--until" => "until",
        other => panic!("no parameter for {other}"),
    }
}

/// The CSV row of a group as the endpoint answers it: numbers as JSON writes them, null empty.
fn csv_row_of(group: &Value) -> Vec<String> {
    GROUP_HEADER
        .iter()
        .map(|field| match &group[*field] {
            Value::String(text) => text.clone(),
            Value::Number(number) => number.to_string(),
            _ => String::new(),
        })
        .collect()
}
