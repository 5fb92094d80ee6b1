//! The SQLite durability setting is the one the connections really run with: `serve`'s default is
//! `full` (the command line's own test pins that), and the store must apply it to every
//! connection that commits. A `kill -9` test passes with `synchronous=OFF` too, so only reading
//! the setting back from the live pools shows it.

use dash_events::store::{Durability, Store};

use crate::backend::{Backend, TestDb};

/// `PRAGMA synchronous` of the store's writer and of one of its readers (0 off, 1 normal, 2 full).
async fn synchronous_of(store: &Store) -> (i64, i64) {
    let Store::Sqlite { writer, reader } = store else {
        panic!("a SQLite store");
    };
    let sql = "pragma synchronous";
    let written: i64 = sqlx::query_scalar(sql).fetch_one(writer).await.unwrap();
    let read: i64 = sqlx::query_scalar(sql).fetch_one(reader).await.unwrap();
    (written, read)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sqlite_connection_runs_with_the_durability_asked_for() {
    for (durability, expected) in [(Durability::Full, 2), (Durability::Normal, 1)] {
        let db = TestDb::provision(Backend::Sqlite).await.expect("sqlite");
        let store = Store::connect(db.url(), durability).await.expect("connect");
        let (written, read) = synchronous_of(&store).await;
        assert_eq!(written, expected, "the writer under {durability:?}");
        assert_eq!(read, expected, "a reader under {durability:?}");
        store.close().await;
    }
    assert_eq!(
        Durability::default(),
        Durability::Full,
        "the default is full"
    );
}
