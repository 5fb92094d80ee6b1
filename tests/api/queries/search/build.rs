//! Turning text search on for a log that already holds events: with the index off `q=` is a 400
//! that names `q` and says how to turn it on; `dash-events search-index build` then indexes the
//! stored events (resuming an interrupted build, indexing each event once); `copy
//! --search-index` carries the words to the target.

use std::time::Duration;

use serde_json::{Value, json};

use super::{event_with, indexed, start_searching};
use crate::backend::{Backend, TestDb};
use crate::helpers::{assert_error, ids_of, mentions};
use crate::process::{Exit, Process, dash_events};
use crate::support::app::App;
use crate::support::fill::store_events;
use dash_events::store::{BUILD_BATCH, Durability, Store};

both_backends!(
    with_the_index_off_q_is_refused_until_a_build_and_a_restart_turn_it_on,
    an_interrupted_build_resumes_and_indexes_each_event_once,
);

/// How long a subcommand may take on a busy two-core machine (it runs in well under a second).
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `dash-events ARGS…` to its end and expects exit 0.
async fn run_ok(args: &[&str]) -> Exit {
    let exit = Process::spawn(dash_events(args))
        .expect_exit(RUN_TIMEOUT, args[0])
        .await;
    assert_eq!(exit.status.code(), Some(0), "{args:?}: {exit:?}");
    exit
}

async fn with_the_index_off_q_is_refused_until_a_build_and_a_restart_turn_it_on(db: TestDb) {
    let app = App::start(&db).await;
    let data = json!({"task": "rotate the signing keys"});
    app.store(&event_with(
        "before",
        "agent:start",
        "2026-11-28T10:00:00Z",
        data,
    ))
    .await;
    for path in ["/events", "/events/export"] {
        let (status, body) = app.get_query(path, &[("q", "keys")]).await;
        assert_error(path, status, &body, 400, Some("q"));
        let message = body["error"].as_str().unwrap_or_default();
        assert!(mentions(message, "--search-index"), "{message}");
        assert!(mentions(message, "search-index build"), "{message}");
    }
    app.stop().await;

    let exit = run_ok(&["search-index", "build", "--database-url", db.url()]).await;
    assert!(exit.stdout.contains("1 events read"), "{}", exit.stdout);

    let app = start_searching(&db).await;
    let data = json!({"result": "keys rotated"});
    app.store(&event_with(
        "after",
        "agent:complete",
        "2026-11-28T11:00:00Z",
        data,
    ))
    .await;
    let (status, page) = app.get_query("/events", &[("q", "KEYS")]).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(ids_of(&page), ["after", "before"]);
    app.stop().await;
}

async fn an_interrupted_build_resumes_and_indexes_each_event_once(db: TestDb) {
    let events: Vec<Value> = (0..2_500)
        .map(|n| {
            let at = format!("2026-11-{:02}T10:00:00Z", 1 + n % 28);
            let data = json!({"status": format!("batch job {n}")});
            event_with(&format!("evt-{n:05}"), "agent:complete", &at, data)
        })
        .collect();
    store_events(&db, &events).await;
    let store = Store::connect(db.url(), Durability::Normal)
        .await
        .expect("connect");

    let first = store.build_search_batch().await.expect("one batch");
    assert_eq!(first, BUILD_BATCH as u64);
    assert_eq!(indexed(&db, "job").await, BUILD_BATCH);
    store.close().await;
    let exit = run_ok(&["search-index", "build", "--database-url", db.url()]).await;
    assert!(
        exit.stdout.contains("1500 events read"),
        "resumed: {}",
        exit.stdout
    );
    assert_eq!(indexed(&db, "job").await, 2_500);

    // A finished pass leaves nothing to resume: the next build is a new pass, which adds nothing
    // the index already holds.
    let exit = run_ok(&["search-index", "build", "--database-url", db.url()]).await;
    assert!(exit.stdout.contains("2500 events read"), "{}", exit.stdout);
    assert_eq!(indexed(&db, "job").await, 2_500);
    assert_eq!(indexed(&db, "1234").await, 1);
}

/// `copy --search-index` from SQLite to PostgreSQL and back: the target answers `q=` for the
/// copied events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_with_the_search_index_carries_the_words_to_the_target() {
    let Some(postgres) = TestDb::provision(Backend::Postgres).await else {
        return;
    };
    let sqlite = TestDb::provision(Backend::Sqlite).await.expect("SQLite");
    let back = TestDb::provision(Backend::Sqlite).await.expect("SQLite");
    let events = [
        ("c1", json!({"task": "compile the report"})),
        ("c2", json!({"error": "report generator crashed"})),
        ("c3", json!({"task": "unrelated"})),
    ];
    let events: Vec<Value> = events
        .into_iter()
        .map(|(id, data)| event_with(id, "agent:complete", "2026-11-28T10:00:00Z", data))
        .collect();
    store_events(&sqlite, &events).await;

    for (from, to) in [(&sqlite, &postgres), (&postgres, &back)] {
        let args = [
            "copy",
            "--from",
            from.url(),
            "--to",
            to.url(),
            "--search-index",
        ];
        run_ok(&args).await;
        let app = start_searching(to).await;
        let (status, page) = app.get_query("/events", &[("q", "report")]).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(ids_of(&page), ["c2", "c1"], "{:?}", to.backend());
        app.stop().await;
    }
}
