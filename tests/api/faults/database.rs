//! The database cannot take writes, or goes away, while deliveries arrive, and comes back.
//! Deliveries answer 503 with `Retry-After` (whole seconds) and are not stored, so Dash retries;
//! each 503 is the commit's own answer, which its bound (10 s) keeps prompt, never the request
//! timeout's (30 s) (see `assert_each_503_came_from_the_commit`); `/readyz` turns 503 when the
//! database is unreachable; the service recovers without a restart, a retry is then stored as
//! new, and nothing answered 200 is missing.
//!
//! The outage is made through the test's own connection (an exclusive SQLite transaction, a
//! renamed PostgreSQL table, a PostgreSQL database refusing connections), or for real:
//! PostgreSQL is stopped (a private cluster of this test's own, so the shared server keeps
//! serving the other tests) and SQLite's disk fills up (a small tmpfs mounted by the test, which
//! needs root).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::future::join_all;
use reqwest::header::RETRY_AFTER;
use serde_json::{Value, json};
use sqlx::Connection;

use crate::backend::{Backend, TestDb, base_url};
use crate::helpers::{assert_error, event, eventually, new_id, status_and_json};
use crate::support::app::App;
use crate::support::disk::SmallDisk;
use crate::support::metrics::sample;
use crate::support::private_postgres::PrivatePostgres;

use super::unavailable;

both_backends!(database_that_cannot_take_the_write_answers_503_with_retry_after);
postgres_only!(database_refusing_connections_makes_readyz_and_deliveries_answer_503_until_back);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_postgres_answers_503_promptly_and_recovers_by_itself() {
    let pg = match PrivatePostgres::start() {
        Ok(pg) => pg,
        Err(why) => return unavailable(&why),
    };
    let Some(db) = TestDb::provision(Backend::Sqlite).await else {
        return;
    };
    let app = App::start_with(&db, |config| config.database_url = pg.url()).await;
    let traffic = Traffic::default();
    let outage = async {
        traffic.wait_for_acks(20).await;
        pg.stop();
        assert_unready_and_refusing(&app, &event(&new_id())).await;
        pg.start_server();
        assert_recovers(&app).await;
        traffic.stop();
    };
    futures::join!(traffic.run(&app), outage);
    traffic.assert_nothing_lost(&app).await;
    assert_each_503_came_from_the_commit(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disk_answers_503_promptly_and_recovers_by_itself() {
    let Some(db) = TestDb::provision(Backend::Sqlite).await else {
        return;
    };
    let Some(disk) = SmallDisk::mount(&db.dir().join("disk"), 24 * 1024) else {
        return;
    };
    let url = format!("sqlite://{}", disk.path.join("events.db").display());
    let app = App::start_with(&db, |config| config.database_url = url).await;
    let traffic = Traffic::default();
    let outage = async {
        traffic.wait_for_acks(20).await;
        let filler = disk.fill();
        // Large events make the log grow, which a full disk refuses.
        let big = big_event();
        let refused = eventually(Duration::from_secs(60), || async {
            deliver(&app, &big).await.0 == 503
        });
        assert!(refused.await, "deliveries still succeed on a full disk");
        // Not every later write fails (small ones may fit in the log's free space), but the
        // service must say it is not ready to take writes.
        assert_unready(&app).await;
        std::fs::remove_file(filler).expect("free the disk");
        assert_recovers(&app).await;
        traffic.stop();
    };
    futures::join!(traffic.run(&app), outage);
    traffic.assert_nothing_lost(&app).await;
    assert_each_503_came_from_the_commit(&app).await;
}

async fn database_that_cannot_take_the_write_answers_503_with_retry_after(db: TestDb) {
    let app = App::start(&db).await;
    let sent = event(&new_id());

    match db.backend() {
        Backend::Sqlite => {
            let mut holder = db.sqlite().await;
            sqlx::raw_sql("begin exclusive")
                .execute(&mut holder)
                .await
                .unwrap();
            assert_503(&app, &sent, "SQLite locked by another writer").await;
            sqlx::raw_sql("rollback")
                .execute(&mut holder)
                .await
                .unwrap();
            let _ = holder.close().await;
        }
        Backend::Postgres => {
            let mut admin = db.postgres().await;
            let rename = "alter table events rename to events_away";
            sqlx::raw_sql(rename).execute(&mut admin).await.unwrap();
            assert_503(&app, &sent, "PostgreSQL table gone").await;
            let back = "alter table events_away rename to events";
            sqlx::raw_sql(back).execute(&mut admin).await.unwrap();
            let _ = admin.close().await;
        }
    }

    assert_eq!(db.count_events().await, 0, "the 503 delivery was stored");
    let (status, answer) = app.deliver(&sent).await;
    assert_eq!(
        (status, &answer["duplicate"]),
        (200, &json!(false)),
        "the retry: {answer}"
    );
    assert_each_503_came_from_the_commit(&app).await;
}

async fn database_refusing_connections_makes_readyz_and_deliveries_answer_503_until_back(
    db: TestDb,
) {
    let app = App::start(&db).await;
    let name = db.postgres_name().expect("a PostgreSQL test database");
    let mut admin = sqlx::PgConnection::connect(&base_url()).await.unwrap();
    // Committed on its own before the backends are ended (in one batch with the ending, a
    // connection opened in between was let in); a backend that was starting meanwhile is ended by
    // the next round, until a round finds none.
    let refuse = format!(r#"alter database "{name}" allow_connections false"#);
    sqlx::raw_sql(&refuse).execute(&mut admin).await.unwrap();
    let terminate = "select count(pg_terminate_backend(pid)) from pg_stat_activity \
                     where datname = $1 and pid <> pg_backend_pid()";
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ended: i64 = sqlx::query_scalar(terminate)
            .bind(name)
            .fetch_one(&mut admin)
            .await
            .unwrap();
        if ended == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "connections to {name} kept coming"
        );
    }

    let not_ready = eventually(Duration::from_secs(30), || async {
        app.get("/readyz").await.status() == 503
    });
    assert!(
        not_ready.await,
        "/readyz stayed 200 while the database refused connections"
    );
    let sent = event(&new_id());
    assert_503(&app, &sent, "PostgreSQL refusing connections").await;

    let allow = format!(r#"alter database "{name}" allow_connections true"#);
    sqlx::raw_sql(&allow).execute(&mut admin).await.unwrap();
    let _ = admin.close().await;

    let ready = eventually(Duration::from_secs(30), || async {
        app.get("/readyz").await.status() == 200
    });
    assert!(ready.await, "/readyz did not recover without a restart");
    let (status, answer) = app.deliver(&sent).await;
    assert_eq!(
        (status, &answer["duplicate"]),
        (200, &json!(false)),
        "the retry: {answer}"
    );
    assert_eq!(db.count_events().await, 1);
    assert_each_503_came_from_the_commit(&app).await;
}

/// Deliveries of fresh events from several senders, recording what was acknowledged.
#[derive(Default)]
struct Traffic {
    acked: Mutex<Vec<String>>,
    refused: Mutex<Vec<String>>,
    stopped: AtomicBool,
}

impl Traffic {
    async fn run(&self, app: &App) {
        join_all((0..8).map(|_| self.send_until_stopped(app))).await;
    }

    async fn send_until_stopped(&self, app: &App) {
        for _ in 0..100_000 {
            if self.stopped.load(Ordering::SeqCst) {
                return;
            }
            let id = new_id();
            let (status, answer) = deliver(app, &event(&id)).await;
            match status {
                200 => self.acked.lock().unwrap().push(id),
                503 => {
                    self.refused.lock().unwrap().push(id);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                other => panic!("a delivery answered {other}: {answer}"),
            }
        }
    }

    async fn wait_for_acks(&self, count: usize) {
        let busy = eventually(Duration::from_secs(30), || async {
            self.acked.lock().unwrap().len() >= count
        });
        assert!(busy.await, "no traffic got through before the outage");
    }

    fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
    }

    async fn assert_nothing_lost(&self, app: &App) {
        let acked = self.acked.lock().unwrap().clone();
        for id in &acked {
            let response = app.get(&format!("/events/{id}")).await;
            assert_eq!(response.status(), 200, "acknowledged {id} is missing");
        }
        eprintln!(
            "{} acknowledged deliveries across the outage, none lost",
            acked.len()
        );
        self.assert_refusals_retry_once(app).await;
    }

    /// An event answered 503 was not acknowledged: it is absent, or its commit finished after
    /// the answer. Dash's retry (as after any 503) must then store it, or find it stored, once.
    async fn assert_refusals_retry_once(&self, app: &App) {
        let refused = self.refused.lock().unwrap().clone();
        assert!(
            !refused.is_empty(),
            "no delivery was refused during the outage"
        );
        for id in &refused {
            let before = app.get(&format!("/events/{id}")).await.status().as_u16();
            assert!(matches!(before, 200 | 404), "GET of refused {id}: {before}");
            let (status, answer) = app.deliver(&event(id)).await;
            assert_eq!(status, 200, "the retry of refused {id}: {answer}");
            assert_eq!(
                answer["duplicate"],
                before == 200,
                "the retry of refused {id} (stored before it: {}): {answer}",
                before == 200
            );
        }
        eprintln!(
            "{} refused deliveries retried: each stored once",
            refused.len()
        );
    }
}

/// Delivers `event`, asserting that a 503 says when to retry, in whole seconds.
async fn deliver(app: &App, event: &Value) -> (u16, Value) {
    let body = serde_json::to_vec(event).expect("serialize");
    let response = app.deliver_bytes(&body).await;
    let retry_after = response.headers().get(RETRY_AFTER).cloned();
    let answer = status_and_json(response).await;
    if answer.0 == 503 {
        let retry_after =
            retry_after.unwrap_or_else(|| panic!("a 503 without Retry-After: {}", answer.1));
        let seconds = retry_after.to_str().unwrap_or_default();
        assert_eq!(seconds, "5", "Retry-After is the documented 5 seconds");
    }
    answer
}

/// Delivers `event` and asserts a 503 with `Retry-After` and an error body.
async fn assert_503(app: &App, event: &Value, case: &str) {
    let (status, answer) = deliver(app, event).await;
    assert_error(case, status, &answer, 503, None);
}

/// Asserts that every delivery answered 503 was refused by the commit: the handler counts each
/// commit that fails or outlasts its bound (`WRITE_TIMEOUT`, 10 s) in
/// `dash_events_rejected_total{reason="unavailable"}`, while the request-duration histogram
/// counts every 503 on the route, also one from the request timeout (30 s by default), which
/// answers a delivery left hanging. Equal counts mean no delivery waited for its answer beyond
/// the commit's bound, without timing any of them.
async fn assert_each_503_came_from_the_commit(app: &App) {
    let metrics = app.get("/metrics").await.text().await.expect("metrics");
    let route = [("route", "/webhooks/dash"), ("status", "503")];
    let answered = sample(
        &metrics,
        "dash_events_http_request_duration_seconds_count",
        &route,
    );
    let refused = sample(
        &metrics,
        "dash_events_rejected_total",
        &[("reason", "unavailable")],
    );
    assert!(answered > 0.0, "no delivery was answered 503");
    assert_eq!(
        answered, refused,
        "{answered} deliveries answered 503, {refused} of them by the commit"
    );
}

/// `/readyz` turns 503 and `probe` is refused with 503.
async fn assert_unready_and_refusing(app: &App, probe: &Value) {
    assert_unready(app).await;
    let (status, answer) = deliver(app, probe).await;
    assert_eq!(status, 503, "{answer}");
}

async fn assert_unready(app: &App) {
    let unready = eventually(Duration::from_secs(15), || async {
        app.get("/readyz").await.status() == 503
    });
    assert!(unready.await, "/readyz stayed 200 during the outage");
}

async fn assert_recovers(app: &App) {
    let recovered = eventually(Duration::from_secs(60), || async {
        deliver(app, &event(&new_id())).await.0 == 200
    });
    assert!(
        recovered.await,
        "deliveries did not recover without a restart"
    );
    let ready = eventually(Duration::from_secs(15), || async {
        app.get("/readyz").await.status() == 200
    });
    assert!(ready.await, "/readyz did not recover");
}

fn big_event() -> Value {
    let mut big = event(&new_id());
    big["data"]["notes"] = json!("x".repeat(512 * 1024));
    big
}
