//! Read replicas (`DATABASE_READ_URL`, PostgreSQL only), against a real streaming replica of the
//! test's own (`support::replica`): the query API answers from the hot standby, also with the
//! primary stopped; the live stream, the notification worker and the outbox listing read the
//! primary, so they see events the standby has not replayed; the lag shows in `/metrics`; a stopped standby leaves ingest and readiness alone while
//! queries answer 503 until it is back; and a replica that is unreachable or not PostgreSQL at
//! start is refused with one `error:` line naming `DATABASE_READ_URL`.

use std::time::{Duration, Instant};

use dash_events::config::Config;
use reqwest::header::RETRY_AFTER;
use serde_json::json;

use crate::backend::{Backend, TestDb};
use crate::helpers::{event, event_at, eventually, ids_of, new_id, status_and_json};
use crate::operations::startup::assert_refused;
use crate::queries::export::{export_raw, lines};
use crate::support::app::App;
use crate::support::capture::{Answer, Capture, notifications_of, notifying, rule};
use crate::support::launch::Launch;
use crate::support::replica::ReplicatedPostgres;
use crate::support::sse::SseStream;

/// How long the `/metrics` gauges may take to show a change: they are measured every 5 s
/// (`REPLICA_LAG_INTERVAL`); 6× that for a busy machine.
const GAUGE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long an event committed on the primary may take to reach an open stream: it is read at the
/// commit's wake-up, in milliseconds; 5× the stream's 1 s poll for a busy machine. A stream
/// reading the paused standby would never pass it.
const STREAM_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a query may take to answer 503 while the standby is down: the pool waits 3 s for a
/// connection (`ACQUIRE_TIMEOUT`); 5× that.
const REFUSAL_BOUND: Duration = Duration::from_secs(15);

postgres_only!(an_unreachable_replica_at_start_is_refused_with_exit_1_naming_the_variable);
both_backends!(a_read_url_that_is_not_postgres_or_beside_sqlite_is_refused_with_exit_2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_are_answered_by_the_replica_also_with_the_primary_stopped() {
    let Some((pair, _db, app)) = start_replicated(|_| {}).await else {
        return;
    };
    let ids = [new_id(), new_id(), new_id()];
    for (id, event_type) in ids
        .iter()
        .zip(["agent:complete", "agent:error", "agent:complete"])
    {
        let (status, answer) = app
            .deliver(&event_at(id, event_type, "2026-11-28T10:00:00.000Z"))
            .await;
        assert_eq!(status, 200, "{answer}");
    }
    pair.await_replay().await;

    pair.stop_primary();

    let page = app.get_json("/events").await;
    let mut listed = ids_of(&page);
    listed.sort();
    let mut sent = ids.to_vec();
    sent.sort();
    assert_eq!(listed, sent, "GET /events from the standby: {page}");
    let stats = app.get_json("/stats").await;
    assert_eq!(stats["totalEvents"], json!(3), "{stats}");
    assert_eq!(stats["eventCounts"]["agent:error"], json!(1), "{stats}");
    let (status, _, body) = export_raw(&app, &app.client, &[]).await;
    assert_eq!((status, lines(&body).len()), (200, 3), "the export");
    let one = app.get_json(&format!("/events/{}", ids[1])).await;
    assert_eq!(one["type"], json!("agent:error"), "{one}");
    let (status, timeline) = app.get_query("/stats/timeline", &[]).await;
    assert_eq!(status, 200, "{timeline}");
    // Readiness is about ingest, which needs the primary.
    let (status, ready) = status_and_json(app.get("/readyz").await).await;
    assert_eq!(status, 503, "/readyz with the primary stopped: {ready}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_replay_is_paused_the_stream_and_notifications_read_the_primary_and_queries_wait()
{
    let capture = Capture::start(&[], Answer::Status(200)).await;
    let rules = [rule("all", &["*"], "webhook", &capture.url("/hook"))];
    let Some((pair, _db, app)) = start_replicated(|config| notifying(config, &rules, 3)).await
    else {
        return;
    };
    app.store(&event(&new_id())).await;
    pair.await_replay().await;

    pair.pause_replay().await;
    let mut stream = SseStream::open(&app, &[], None).await;
    let unreplayed = new_id();
    app.store(&event(&unreplayed)).await;

    let message = stream.message(STREAM_TIMEOUT).await;
    assert_eq!(
        message.event_id(),
        unreplayed,
        "the stream passed another event"
    );
    let path = format!("/events/{unreplayed}");
    let (status, _) = status_and_json(app.get(&path).await).await;
    assert_eq!(status, 404, "GET {path} before the standby replayed it");
    // The worker reads the event it notifies of, and the listing the outbox, on the primary.
    let sent = eventually(Duration::from_secs(30), || async {
        let listed = notifications_of(&app, &unreplayed).await;
        listed.len() == 1 && listed[0]["state"] == "sent"
    });
    assert!(
        sent.await,
        "the unreplayed event's notification was not listed as sent"
    );
    assert_eq!(capture.requests_for(&unreplayed).len(), 1, "sent once");
    let lagging = eventually(GAUGE_TIMEOUT, || async {
        let up = gauge(&app, "dash_events_replica_up").await;
        let bytes = gauge(&app, "dash_events_replica_lag_bytes").await;
        let seconds = gauge(&app, "dash_events_replica_lag_seconds").await;
        up == Some(1.0) && bytes.is_some_and(|b| b > 0.0) && seconds.is_some_and(|s| s > 0.0)
    });
    assert!(lagging.await, "the paused replay shows no lag in /metrics");

    pair.resume_replay().await;
    let replayed = eventually(Duration::from_secs(30), || async {
        app.get(&path).await.status() == 200
    });
    assert!(
        replayed.await,
        "GET {path} still not found after the replay resumed"
    );
    let recovered = eventually(GAUGE_TIMEOUT, || async {
        gauge(&app, "dash_events_replica_lag_bytes").await == Some(0.0)
            && gauge(&app, "dash_events_replica_lag_seconds").await == Some(0.0)
    });
    assert!(
        recovered.await,
        "the lag did not return to 0 after the replay"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_replica_leaves_ingest_and_readiness_alone_and_queries_answer_503_until_back() {
    let Some((pair, _db, app)) = start_replicated(|_| {}).await else {
        return;
    };
    app.store(&event(&new_id())).await;
    pair.await_replay().await;

    pair.stop_standby();

    for _ in 0..5 {
        let (status, answer) = app.deliver(&event(&new_id())).await;
        assert_eq!(status, 200, "a delivery with the standby stopped: {answer}");
    }
    assert_eq!(pair.events_on_primary().await, 6, "stored on the primary");
    let (status, ready) = status_and_json(app.get("/readyz").await).await;
    assert_eq!(status, 200, "/readyz with the standby stopped: {ready}");
    let paths = ["/events", "/stats", "/events/export"];
    futures::future::join_all(paths.map(|path| assert_unavailable(&app, path))).await;
    let down = eventually(GAUGE_TIMEOUT, || async {
        gauge(&app, "dash_events_replica_up").await == Some(0.0)
            && gauge(&app, "dash_events_replica_lag_bytes")
                .await
                .is_some_and(f64::is_nan)
    });
    assert!(down.await, "/metrics does not show the standby down");

    pair.start_standby();
    let back = eventually(Duration::from_secs(30), || async {
        let (status, page) = app.get_query("/events", &[]).await;
        status == 200 && ids_of(&page).len() == 6
    });
    assert!(
        back.await,
        "queries did not recover with the standby, without a restart"
    );
}

async fn an_unreachable_replica_at_start_is_refused_with_exit_1_naming_the_variable(db: TestDb) {
    let closed = closed_port();
    let exit = Launch::new(&db)
        .arg("--database-read-url")
        .arg(&format!("postgres://postgres@127.0.0.1:{closed}/postgres"))
        .start_expecting_exit()
        .await;
    assert_refused("an unreachable replica", &exit, 1, "DATABASE_READ_URL");
}

async fn a_read_url_that_is_not_postgres_or_beside_sqlite_is_refused_with_exit_2(db: TestDb) {
    let mut cases = vec![(
        "a SQLite read URL",
        Launch::new(&db).env("DATABASE_READ_URL", "sqlite:elsewhere.db"),
    )];
    if db.backend() == Backend::Sqlite {
        let replica = format!("postgres://postgres@127.0.0.1:{}/postgres", closed_port());
        let launch = Launch::new(&db).env("DATABASE_READ_URL", &replica);
        cases.push(("a replica of a SQLite DATABASE_URL", launch));
    }
    for (case, launch) in cases {
        let exit = launch.start_expecting_exit().await;
        assert_refused(case, &exit, 2, "DATABASE_READ_URL");
    }
    if db.backend() == Backend::Sqlite {
        let file = db.dir().join("events.db");
        assert!(!file.exists(), "the database was opened before the refusal");
    }
}

/// A primary with its standby, and a server whose `DATABASE_URL` is the primary and whose
/// `DATABASE_READ_URL` is the standby; `None` when the servers cannot be made here (skipped).
async fn start_replicated(
    change: impl FnOnce(&mut Config),
) -> Option<(ReplicatedPostgres, TestDb, App)> {
    let pair = match ReplicatedPostgres::start().await {
        Ok(pair) => pair,
        Err(why) => {
            crate::faults::unavailable(&why);
            return None;
        }
    };
    // Only for its directory: the databases are the pair's.
    let db = TestDb::provision(Backend::Sqlite).await?;
    let app = App::start_with(&db, |config| {
        config.database_url = pair.primary_url();
        config.database_read_url = Some(pair.standby_url());
        change(config);
    })
    .await;
    Some((pair, db, app))
}

/// Asserts that `GET path` answers 503 with `Retry-After`, within `REFUSAL_BOUND`.
async fn assert_unavailable(app: &App, path: &str) {
    let started = Instant::now();
    let response = app.get(path).await;
    let retry_after = response.headers().get(RETRY_AFTER).cloned();
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 503, "GET {path} with the standby stopped: {body}");
    assert!(
        retry_after.is_some(),
        "GET {path}: a 503 without Retry-After"
    );
    assert!(
        started.elapsed() < REFUSAL_BOUND,
        "GET {path} took {:?}",
        started.elapsed()
    );
}

/// The value of an unlabelled metric in `/metrics`, if it is there.
async fn gauge(app: &App, name: &str) -> Option<f64> {
    let text = app
        .get("/metrics")
        .await
        .text()
        .await
        .expect("the metrics text");
    text.lines()
        .filter_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .find_map(|value| value.trim().parse().ok())
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}
