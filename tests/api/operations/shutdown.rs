//! Graceful shutdown: on SIGTERM (or SIGINT) `serve` stops accepting connections, finishes the
//! requests in flight — their events committed and acknowledged — and exits 0. Every delivery that
//! was answered 200 is in the database afterwards — even after a `kill -9`, since a 200 means
//! the event was committed before the answer.

use std::collections::HashSet;
use std::net::TcpStream;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::join_all;
use nix::sys::signal::Signal;
use serde_json::Value;

use crate::backend::TestDb;
use crate::helpers::{event, eventually, new_id};
use crate::support::server::ServeProcess;

both_backends!(
    sigterm_with_a_hundred_deliveries_in_flight_exits_0_keeping_every_acknowledged_event,
    sigint_shuts_down_gracefully_with_exit_0,
    sigkill_with_deliveries_in_flight_loses_no_acknowledged_event,
);
postgres_only!(sigterm_waits_for_deliveries_blocked_on_the_database);

/// Sends deliveries one after another until one is not answered 200, recording acknowledged ids.
async fn keep_delivering(app: &ServeProcess, acked: &Mutex<Vec<String>>, count: &AtomicUsize) {
    for _ in 0..500 {
        let id = new_id();
        let Some((200, answer)) = app.try_deliver(&event(&id)).await else {
            return;
        };
        assert_eq!(
            answer["id"],
            id.as_str(),
            "acknowledged another id: {answer}"
        );
        acked.lock().unwrap().push(id);
        count.fetch_add(1, Ordering::SeqCst);
    }
}

async fn sigterm_with_a_hundred_deliveries_in_flight_exits_0_keeping_every_acknowledged_event(
    db: TestDb,
) {
    let mut app = ServeProcess::start(&db).await;
    let acked = Mutex::new(Vec::new());
    let count = AtomicUsize::new(0);

    let senders = join_all((0..100).map(|_| keep_delivering(&app, &acked, &count)));
    let terminate = async {
        let warmed_up = eventually(Duration::from_secs(60), || async {
            count.load(Ordering::SeqCst) >= 200
        })
        .await;
        assert!(warmed_up, "not 200 acknowledgements within 60 s");
        app.signal(Signal::SIGTERM);
    };
    futures::join!(senders, terminate);

    let exit = app.wait_exit().await;
    assert!(
        exit.status.success(),
        "exit {:?} after SIGTERM\n{}",
        exit.status,
        exit.stderr
    );
    let stored: HashSet<String> = db.stored_ids().await.into_iter().collect();
    let acked = acked.into_inner().unwrap();
    let lost: Vec<&String> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged events lost: {lost:?}",
        lost.len(),
        acked.len()
    );
}

async fn sigkill_with_deliveries_in_flight_loses_no_acknowledged_event(db: TestDb) {
    let app = ServeProcess::start(&db).await;
    let acked = Mutex::new(Vec::new());
    let count = AtomicUsize::new(0);

    let senders = join_all((0..50).map(|_| keep_delivering(&app, &acked, &count)));
    let kill = async {
        let warmed_up = eventually(Duration::from_secs(60), || async {
            count.load(Ordering::SeqCst) >= 100
        })
        .await;
        assert!(warmed_up, "not 100 acknowledgements within 60 s");
        app.signal(Signal::SIGKILL);
    };
    futures::join!(senders, kill);
    let app = app.crash_and_restart().await;

    let acked = acked.into_inner().unwrap();
    let stats = app.get_json("/stats").await;
    let total = stats["totalEvents"].as_u64().expect("totalEvents");
    assert!(
        total >= acked.len() as u64,
        "{total} stored, {} acknowledged",
        acked.len()
    );
    for id in &acked {
        let status = app.get(&format!("/events/{id}")).await.status();
        assert_eq!(status, 200, "acknowledged {id} is gone after kill -9");
    }
}

async fn sigint_shuts_down_gracefully_with_exit_0(db: TestDb) {
    let mut app = ServeProcess::start(&db).await;
    app.store(&event(&new_id())).await;

    app.signal(Signal::SIGINT);
    let exit = app.wait_exit().await;

    assert!(
        exit.status.success(),
        "exit {:?} after SIGINT\n{}",
        exit.status,
        exit.stderr
    );
    assert_eq!(db.count_events().await, 1);
}

async fn sigterm_waits_for_deliveries_blocked_on_the_database(db: TestDb) {
    let mut app = ServeProcess::start(&db).await;
    let mut lock = db.postgres().await;
    let hold = "begin; lock table events in access exclusive mode";
    sqlx::raw_sql(hold)
        .execute(&mut lock)
        .await
        .expect("lock events");
    let ids: Vec<String> = (0..5).map(|_| new_id()).collect();
    let deliveries = ids.iter().map(|id| {
        let (app, event) = (&app, event(id));
        async move { app.try_deliver(&event).await }
    });

    let held = async {
        let watcher = sqlx::PgPool::connect(db.url()).await.expect("watch locks");
        let waiting = eventually(Duration::from_secs(20), || async {
            lock_waiters(&watcher).await >= 1
        });
        assert!(waiting.await, "no delivery ever waited on the lock");
        app.signal(Signal::SIGTERM);
        let addr = app.addr;
        let closed = eventually(Duration::from_secs(20), || async move {
            TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err()
        });
        assert!(closed.await, "still accepting connections after SIGTERM");
        sqlx::raw_sql("commit")
            .execute(&mut lock)
            .await
            .expect("release");
        watcher.close().await;
    };
    let (answers, ()) = futures::join!(join_all(deliveries), held);

    // A delivery that had not reached the server before SIGTERM may find it closed (`None`);
    // every one that was answered must be a 200, and at least the one seen waiting was.
    let answered: Vec<&(u16, Value)> = answers.iter().flatten().collect();
    assert!(
        !answered.is_empty(),
        "the in-flight deliveries got no answer"
    );
    for (status, body) in &answered {
        assert_eq!(
            *status, 200,
            "an in-flight delivery answered {status}: {body}"
        );
    }
    let exit = app.wait_exit().await;
    assert!(
        exit.status.success(),
        "exit {:?}\n{}",
        exit.status,
        exit.stderr
    );
    let stored = db.stored_ids().await;
    for (status, body) in answered {
        let id = body["id"].as_str().expect("acknowledged id");
        assert!(
            stored.iter().any(|s| s == id),
            "{status} for {id}, not stored"
        );
    }
}

/// How many sessions on the test database wait for a lock.
async fn lock_waiters(watcher: &sqlx::PgPool) -> i64 {
    let sql = "select count(*) from pg_stat_activity \
               where datname = current_database() and wait_event_type = 'Lock'";
    sqlx::query_scalar(sql)
        .fetch_one(watcher)
        .await
        .expect("read pg_stat_activity")
}
