//! After a start on SQLite, `serve` reads the id index through in key ranges on several
//! connections, so that the first inserts do not each wait for a disk read of it. The ranges
//! must cover every id exactly once, whatever its shape (Dash sends UUIDs; the ranges are cut
//! by their first hex digit), and the read must leave the service answering.

use std::time::Duration;

use dash_events::store::{Durability, Store};

use crate::backend::{Backend, TestDb};
use crate::helpers::{event, eventually};
use crate::support::launch::Launch;

both_backends!(the_warm_up_reads_every_id_once_whatever_its_shape);

/// Ids on both sides of every cut, and outside all of them.
const IDS: [&str; 12] = [
    "0e7d2c1a-6f0e-4a57-9a43-1c2b3d4e5f60",
    "9fffffff-0000-4000-8000-000000000000",
    "a0000000-0000-4000-8000-000000000000",
    "f2a1c1de-1111-4a57-9a43-1c2b3d4e5f60",
    "F2A1C1DE-1111-4A57-9A43-1C2B3D4E5F60",
    "evt_123",
    "g",
    "zzz",
    "~tilde",
    " leading space",
    "é-accented",
    "0",
];

async fn the_warm_up_reads_every_id_once_whatever_its_shape(db: TestDb) {
    let app = Launch::new(&db).start().await;
    for id in IDS {
        let answer = app.deliver(&event(id)).await;
        assert_eq!(answer.0, 200, "{id}: {:?}", answer.1);
    }
    app.stop().await;

    let store = Store::connect(db.url(), Durability::Normal)
        .await
        .expect("store");
    let read = store.warm_id_index().await.expect("warm-up");
    store.close().await;
    let expected = match db.backend() {
        Backend::Sqlite => IDS.len() as i64,
        // PostgreSQL's caches are the server's: nothing is read ahead.
        Backend::Postgres => 0,
    };
    assert_eq!(read, expected);

    if db.backend() == Backend::Sqlite {
        let app = Launch::new(&db).env("RUST_LOG", "info").start().await;
        let line = format!("ids={}", IDS.len());
        let logged = eventually(Duration::from_secs(10), || async {
            app.stderr()
                .lines()
                .any(|l| l.contains("read the id index into the page cache") && l.contains(&line))
        });
        assert!(logged.await, "no warm-up logged:\n{}", app.stderr());
        assert!(
            !app.stderr().contains("slow statement"),
            "the warm-up's reads are not statements to warn about:\n{}",
            app.stderr()
        );
        assert_eq!(
            app.deliver(&event(IDS[0])).await.0,
            200,
            "a duplicate after it"
        );
        app.stop().await;
    }
}
