//! The answers of `queries::schema` that need the database out of reach, or a client that stops
//! half-way: the 503 of a delivery the database cannot take and the 503 of `/readyz` after it (on
//! both backends), the 503 of every read (on PostgreSQL, whose database can refuse connections;
//! SQLite in WAL mode lets reads go on whatever another connection holds), and the 408.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use sqlx::Connection;
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use crate::backend::{Backend, TestDb};
use crate::helpers::new_id;
use crate::queries::schema::{Answers, fresh_event};
use crate::support::app::App;
use crate::support::openapi::contract;
use crate::support::raw_client::{self as raw, read_until_closed, split_answer};

/// Every query that reads the database, with the method it is sent with.
const READS: [(Method, &str); 10] = [
    (Method::GET, "/events"),
    (Method::GET, "/events/some-id"),
    (Method::GET, "/events/some-id/body"),
    (Method::GET, "/stats"),
    (Method::GET, "/stats/timeline"),
    (Method::GET, "/stats/groups?by=agentId"),
    (Method::GET, "/events/export"),
    (Method::GET, "/events/stream"),
    (Method::GET, "/notifications"),
    (Method::POST, "/notifications/1/retry"),
];

/// The 503s: a delivery while the database cannot take the write, `/readyz` right after it
/// (a commit failed less than 5 s ago: the next local request comes within milliseconds), and
/// on PostgreSQL every read while the database refuses connections.
pub async fn answers_during_an_outage(answers: &mut Answers<'_>, db: &TestDb) {
    let app = answers.app;
    let body = serde_json::to_vec(&fresh_event(&new_id())).expect("serialize");
    match db.backend() {
        Backend::Sqlite => {
            let mut holder = db.sqlite().await;
            sqlx::raw_sql("begin exclusive")
                .execute(&mut holder)
                .await
                .unwrap();
            answers.call(503, app.deliver_request(&body)).await;
            answers.call(503, answers.get("/readyz", false)).await;
            sqlx::raw_sql("rollback")
                .execute(&mut holder)
                .await
                .unwrap();
            let _ = holder.close().await;
        }
        Backend::Postgres => {
            let mut admin = db.postgres().await;
            let away = "alter table events rename to events_away";
            sqlx::raw_sql(away).execute(&mut admin).await.unwrap();
            answers.call(503, app.deliver_request(&body)).await;
            answers.call(503, answers.get("/readyz", false)).await;
            let back = "alter table events_away rename to events";
            sqlx::raw_sql(back).execute(&mut admin).await.unwrap();
            let _ = admin.close().await;
            reads_while_connections_are_refused(answers, db).await;
        }
    }
}

async fn reads_while_connections_are_refused(answers: &mut Answers<'_>, db: &TestDb) {
    let name = db.postgres_name().expect("a PostgreSQL test database");
    let mut admin = sqlx::PgConnection::connect(db.server_url()).await.unwrap();
    let refuse = format!(r#"alter database "{name}" allow_connections false"#);
    sqlx::raw_sql(&refuse).execute(&mut admin).await.unwrap();
    end_connections(&mut admin, name).await;
    for (method, path) in READS {
        let request = answers.app.request(method, path);
        answers.call(503, request).await;
    }
    let allow = format!(r#"alter database "{name}" allow_connections true"#);
    sqlx::raw_sql(&allow).execute(&mut admin).await.unwrap();
    let _ = admin.close().await;
}

/// Ends the server's connections to `name` until a round finds none (one that was being opened
/// while the previous round ran is ended by the next).
async fn end_connections(admin: &mut sqlx::PgConnection, name: &str) {
    let terminate = "select count(pg_terminate_backend(pid)) from pg_stat_activity \
                     where datname = $1 and pid <> pg_backend_pid()";
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ended: i64 = sqlx::query_scalar(terminate)
            .bind(name)
            .fetch_one(&mut *admin)
            .await
            .unwrap();
        if ended == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "connections to {name} kept coming"
        );
    }
}

/// The 408 of a body that stops half-way (also checked by `ingest::slow_clients`), read off the
/// socket and checked against the document here, as no HTTP client gets this far.
pub async fn slow_body_answer(app: &App) -> u16 {
    let (mut reader, mut writer) = raw::connect(app.addr).await.into_split();
    let head = "POST /webhooks/dash HTTP/1.1\r\nhost: 127.0.0.1\r\n\
                content-type: application/json\r\ncontent-length: 100\r\n\r\n{";
    writer
        .write_all(head.as_bytes())
        .await
        .expect("send the head");
    let seen = AtomicBool::new(false);
    let (answer, _) =
        read_until_closed(&mut reader, Instant::now(), Duration::from_secs(10), &seen).await;
    let status =
        raw::status(&answer).unwrap_or_else(|| panic!("no status: {:?}", split_answer(&answer)));
    assert_eq!(status, 408, "{:?}", split_answer(&answer));
    let (head, body) = split_answer(&answer);
    let answer = (status, &headers_of(&head), body.as_bytes());
    if let Err(problem) = contract().check(&Method::POST, "/webhooks/dash", answer) {
        panic!("the 408, against /openapi.json: {problem}\n{head}\n{body}");
    }
    status
}

/// The header fields of a raw answer's head (the status line is skipped).
fn headers_of(head: &str) -> HeaderMap {
    head.lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .filter_map(|(name, value)| {
            let name = HeaderName::from_bytes(name.trim().as_bytes()).ok()?;
            Some((name, HeaderValue::from_str(value.trim()).ok()?))
        })
        .collect()
}
