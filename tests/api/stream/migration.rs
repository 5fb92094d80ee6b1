//! Migration 0002 (stream position and stored signature) on a database that already holds events
//! stored under 0001: every row is kept and still answered the same, the stream reads them from
//! the start of the log, `verify` counts them as stored without a signature, and new events come
//! after them. On SQLite, a stream position is never handed out twice, even after every row
//! was deleted.

use std::path::Path;

use sqlx::migrate::Migrator;

use crate::backend::{Backend, TestDb};
use crate::helpers::{encode_segment, event_at, new_id};
use crate::operations::verify::verify;
use crate::support::app::App;
use crate::support::http::SECRET;
use crate::support::sse::{MESSAGE_TIMEOUT, Message, SseStream};

both_backends_on_stream_cluster!(rows_stored_before_0002_are_kept_streamed_and_counted_unsigned);

/// The columns of 0001, copied from one database to another.
type Row = (
    String,
    Vec<u8>,
    i64,
    i64,
    Vec<u8>,
    Option<f64>,
    Option<f64>,
    Vec<u8>,
);

const SELECT_ROWS: &str = "select id, type, ts_us, received_us, content_hash, cost, duration_ms, \
    body from events order by ts_us";
const INSERT_ROW: &str = "insert into events (id, type, ts_us, received_us, content_hash, cost, \
    duration_ms, body) values ($1, $2, $3, $4, $5, $6, $7, $8)";

/// Rows as the service stores them, from a scratch database.
async fn rows_from_a_receiver(db: &TestDb) -> (Vec<Row>, Vec<serde_json::Value>) {
    let app = App::start(db).await;
    let mut answers = Vec::new();
    for (n, event_type) in [
        "agent:complete",
        "budget:warning",
        "agent:error",
        "swarm:start",
    ]
    .iter()
    .enumerate()
    {
        let id = new_id();
        app.store(&event_at(
            &id,
            event_type,
            &format!("2026-11-28T10:00:0{n}Z"),
        ))
        .await;
        answers.push(
            app.get_json(&format!("/events/{}", encode_segment(&id)))
                .await,
        );
    }
    app.stop().await;
    let rows = match db.backend() {
        Backend::Sqlite => {
            sqlx::query_as(SELECT_ROWS)
                .fetch_all(&mut db.sqlite().await)
                .await
        }
        Backend::Postgres => {
            sqlx::query_as(SELECT_ROWS)
                .fetch_all(&mut db.postgres().await)
                .await
        }
    };
    (rows.expect("read the rows"), answers)
}

/// A database at migration 0001 holding `rows`, as an older release left it, on the same server
/// as `scratch`.
async fn database_at_0001(scratch: &TestDb, rows: &[Row]) -> TestDb {
    let backend = scratch.backend();
    let db = scratch.provision_beside().await;
    let (folder, file) = match backend {
        Backend::Sqlite => ("sqlite", "0001_events.sql"),
        Backend::Postgres => ("postgres", "0001_events.sql"),
    };
    let only_0001 = db.dir().join("migrations-0001");
    std::fs::create_dir_all(&only_0001).expect("migrations folder");
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(folder)
        .join(file);
    std::fs::copy(&source, only_0001.join(file)).expect("copy 0001");
    let migrator = Migrator::new(only_0001.as_path())
        .await
        .expect("0001 migrator");
    macro_rules! apply_and_insert {
        ($conn:expr) => {{
            let mut conn = $conn;
            migrator.run(&mut conn).await.expect("apply 0001");
            for row in rows {
                let query = sqlx::query(INSERT_ROW)
                    .bind(&row.0)
                    .bind(&row.1)
                    .bind(row.2)
                    .bind(row.3);
                let query = query.bind(&row.4).bind(row.5).bind(row.6).bind(&row.7);
                query.execute(&mut conn).await.expect("insert a 0001 row");
            }
        }};
    }
    match backend {
        Backend::Sqlite => apply_and_insert!(db.create_sqlite().await),
        Backend::Postgres => apply_and_insert!(db.postgres().await),
    }
    db
}

async fn rows_stored_before_0002_are_kept_streamed_and_counted_unsigned(scratch: TestDb) {
    let (rows, answers) = rows_from_a_receiver(&scratch).await;
    let db = database_at_0001(&scratch, &rows).await;

    let app = App::start(&db).await;

    for answer in &answers {
        let id = answer["id"].as_str().expect("id");
        assert_eq!(
            &app.get_json(&format!("/events/{}", encode_segment(id)))
                .await,
            answer
        );
    }
    let start = match db.backend() {
        Backend::Sqlite => "s0",
        Backend::Postgres => "p0.",
    };
    let mut stream = SseStream::open(&app, &[], Some(start)).await;
    let old: Vec<Message> = stream.messages_until(|r| r.len() == 4).await;
    let mut old_ids: Vec<String> = old.iter().map(Message::event_id).collect();
    let mut expected: Vec<String> = rows.iter().map(|row| row.0.clone()).collect();
    if db.backend() == Backend::Postgres {
        // One transaction (the migration's) holds them all; within it they are in id order.
        old_ids.sort();
        expected.sort();
    }
    assert_eq!(old_ids, expected, "the rows of 0001 in their order");
    let new = new_id();
    app.store(&event_at(&new, "agent:complete", "2026-11-28T11:00:00Z"))
        .await;
    assert_eq!(
        stream.message(MESSAGE_TIMEOUT).await.event_id(),
        new,
        "new events come after"
    );

    let checked = verify(&db, &["--webhook-secret", SECRET]).await;
    assert_eq!(checked.status.code(), Some(0), "{checked:?}");
    assert!(
        checked
            .stdout
            .contains("checked 5 events: 1 ok, 0 mismatched, 4 without signature"),
        "{checked:?}"
    );

    if db.backend() == Backend::Sqlite {
        let last = old.last().expect("4 messages").id.clone();
        let mut conn = db.sqlite().await;
        sqlx::query("delete from events")
            .execute(&mut conn)
            .await
            .expect("delete all");
        let after_delete = new_id();
        app.store(&event_at(
            &after_delete,
            "agent:complete",
            "2026-11-28T12:00:00Z",
        ))
        .await;
        let message = SseStream::open(&app, &[], Some(&last))
            .await
            .message(MESSAGE_TIMEOUT)
            .await;
        assert_eq!(message.event_id(), after_delete);
        assert_eq!(
            message.id, "s6",
            "seq 5 and below are never handed out again"
        );
    }
}
