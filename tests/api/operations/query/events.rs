//! Events: each flag selects what the same parameter of `GET /events` selects and what the
//! test knows it must; JSON lines and CSV parse back to those events, newest first; `--limit`
//! keeps the first; all of it with the server stopped.

use serde_json::Value;

use super::{WINDOW, csv_rows, event, json_lines, query_ok};
use crate::backend::TestDb;
use crate::queries::export::all_pages;
use crate::support::app::App;
use dash_events::config::Config;
use dash_events::store::SearchIndex;

both_backends!(
    query_prints_what_the_api_answers_with_serve_stopped,
    query_filters_by_ids_and_data_like_the_api,
    query_searches_like_the_api,
);

/// The columns of the CSV export, in order.
const CSV_HEADER: [&str; 12] = [
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

/// A case: the flags, the same filters as `GET /events` parameters, and which of the test's
/// events must match.
struct Case {
    flags: Vec<&'static str>,
    http: Vec<(&'static str, &'static str)>,
    matches: fn(&Value) -> bool,
}

fn case(flags: &[&'static str], matches: fn(&Value) -> bool) -> Case {
    let http = flags
        .chunks(2)
        .map(|pair| (parameter(pair[0]), pair[1]))
        .collect();
    Case {
        flags: flags.to_vec(),
        http,
        matches,
    }
}

/// The parameter of `GET /events` a flag stands for.
fn parameter(flag: &str) -> &'static str {
    match flag {
        "--type" => "type",
        "--agent" => "agentId",
        "--swarm" => "swarmId",
        "--workflow" => "workflowId",
        "--instance" => "instanceId",
        "--webhook" => "webhookId",
        "--since" => "since",
        "--until" => "until",
        "--search" => "q",
        other => panic!("no parameter for {other}"),
    }
}

fn data<'a>(event: &'a Value, field: &str) -> &'a Value {
    &event["data"][field]
}

/// The filters `export` already had: type and window.
fn window_cases() -> Vec<Case> {
    vec![
        case(&[], |_| true),
        case(&["--type", "agent:error,swarm:complete"], |e| {
            e["type"] != "agent:complete"
        }),
        case(&["--since", "2026-11-28T20:00:00Z"], |e| {
            e["timestamp"].as_str() >= Some("2026-11-28T20:00:00Z")
        }),
        case(&["--until", "2026-11-28T20:00:00Z"], |e| {
            e["timestamp"].as_str() < Some("2026-11-28T20:00:00Z")
        }),
    ]
}

/// The audit filters by id, alone, repeated, as lists and together.
fn id_cases() -> Vec<Case> {
    vec![
        case(&["--agent", "agent-101"], |e| {
            data(e, "agentId") == "agent-101"
        }),
        case(&["--agent", "agent-202", "--agent", "agent-303"], |e| {
            data(e, "agentId") != "agent-101"
        }),
        case(&["--swarm", "swarm-0,swarm-2"], |e| {
            data(e, "swarmId") == "swarm-0" || data(e, "swarmId") == "swarm-2"
        }),
        case(&["--workflow", "wf-main"], |e| {
            data(e, "workflowId") == "wf-main"
        }),
        case(&["--instance", "inst-1"], |e| e["instanceId"] == "inst-1"),
        case(&["--webhook", "wh-other"], |e| e["webhookId"] == "wh-other"),
        case(
            &[
                "--type",
                "agent:complete",
                "--agent",
                "agent-101",
                "--instance",
                "inst-0",
            ],
            |e| {
                e["type"] == "agent:complete"
                    && data(e, "agentId") == "agent-101"
                    && e["instanceId"] == "inst-0"
            },
        ),
    ]
}

/// `--data` cases: the flag's value is not a parameter's, and the window is required.
fn data_cases() -> Vec<Case> {
    let with_window = |flags: &[&'static str], http: &[(&'static str, &'static str)]| {
        let mut all_flags = flags.to_vec();
        all_flags.extend(WINDOW);
        let mut all_http = http.to_vec();
        all_http.extend([("since", WINDOW[1]), ("until", WINDOW[3])]);
        (all_flags, all_http)
    };
    let (f1, h1) = with_window(&["--data", "status=failed"], &[("data.status", "failed")]);
    let (f2, h2) = with_window(
        &["--data", "attempt=1", "--data", "status=ok"],
        &[("data.attempt", "1"), ("data.status", "ok")],
    );
    let (f3, h3) = with_window(&["--data", "attempt=\"1\""], &[("data.attempt", "\"1\"")]);
    let data_case = |flags, http, matches| Case {
        flags,
        http,
        matches,
    };
    vec![
        data_case(f1, h1, |e| data(e, "status") == "failed"),
        data_case(f2, h2, |e| {
            data(e, "attempt") == 1 && data(e, "status") == "ok"
        }),
        // A quoted value is a string: no event holds the string "1".
        data_case(f3, h3, |_| false),
    ]
}

/// `--search`: every word, in any case, in the searched fields.
fn search_cases() -> Vec<Case> {
    vec![
        case(&["--search", "Finished 7"], |e| e["id"] == "evt-007"),
        case(&["--search", "step", "--agent", "agent-202"], |e| {
            data(e, "agentId") == "agent-202"
        }),
        case(&["--search", "nowhere"], |_| false),
    ]
}

async fn query_prints_what_the_api_answers_with_serve_stopped(db: TestDb) {
    let newest_first = check_cases(&db, window_cases(), |_| {}).await;
    let first =
        json_lines(&query_ok(&db, &["--limit", "5", "--type", "agent:error"], "json").await);
    let errors: Vec<Value> = newest_first
        .iter()
        .filter(|e| e["type"] == "agent:error")
        .take(5)
        .cloned()
        .collect();
    assert_eq!(first, errors, "--limit keeps the newest");
    let all = json_lines(&query_ok(&db, &["--limit", "1000"], "json").await);
    assert_eq!(
        all, newest_first,
        "a limit above the count prints every event"
    );
}

async fn query_filters_by_ids_and_data_like_the_api(db: TestDb) {
    let mut cases = id_cases();
    cases.extend(data_cases());
    check_cases(&db, cases, |_| {}).await;
}

async fn query_searches_like_the_api(db: TestDb) {
    let with_index = |config: &mut Config| config.search_index = SearchIndex::On;
    check_cases(&db, search_cases(), with_index).await;
}

/// Stores the test's events through a server started with `configure`, asks `GET /events`
/// each case, stops the server, then checks that the query prints, as JSON lines and as CSV,
/// what the API answered and what the case must match. Answers every event, newest first.
async fn check_cases(
    db: &TestDb,
    cases: Vec<Case>,
    configure: impl FnOnce(&mut Config),
) -> Vec<Value> {
    let app = App::start_with(db, configure).await;
    for n in 0..36 {
        app.store(&event(n)).await;
    }
    let mut answers = Vec::new();
    for case in cases {
        answers.push((case.flags, all_pages(&app, &case.http).await, case.matches));
    }
    let newest_first = all_pages(&app, &[]).await;
    app.stop().await;

    for (mut flags, answered, matches) in answers {
        let expected: Vec<&Value> = newest_first.iter().filter(|e| matches(e)).collect();
        if flags.contains(&"--search") {
            // The server keeps the index; the query is told so.
            flags.push("--search-index");
        }
        assert_eq!(
            ids(&answered),
            ids_of(&expected),
            "GET /events for {flags:?}"
        );
        let printed = json_lines(&query_ok(db, &flags, "json").await);
        assert_eq!(printed, answered, "{flags:?} --format json");
        let rows = csv_rows(&query_ok(db, &flags, "csv").await, &CSV_HEADER);
        let expected_rows: Vec<Vec<String>> = answered.iter().map(csv_row_of).collect();
        assert_eq!(rows, expected_rows, "{flags:?} --format csv");
    }
    newest_first
}

/// The CSV row an event as `GET /events` answers it must print as.
fn csv_row_of(event: &Value) -> Vec<String> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let number = |v: &Value| v.as_number().map(ToString::to_string).unwrap_or_default();
    let data = &event["data"];
    vec![
        text(&event["id"]),
        text(&event["type"]),
        text(&event["timestamp"]),
        text(&event["receivedAt"]),
        text(&data["agentId"]),
        text(&data["swarmId"]),
        text(&data["workflowId"]),
        text(&event["instanceId"]),
        text(&event["webhookId"]),
        number(&data["cost"]),
        number(&data["durationMs"]),
        data.to_string(),
    ]
}

fn ids(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["id"].as_str().expect("an id"))
        .collect()
}

fn ids_of<'a>(events: &[&'a Value]) -> Vec<&'a str> {
    events
        .iter()
        .map(|e| e["id"].as_str().expect("an id"))
        .collect()
}
