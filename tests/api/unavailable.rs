//! When the database cannot take the write, a delivery is answered 503 with `Retry-After` and is
//! not stored, so Dash retries; once the database is back the retry is stored as new, without a
//! restart. The outage is made through the test's own connection: an exclusive SQLite transaction,
//! a renamed PostgreSQL table, or a PostgreSQL database refusing connections (then `/readyz` is 503).

use std::time::{Duration, Instant};

use reqwest::header::RETRY_AFTER;
use serde_json::{Value, json};
use sqlx::Connection;

use crate::backend::{Backend, TestDb, base_url};
use crate::helpers::{assert_error, event, eventually, new_id, status_and_json};
use crate::server::App;

/// How long a delivery may wait for a locked-out database before it must have been answered.
const PROMPTLY: Duration = Duration::from_secs(15);

both_backends!(database_that_cannot_take_the_write_answers_503_with_retry_after);
postgres_only!(database_refusing_connections_makes_readyz_and_deliveries_answer_503_until_back);

/// Delivers `event` and asserts a prompt 503 with `Retry-After` and an error body.
async fn assert_503(app: &App, event: &Value, case: &str) {
    let started = Instant::now();
    let body = serde_json::to_vec(event).unwrap();
    let response = app.deliver_bytes(&body).await;
    let retry_after = response.headers().get(RETRY_AFTER).cloned();
    let (status, answer) = status_and_json(response).await;
    assert_error(case, status, &answer, 503, None);
    assert!(
        started.elapsed() < PROMPTLY,
        "{case}: took {:?}",
        started.elapsed()
    );
    let retry_after = retry_after.unwrap_or_else(|| panic!("{case}: no Retry-After"));
    let seconds = retry_after.to_str().unwrap_or_default();
    assert!(
        seconds.parse::<u64>().is_ok(),
        "{case}: Retry-After {seconds:?} is not seconds"
    );
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
}

async fn database_refusing_connections_makes_readyz_and_deliveries_answer_503_until_back(
    db: TestDb,
) {
    let app = App::start(&db).await;
    let name = db.postgres_name().expect("a PostgreSQL test database");
    let mut admin = sqlx::PgConnection::connect(&base_url()).await.unwrap();
    let refuse = format!(
        r#"alter database "{name}" allow_connections false;
           select pg_terminate_backend(pid) from pg_stat_activity where datname = '{name}';"#
    );
    sqlx::raw_sql(&refuse).execute(&mut admin).await.unwrap();

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
}
