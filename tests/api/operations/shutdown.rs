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

use crate::backend::{Backend, TestDb};
use crate::helpers::{event, eventually, new_id};
use crate::support::server::ServeProcess;

both_backends!(
    sigterm_with_a_hundred_deliveries_in_flight_exits_0_keeping_every_acknowledged_event,
    sigint_shuts_down_gracefully_with_exit_0,
    sigkill_with_deliveries_in_flight_loses_no_acknowledged_event,
    sigterm_answers_every_delivery_in_flight_200_and_refuses_new_connections,
    sigint_answers_every_delivery_in_flight_200_and_refuses_new_connections,
);

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

async fn sigterm_answers_every_delivery_in_flight_200_and_refuses_new_connections(db: TestDb) {
    in_flight_deliveries_are_answered_200_at(db, Signal::SIGTERM).await;
}

async fn sigint_answers_every_delivery_in_flight_200_and_refuses_new_connections(db: TestDb) {
    in_flight_deliveries_are_answered_200_at(db, Signal::SIGINT).await;
}

/// Deliveries held in flight by a lock on the database when `signal` arrives: the server stops
/// accepting connections, yet answers every one of them 200 once the lock goes, stores them and
/// exits 0. The server's own in-flight gauge says when they are inside it, so nothing is timed.
async fn in_flight_deliveries_are_answered_200_at(db: TestDb, signal: Signal) {
    const IN_FLIGHT: i64 = 5;
    let mut app = ServeProcess::start(&db).await;
    let lock = WriteLock::take(&db).await;
    let ids: Vec<String> = (0..IN_FLIGHT).map(|_| new_id()).collect();
    let deliveries = ids.iter().map(|id| {
        let (app, event) = (&app, event(id));
        async move { app.try_deliver(&event).await }
    });
    let held = async {
        let inside = eventually(Duration::from_secs(20), || async {
            deliveries_in_flight(&app).await >= IN_FLIGHT
        });
        assert!(inside.await, "the deliveries never reached the server");
        app.signal(signal);
        let addr = app.addr;
        let closed = eventually(Duration::from_secs(20), || async move {
            TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err()
        });
        assert!(closed.await, "still accepting connections after {signal}");
        lock.release().await;
    };
    let (answers, ()) = futures::join!(join_all(deliveries), held);

    for (id, answer) in ids.iter().zip(&answers) {
        let Some((status, body)) = answer else {
            panic!("the delivery of {id}, in flight at {signal}, got no answer");
        };
        assert_eq!(
            *status, 200,
            "the delivery of {id} in flight at {signal}: {body}"
        );
    }
    let exit = app.wait_exit().await;
    assert!(
        exit.status.success(),
        "exit {:?} after {signal}\n{}",
        exit.status,
        exit.stderr
    );
    let stored = db.stored_ids().await;
    for id in &ids {
        assert!(
            stored.contains(id),
            "{id} was answered 200 but is not stored"
        );
    }
}

/// `dash_events_deliveries_in_flight` as the server reports it.
async fn deliveries_in_flight(app: &ServeProcess) -> i64 {
    let text = app.get("/metrics").await.text().await.unwrap_or_default();
    text.lines()
        .find_map(|line| line.strip_prefix("dash_events_deliveries_in_flight "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0)
}

/// A lock that keeps the server's commits waiting: on PostgreSQL an exclusive lock on the events
/// table, on SQLite the database's write lock. The server waits for it up to its 5 s busy
/// timeout on SQLite (10 s for a commit on PostgreSQL); the test holds it only until it has
/// seen the deliveries inside, sent the signal and seen the port close, which takes well under
/// a second here: more than a 5x margin.
enum WriteLock {
    Postgres(sqlx::PgConnection),
    Sqlite(sqlx::SqliteConnection),
}

impl WriteLock {
    async fn take(db: &TestDb) -> WriteLock {
        match db.backend() {
            Backend::Postgres => {
                let mut connection = db.postgres().await;
                let hold = "begin; lock table events in access exclusive mode";
                sqlx::raw_sql(hold)
                    .execute(&mut connection)
                    .await
                    .expect("lock events");
                WriteLock::Postgres(connection)
            }
            Backend::Sqlite => {
                let mut connection = db.sqlite().await;
                sqlx::raw_sql("begin immediate")
                    .execute(&mut connection)
                    .await
                    .expect("lock");
                WriteLock::Sqlite(connection)
            }
        }
    }

    async fn release(self) {
        match self {
            WriteLock::Postgres(mut connection) => {
                sqlx::raw_sql("commit")
                    .execute(&mut connection)
                    .await
                    .expect("release");
            }
            WriteLock::Sqlite(mut connection) => {
                sqlx::raw_sql("commit")
                    .execute(&mut connection)
                    .await
                    .expect("release");
            }
        }
    }
}
