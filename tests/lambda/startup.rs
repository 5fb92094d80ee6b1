//! Cold starts: the configuration the function refuses (with exit code 2 and one line naming what
//! to fix, before any invocation), a database it cannot reach (exit 1), and migrations applied by
//! the first cold start on a fresh database and found done by the next one.

use serde_json::json;

use crate::function::{Function, recorded, start_expecting_exit};
use crate::on_postgres;

/// A PostgreSQL URL nothing listens on: the refusals come before any connection.
const UNREACHABLE: &str = "postgres://postgres@127.0.0.1:1/nothing";

#[tokio::test]
async fn sqlite_is_refused_because_its_events_would_be_lost() {
    for url in [Some("sqlite:///tmp/dash-events-lambda.db"), None] {
        let exit = start_expecting_exit(url, &[]).await;
        assert_eq!(exit.status.code(), Some(2), "{url:?}: {}", exit.stderr);
        let line = exit.stderr.lines().last().unwrap_or_default();
        assert!(line.starts_with("error: DATABASE_URL="), "{url:?}: {line}");
        assert!(
            line.contains("PostgreSQL") && line.contains("lost"),
            "{line}"
        );
    }
}

#[tokio::test]
async fn an_api_token_is_required() {
    let exit = start_expecting_exit(Some(UNREACHABLE), &[("API_TOKEN", "")]).await;
    assert_eq!(exit.status.code(), Some(2), "{}", exit.stderr);
    assert!(
        exit.stderr.contains("error: no API token: set API_TOKEN"),
        "{}",
        exit.stderr
    );
}

#[tokio::test]
async fn an_unreachable_database_ends_the_cold_start_with_exit_code_1() {
    let exit = start_expecting_exit(Some(UNREACHABLE), &[]).await;
    assert_eq!(exit.status.code(), Some(1), "{}", exit.stderr);
    assert!(
        exit.stderr.contains("error: cannot open the database"),
        "{}",
        exit.stderr
    );
    assert!(!exit.stderr.contains("panicked"), "{}", exit.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_cold_start_finds_the_migrations_and_the_events_of_the_first() {
    on_postgres(|db| async move {
        let event = recorded("rest_v1_signed.json");
        let first = Function::start(&db).await;
        assert_eq!(first.invoke(event.clone()).await.0, 200);
        drop(first);

        let second = Function::start(&db).await;
        let (status, body) = second.invoke(event).await;

        assert_eq!(status, 200, "{body}");
        assert_eq!(body["duplicate"], json!(true), "{body}");
        assert_eq!(db.count_events().await, 1);
    })
    .await;
}
