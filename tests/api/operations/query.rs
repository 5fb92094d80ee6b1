//! `dash-events query`, the real binary on a database filled through a real server: each flag
//! selects what the same parameter of `GET /events` selects, and what the test knows it must
//! (JSON lines and CSV parse back to those events, newest first; `--limit` keeps the first);
//! it works with the server stopped; the table is never wider than `COLUMNS`; bad input exits 2
//! with one line naming the flag.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use serde_json::{Value, json};
use unicode_width::UnicodeWidthStr;

use dash_events::config::Config;

use crate::backend::TestDb;
use crate::process::{Exit, Process, dash_events};
use crate::queries::export::all_pages;
use crate::support::app::App;
use crate::support::fill::{event_at_time, store_events};
use crate::support::launch::EXIT_TIMEOUT;

both_backends!(
    query_prints_what_the_api_answers_with_serve_stopped,
    query_filters_by_ids_and_data_like_the_api,
    query_searches_like_the_api,
    query_table_is_never_wider_than_the_terminal,
    query_refuses_bad_input_with_a_line_naming_the_flag,
);
sqlite_only!(query_ends_quietly_when_its_reader_goes_away);

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

const AGENTS: [&str; 3] = ["agent-101", "agent-202", "agent-303"];
const WINDOW: [&str; 4] = [
    "--since",
    "2026-11-20T00:00:00Z",
    "--until",
    "2026-11-29T00:00:00Z",
];

/// The `n`th of the test's events: ten minutes apart on 2026-11-28, newest first as `n` grows,
/// with ids, costs, durations and data fields varying with `n`; some lack a field.
fn event(n: usize) -> Value {
    let mut data = json!({
        "agentId": AGENTS[n % 3],
        "cost": 0.01 * (n % 5) as f64,
        "durationMs": 1000 * (n % 7),
        "status": if n % 4 == 0 { "failed" } else { "ok" },
        "attempt": n % 2,
        "result": format!("step {n} finished"),
    });
    if n % 2 == 0 {
        data["swarmId"] = json!(format!("swarm-{}", n % 4));
    }
    if n % 3 == 0 {
        data["workflowId"] = json!("wf-main");
    }
    let event_type = ["agent:complete", "agent:error", "swarm:complete"][n % 3];
    json!({
        "id": format!("evt-{n:03}"),
        "type": event_type,
        "timestamp": format!("2026-11-28T{:02}:{:02}:00Z", 23 - n / 6, 50 - (n % 6) * 10),
        "instanceId": format!("inst-{}", n % 2),
        "webhookId": if n % 5 == 0 { json!("wh-other") } else { json!("wh-main") },
        "data": data,
    })
}

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
    // Becomes `|config| config.search_index = SearchIndex::On` when the search index lands.
    check_cases(&db, search_cases(), |_| {}).await;
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

    for (flags, answered, matches) in answers {
        let expected: Vec<&Value> = newest_first.iter().filter(|e| matches(e)).collect();
        assert_eq!(
            ids(&answered),
            ids_of(&expected),
            "GET /events for {flags:?}"
        );
        let printed = json_lines(&query_ok(db, &flags, "json").await);
        assert_eq!(printed, answered, "{flags:?} --format json");
        let rows = csv_rows(&query_ok(db, &flags, "csv").await);
        let expected_rows: Vec<Vec<String>> = answered.iter().map(csv_row_of).collect();
        assert_eq!(rows, expected_rows, "{flags:?} --format csv");
    }
    newest_first
}

async fn query_table_is_never_wider_than_the_terminal(db: TestDb) {
    let app = App::start(&db).await;
    for n in 0..8 {
        app.store(&event(n)).await;
    }
    let mut wide = event(40);
    wide["data"]["agentId"] = json!("代理人-".repeat(20));
    wide["data"]["workflowId"] = json!("line\nbreak\u{1b}[2J");
    app.store(&wide).await;

    for width in [60, 100, 200] {
        let exit = query(&db, &[], &[("COLUMNS", &width.to_string())]).await;
        assert_eq!(exit.status.code(), Some(0), "{exit:?}");
        let lines: Vec<&str> = exit.stdout.lines().collect();
        assert_eq!(
            lines.len(),
            10,
            "a header and nine events at {width}:\n{}",
            exit.stdout
        );
        assert!(lines[0].starts_with("time"), "{}", lines[0]);
        for line in &lines {
            assert!(
                line.width() <= width,
                "{width}: {line:?} is {} wide",
                line.width()
            );
        }
        assert!(
            !exit.stdout.contains('\u{1b}'),
            "an escape reached the terminal"
        );
        assert!(exit.stderr.contains("9 events"), "{}", exit.stderr);
    }
    let wide_table = query(&db, &[], &[("COLUMNS", "200")]).await.stdout;
    assert!(wide_table.contains("evt-007") && wide_table.contains("agent-101"));
    assert!(
        wide_table.contains('…'),
        "the long agent id is cut:\n{wide_table}"
    );
    let unknown = query(&db, &["--type", "agent:complete"], &[]).await;
    let longest = unknown.stdout.lines().map(UnicodeWidthStr::width).max();
    assert!(
        longest <= Some(80),
        "80 columns without COLUMNS or a terminal"
    );
    app.stop().await;
}

async fn query_refuses_bad_input_with_a_line_naming_the_flag(db: TestDb) {
    let many = (0..21)
        .map(|n| format!("a{n}"))
        .collect::<Vec<_>>()
        .join(",");
    let long = "word ".repeat(41);
    let cases: [(&[&str], &str); 11] = [
        (&["--agent", ""], "--agent"),
        (&["--swarm", "a,,b"], "--swarm"),
        (&["--workflow", &many], "--workflow"),
        (&["--instance="], "--instance"),
        (&["--webhook", &many], "--webhook"),
        (
            &["--data", "a.b=1", "--since", "2026-11-28T00:00:00Z"],
            "--data",
        ),
        (&["--data", "status=ok"], "--since"),
        (&["--search", &long], "--search"),
        (&["--group-by", "agent"], "--group-by"),
        (&["--limit", "0"], "--limit"),
        (&["--sort", "cost"], "--sort"),
    ];
    for (flags, flag) in cases {
        let exit = query(&db, flags, &[]).await;
        assert_eq!(exit.status.code(), Some(2), "{flags:?}: {exit:?}");
        assert!(exit.stdout.is_empty(), "{flags:?}: {}", exit.stdout);
        let line = exit.stderr.lines().find(|l| l.contains(flag));
        assert!(
            line.is_some(),
            "{flags:?}: no line naming {flag} in {}",
            exit.stderr
        );
    }
}

async fn query_ends_quietly_when_its_reader_goes_away(db: TestDb) {
    // About 300 kB of JSON lines: far more than a pipe holds, so the query is still writing
    // when its reader goes away.
    let now = chrono::Utc::now();
    let events: Vec<Value> = (0..300)
        .map(|n| event_at_time(&format!("evt-{n:03}"), "agent:complete", now, 0.01, 1000))
        .collect();
    store_events(&db, &events).await;
    let mut command = dash_events(["query", "--database-url", db.url(), "--format", "json"]);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("start query");
    let mut stdout = child.stdout.take().expect("stdout was piped");

    let mut first_line = String::new();
    BufReader::new(&mut stdout)
        .read_line(&mut first_line)
        .expect("a line");
    drop(stdout);
    let exit = tokio::task::spawn_blocking(move || child.wait_with_output().expect("wait"));
    let exit = tokio::time::timeout(EXIT_TIMEOUT, exit)
        .await
        .expect("query ends")
        .unwrap();

    assert!(first_line.contains("evt-"), "{first_line}");
    let stderr = String::from_utf8_lossy(&exit.stderr);
    assert_eq!(exit.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
}

/// Runs `dash-events query --database-url <db>` with `flags` and environment `env`.
async fn query(db: &TestDb, flags: &[&str], env: &[(&str, &str)]) -> Exit {
    let mut command = dash_events(["query", "--database-url", db.url()]);
    command.args(flags).env_remove("COLUMNS");
    for (name, value) in env {
        command.env(name, value);
    }
    Process::spawn(command)
        .expect_exit(EXIT_TIMEOUT, "query")
        .await
}

/// `query` with `flags` and `--format format`, which must succeed: its standard output.
async fn query_ok(db: &TestDb, flags: &[&str], format: &str) -> String {
    let mut all = flags.to_vec();
    all.extend(["--format", format]);
    let exit = query(db, &all, &[]).await;
    assert_eq!(exit.status.code(), Some(0), "{all:?}: {exit:?}");
    exit.stdout
}

fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("every line is JSON"))
        .collect()
}

/// The rows of a CSV output under its header, which must be the export's.
fn csv_rows(stdout: &str) -> Vec<Vec<String>> {
    let mut reader = csv::Reader::from_reader(stdout.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("a header")
        .iter()
        .map(String::from)
        .collect();
    assert_eq!(header, CSV_HEADER);
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
