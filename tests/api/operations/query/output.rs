//! What the query prints besides the events: a table never wider than `COLUMNS` (80 without
//! it or a terminal) with nothing that could break a line or reach the terminal as an escape;
//! one line naming the flag and exit 2 for bad input; a quiet end when the reader goes away.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use serde_json::{Value, json};
use unicode_width::UnicodeWidthStr;

use super::{event, query};
use crate::backend::TestDb;
use crate::process::dash_events;
use crate::support::app::App;
use crate::support::fill::{event_at_time, store_events};
use crate::support::launch::EXIT_TIMEOUT;

both_backends!(
    query_table_is_never_wider_than_the_terminal,
    query_refuses_bad_input_with_a_line_naming_the_flag,
);
sqlite_only!(query_ends_quietly_when_its_reader_goes_away);

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
    let cases: [(&[&str], &str); 12] = [
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
        (&["--search", &long, "--search-index"], "--search"),
        (&["--search", "disk"], "--search"),
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
