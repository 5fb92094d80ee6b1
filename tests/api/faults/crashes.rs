//! `kill -9` of `serve` processes under load.
//!
//! One receiver, round after round on the same database: after each restart every event that was
//! answered 200 is stored byte for byte, and delivering it again is a duplicate.
//! `DASH_EVENTS_CRASH_ROUNDS` sets the rounds (default 10; the longer run reported in the README
//! uses more).
//!
//! Several receivers on one PostgreSQL database get the same burst of ids at once, and one of
//! them is killed in the middle of it: every id is still stored exactly once, every id
//! acknowledged by any receiver is stored, and no id is acknowledged as new twice.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::join_all;
use nix::sys::signal::Signal;

use crate::backend::{Backend, TestDb};
use crate::helpers::{event, eventually, new_id};
use crate::support::server::ServeProcess;

both_backends!(repeated_kill_9_under_load_loses_no_acknowledged_event);
postgres_only!(a_receiver_killed_mid_burst_leaves_every_id_stored_exactly_once);

/// Concurrent senders per round.
const SENDERS: usize = 16;

async fn repeated_kill_9_under_load_loses_no_acknowledged_event(db: TestDb) {
    let rounds: usize = std::env::var("DASH_EVENTS_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let mut app = ServeProcess::start(&db).await;
    let mut checked = 0;
    for round in 0..rounds {
        let acked = Mutex::new(Vec::new());
        let count = AtomicUsize::new(0);
        let kill_after = 20 + (round * 17) % 80;
        let senders = join_all((0..SENDERS).map(|_| keep_delivering(&app, &acked, &count)));
        let kill = async {
            let busy = eventually(Duration::from_secs(60), || async {
                count.load(Ordering::SeqCst) >= kill_after
            });
            assert!(
                busy.await,
                "round {round}: not {kill_after} acknowledgements in 60 s"
            );
            app.signal(Signal::SIGKILL);
        };
        futures::join!(senders, kill);
        app = app.crash_and_restart().await;

        let acked = acked.into_inner().unwrap();
        assert_stored_byte_for_byte(&db, &acked, round).await;
        for (id, body) in acked.iter().step_by(7) {
            let (status, answer) = app
                .try_deliver_bytes(body)
                .await
                .expect("redelivery answered");
            assert_eq!(
                (status, answer["duplicate"].as_bool()),
                (200, Some(true)),
                "{id}: {answer}"
            );
        }
        checked += acked.len();
    }
    eprintln!(
        "{:?}: {rounds} kill -9 rounds, {checked} acknowledged events checked, 0 lost",
        db.backend()
    );
    assert!(checked >= rounds * 20);
}

async fn a_receiver_killed_mid_burst_leaves_every_id_stored_exactly_once(db: TestDb) {
    let receivers: Vec<ServeProcess> = join_all((0..3).map(|_| ServeProcess::start(&db))).await;
    let ids: Vec<String> = (0..600).map(|_| new_id()).collect();
    let answered = Mutex::new(Vec::<(usize, u16, serde_json::Value)>::new());

    let burst = join_all(ids.iter().flat_map(|id| {
        let event = event(id);
        let answered = &answered;
        receivers.iter().enumerate().map(move |(n, app)| {
            let event = event.clone();
            async move {
                if let Some((status, body)) = app.try_deliver(&event).await {
                    answered.lock().unwrap().push((n, status, body));
                }
            }
        })
    }));
    let kill = async {
        let midway = eventually(Duration::from_secs(60), || async {
            answered.lock().unwrap().len() >= 300
        });
        assert!(midway.await, "the burst did not get going");
        receivers[0].signal(Signal::SIGKILL);
    };
    futures::join!(burst, kill);

    let answered = answered.into_inner().unwrap();
    let mut new_per_id: HashMap<&str, usize> = HashMap::new();
    for (receiver, status, body) in &answered {
        assert_eq!(
            *status, 200,
            "receiver {receiver} answered {status}: {body}"
        );
        let id = body["id"].as_str().expect("an acknowledged id");
        *new_per_id.entry(id).or_default() += usize::from(body["duplicate"] == false);
    }
    assert!(
        new_per_id.values().all(|&n| n <= 1),
        "an id acknowledged as new twice"
    );
    // The survivors got every id, so every id is stored, once (the primary key sees to "once").
    let stored: Vec<String> = db.stored_ids().await;
    assert_eq!(
        stored.len(),
        ids.len(),
        "stored {} of {} ids",
        stored.len(),
        ids.len()
    );
    for id in &ids {
        assert!(stored.contains(id), "{id} was not stored");
    }
    let survivors_answers = answered.iter().filter(|(n, ..)| *n != 0).count();
    assert_eq!(
        survivors_answers,
        2 * ids.len(),
        "a surviving receiver left a delivery unanswered"
    );
}

/// Delivers fresh events until an answer fails to arrive (the server was killed), recording
/// each acknowledged-as-new event with the exact bytes sent.
async fn keep_delivering(
    app: &ServeProcess,
    acked: &Mutex<Vec<(String, Vec<u8>)>>,
    count: &AtomicUsize,
) {
    for _ in 0..2_000 {
        let id = new_id();
        let body = serde_json::to_vec(&event(&id)).expect("serialize");
        let Some((status, answer)) = app.try_deliver_bytes(&body).await else {
            return;
        };
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["duplicate"].as_bool(), Some(false), "{answer}");
        acked.lock().unwrap().push((id, body));
        count.fetch_add(1, Ordering::SeqCst);
    }
}

async fn assert_stored_byte_for_byte(db: &TestDb, acked: &[(String, Vec<u8>)], round: usize) {
    let sql = "select body from events where id = $1";
    for (id, sent) in acked {
        let stored: Option<Vec<u8>> = match db.backend() {
            Backend::Sqlite => {
                sqlx::query_scalar(sql)
                    .bind(id)
                    .fetch_optional(&mut db.sqlite().await)
                    .await
            }
            Backend::Postgres => {
                sqlx::query_scalar(sql)
                    .bind(id)
                    .fetch_optional(&mut db.postgres().await)
                    .await
            }
        }
        .expect("read the stored body");
        let stored = stored.unwrap_or_else(|| panic!("round {round}: acknowledged {id} was lost"));
        assert_eq!(
            &stored, sent,
            "round {round}: {id} is not stored byte for byte"
        );
    }
}
