//! The SQLite WAL stays bounded under continuous ingest. A checkpoint that never waits for the
//! writer cannot finish while commits keep coming, and then the WAL is never reused from its
//! start: it grew to 20 GB in a five-minute benchmark. The checkpointer must restart it.

use std::collections::HashSet;

use dash_events::event::{NewEvent, parse_delivery};
use dash_events::store::{Durability, Store};

use crate::backend::{Backend, TestDb};

/// Events written back to back, under random ids (each dirties a page of the id index): ~0.6 GB
/// of WAL if it were never reused.
const EVENTS: usize = 150_000;
const BATCH: usize = 250;
/// The checkpointer restarts the WAL at 64 MiB; what commits add during one checkpoint interval
/// comes on top. Four times the threshold leaves room for a slow machine and is still a
/// quarter of what an unbounded WAL reaches here.
const BOUND: u64 = 256 * 1024 * 1024;
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
    let mut largest = 0;
    for start in (0..EVENTS).step_by(BATCH) {
        let batch: Vec<NewEvent> = (start..start + BATCH).map(|_| event()).collect();
        let rows: Vec<(&NewEvent, i64)> = batch.iter().map(|e| (e, 0)).collect();
        insert_as_dash_would(&store, &rows, &known).await;
        known.insert(b"agent:complete".to_vec());
        largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
    }
    store.close().await;
    assert!(
        largest <= BOUND,
        "the WAL reached {largest} bytes while {EVENTS} events were written back to back"
    );
}

/// Inserts `rows`, retrying a transient failure as Dash retries a 503. On a starved machine the
/// RESTART checkpoint can hold the writer past its busy timeout: the delivery answers 503 and is
/// retried, which is not what this test is about.
async fn insert_as_dash_would(store: &Store, rows: &[(&NewEvent, i64)], known: &HashSet<Vec<u8>>) {
    for _ in 0..RETRIES {
        match store.insert_batch(rows, 0, known, &[]).await {
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
