//! `kill -9` of `serve` while concurrent deliveries run, round after round on the same database:
//! after each restart every event that was answered 200 is stored byte for byte, and delivering
//! it again is a duplicate. `DASH_EVENTS_CRASH_ROUNDS` sets the rounds (default 10; the longer
//! run reported in the README uses more).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::join_all;
use nix::sys::signal::Signal;
use reqwest::header::CONTENT_TYPE;

use crate::backend::{Backend, TestDb};
use crate::helpers::{event, eventually, new_id, sign};
use crate::server::App;

both_backends!(repeated_kill_9_under_load_loses_no_acknowledged_event);

/// Concurrent senders per round.
const SENDERS: usize = 16;

async fn repeated_kill_9_under_load_loses_no_acknowledged_event(db: TestDb) {
    let rounds: usize = std::env::var("DASH_EVENTS_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let mut app = App::start(&db).await;
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
            let (status, answer) = deliver_raw(&app, body).await.expect("redelivery answered");
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

/// Delivers fresh events until an answer fails to arrive (the server was killed), recording
/// each acknowledged-as-new event with the exact bytes sent.
async fn keep_delivering(app: &App, acked: &Mutex<Vec<(String, Vec<u8>)>>, count: &AtomicUsize) {
    for _ in 0..2_000 {
        let id = new_id();
        let body = serde_json::to_vec(&event(&id)).expect("serialize");
        let Some((status, answer)) = deliver_raw(app, &body).await else {
            return;
        };
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["duplicate"].as_bool(), Some(false), "{answer}");
        acked.lock().unwrap().push((id, body));
        count.fetch_add(1, Ordering::SeqCst);
    }
}

async fn deliver_raw(app: &App, body: &[u8]) -> Option<(u16, serde_json::Value)> {
    let response = app
        .client
        .post(app.url("/webhooks/dash"))
        .header(CONTENT_TYPE, "application/json")
        .header("x-dash-signature", sign(&app.secret, body))
        .body(body.to_vec())
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    Some((status, response.json().await.ok()?))
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
