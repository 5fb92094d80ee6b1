//! `dash-events query`, the real binary on a database filled through a real server (or stopped
//! first): `events` checks that each flag selects what the same parameter of `GET /events`
//! selects and what the test knows it must; `groups` the same against `GET /stats/groups`;
//! `output` the table's width, refusals of bad input, and a reader that goes away.

pub mod events;
pub mod groups;
pub mod output;

use serde_json::{Value, json};

use crate::backend::TestDb;
use crate::process::{Exit, Process, dash_events};
use crate::support::launch::EXIT_TIMEOUT;

pub const AGENTS: [&str; 3] = ["agent-101", "agent-202", "agent-303"];
pub const WINDOW: [&str; 4] = [
    "--since",
    "2026-11-20T00:00:00Z",
    "--until",
    "2026-11-29T00:00:00Z",
];

/// The `n`th of the test's events: ten minutes apart on 2026-11-28, newest first as `n` grows,
/// with ids, costs, durations and data fields varying with `n`; some lack a field.
pub fn event(n: usize) -> Value {
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

/// Runs `dash-events query --database-url <db>` with `flags` and environment `env`.
pub async fn query(db: &TestDb, flags: &[&str], env: &[(&str, &str)]) -> Exit {
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
pub async fn query_ok(db: &TestDb, flags: &[&str], format: &str) -> String {
    let mut all = flags.to_vec();
    all.extend(["--format", format]);
    let exit = query(db, &all, &[]).await;
    assert_eq!(exit.status.code(), Some(0), "{all:?}: {exit:?}");
    exit.stdout
}

pub fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("every line is JSON"))
        .collect()
}

/// The rows of a CSV output under its header, which must be `header`.
pub fn csv_rows(stdout: &str, header: &[&str]) -> Vec<Vec<String>> {
    let mut reader = csv::Reader::from_reader(stdout.as_bytes());
    let printed: Vec<String> = reader
        .headers()
        .expect("a header")
        .iter()
        .map(String::from)
        .collect();
    assert_eq!(printed, header, "the header row");
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
