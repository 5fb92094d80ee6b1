//! The SQLite WAL stays bounded under continuous ingest. A checkpoint that never waits for the
//! writer cannot finish while commits keep coming, and then the WAL is never reused from its
//! start: it grew to 20 GB in a five-minute benchmark. The checkpointer must restart it, but not
//! while a long read transaction (a `dash-events backup`) holds it: a RESTART would hold the
//! write lock waiting for that reader, and stop ingest for as long as the reader reads.

use std::collections::HashSet;
use std::time::Duration;

use dash_events::event::{NewEvent, parse_delivery};
use dash_events::store::{Durability, SearchIndex, Store};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};

use crate::backend::{Backend, TestDb};
use crate::helpers::{event as dash_event, new_id};
use crate::support::app::App;

/// Events written back to back, under random ids (each dirties a page of the id index): ~0.8 GB
/// of WAL if it were never reused.
const EVENTS: usize = 200_000;
const BATCH: usize = 250;
/// The checkpointer restarts the WAL at 64 MiB; what commits add during one checkpoint round
/// comes on top, and a round whose copy the writer outpaced waits for the next. Measured: up to
/// 286 MiB in a CI run on a busy machine, 4.5 times the threshold. Six times leaves room for a
/// slower one and is still half of what an unbounded WAL reaches here.
const BOUND: u64 = 6 * 64 * 1024 * 1024;
/// Where the WAL header keeps salt-1, which SQLite changes each time the WAL starts over.
const SALT_1: std::ops::Range<usize> = 16..20;
/// Attempts per batch (each waits at most the 5 s busy timeout).
const RETRIES: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_is_restarted_under_continuous_ingest() {
    let db = TestDb::provision(Backend::Sqlite).await.expect("sqlite");
    let store = Store::connect(db.url(), Durability::Normal)
        .await
        .expect("connect");
    let wal = db.dir().join("events.db-wal");
    let mut known = HashSet::new();
    let (mut largest, mut restarts, mut salt) = (0, 0, None);
    for start in (0..EVENTS).step_by(BATCH) {
        let batch: Vec<NewEvent> = (start..start + BATCH).map(|_| event()).collect();
        let rows: Vec<(&NewEvent, i64)> = batch.iter().map(|e| (e, 0)).collect();
        insert_as_dash_would(&store, &rows, &known).await;
        known.insert(b"agent:complete".to_vec());
        largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
        let now = salt_1(&wal);
        if salt.is_some() && now.is_some() && now != salt {
            restarts += 1;
        }
        salt = now.or(salt);
    }
    store.close().await;
    eprintln!("the largest WAL: {largest} bytes; it started over {restarts} times");
    assert!(
        restarts >= 2,
        "the WAL started over {restarts} times while {EVENTS} events were written back to back"
    );
    assert!(
        largest <= BOUND,
        "the WAL reached {largest} bytes while {EVENTS} events were written back to back"
    );
}

/// The WAL's salt-1, once its header is written.
fn salt_1(wal: &std::path::Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut header = [0u8; 32];
    let mut file = std::fs::File::open(wal).ok()?;
    file.read_exact(&mut header).ok()?;
    Some(header[SALT_1].to_vec())
}

/// Inserts `rows`, retrying a transient failure as Dash retries a 503. On a starved machine the
/// RESTART checkpoint can hold the writer past its busy timeout: the delivery answers 503 and is
/// retried, which is not what this test is about.
async fn insert_as_dash_would(store: &Store, rows: &[(&NewEvent, i64)], known: &HashSet<Vec<u8>>) {
    for _ in 0..RETRIES {
        match store
            .insert_batch(rows, 0, known, &[], SearchIndex::Off)
            .await
        {
            Ok(_) => return,
            Err(err) if err.is_transient() => eprintln!("insert retried after: {err}"),
            Err(err) => panic!("insert: {err:?}"),
        }
    }
    panic!("insert still failing after {RETRIES} attempts");
}

fn event() -> NewEvent {
    let notes = "x".repeat(400);
    let id = uuid::Uuid::new_v4();
    let body = format!(
        r#"{{"id":"{id}","type":"agent:complete","timestamp":"2026-11-01T00:00:00Z","data":{{"notes":"{notes}"}}}}"#
    );
    parse_delivery(body.into()).expect("valid event")
}

/// More than the 16 384 frames past which the checkpointer restarts the WAL: 1 200 blobs of
/// 64 KiB are 19 200 pages.
const FILLER: &str = "create table filler (b blob); \
    insert into filler select randomblob(65536) from \
    (with recursive n(x) as (select 1 union all select x + 1 from n where x < 1200) select x from n)";
/// How long the write lock is watched: five checkpoint rounds (one a second), so that a round
/// that takes it cannot fall between two looks even on a starved machine.
const WATCH: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_reader_holding_the_wal_does_not_stop_ingest() {
    let db = TestDb::provision(Backend::Sqlite).await.expect("sqlite");
    let app = App::start(&db).await;
    app.store(&dash_event(&new_id())).await;
    let log = SqliteConnectOptions::new().filename(db.dir().join("events.db"));
    let mut reader = connect(log.clone().read_only(true)).await;
    sqlx::raw_sql("begin; select count(*) from events")
        .execute(&mut reader)
        .await
        .expect("hold a snapshot");
    // The WAL grows past the restart threshold behind the reader, which no checkpoint can pass.
    sqlx::raw_sql(FILLER)
        .execute(&mut db.sqlite().await)
        .await
        .expect("fill the WAL");

    let mut probe = connect(log.busy_timeout(Duration::ZERO)).await;
    let deadline = tokio::time::Instant::now() + WATCH;
    while tokio::time::Instant::now() < deadline {
        let free = sqlx::raw_sql("begin immediate; rollback")
            .execute(&mut probe)
            .await;
        assert!(
            free.is_ok(),
            "the write lock is held while nothing is delivered: {free:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for _ in 0..50 {
        app.store(&dash_event(&new_id())).await;
    }
    let _ = reader.close().await;
}

async fn connect(options: SqliteConnectOptions) -> SqliteConnection {
    options.connect().await.expect("open the log")
}
