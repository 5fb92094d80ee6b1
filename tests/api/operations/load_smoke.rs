//! The benchmark's load generator, run for a few seconds as a correctness check (never a timing
//! assertion): with concurrent connections and a share of redeliveries, every delivery is
//! acknowledged, and the receiver stores exactly the events it acknowledged as new.

use std::process::Command;

use serde_json::Value;

use crate::backend::TestDb;
use crate::support::server::ServeProcess;

both_backends!(acknowledged_new_events_equal_stored_events_under_load);

async fn acknowledged_new_events_equal_stored_events_under_load(db: TestDb) {
    let app = ServeProcess::start(&db).await;
    let (url, stats_url, secret) = (
        app.url("/webhooks/dash"),
        app.url("/stats"),
        app.secret.clone(),
    );
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_dash-events-load"))
            .args([
                "--url",
                &url,
                "--secret",
                &secret,
                "--stats-url",
                &stats_url,
            ])
            .args([
                "--connections",
                "32",
                "--events",
                "4000",
                "--duration-secs",
                "5",
            ])
            .args(["--duplicate-share", "0.2"])
            .output()
            .expect("run dash-events-load")
    })
    .await
    .expect("join");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("a JSON report");

    let count = |field: &str| {
        report[field]
            .as_u64()
            .unwrap_or_else(|| panic!("{field}: {report}"))
    };
    assert_eq!((count("non_2xx"), count("errors")), (0, 0), "{report}");
    assert!(
        count("sent") > 0 && count("ok") == count("sent"),
        "{report}"
    );
    assert!(
        count("duplicates_acknowledged") > 0,
        "the run included redeliveries: {report}"
    );
    assert_eq!(
        count("new_acknowledged") + count("duplicates_acknowledged"),
        count("ok")
    );
    assert_eq!(
        report["stored"].as_u64(),
        Some(count("new_acknowledged")),
        "{report}"
    );
    assert_eq!(db.count_events().await as u64, count("new_acknowledged"));
}
