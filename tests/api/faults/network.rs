//! The network between the receiver and PostgreSQL fails under load: connections cut in the
//! middle of a commit, a stall longer than the write timeout, a storm of resets. The service
//! reaches PostgreSQL through a proxy the test steers (`support::proxy`), while several senders
//! deliver fresh events and record every answer.
//!
//! Whatever the network does, each delivery is decided once: a 200 means stored once, byte for
//! byte; a 503 (with `Retry-After`) means absent, or stored once by a commit whose answer was
//! lost, and Dash's retry of it is answered 200 (a duplicate exactly when it was stored) and
//! leaves it stored once. Nothing else is answered, nothing is stored that was not sent, the
//! totals count each event once, and the service recovers without a restart.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::future::join_all;
use reqwest::Url;

use crate::backend::TestDb;
use crate::helpers::{event, eventually, new_id};
use crate::support::app::App;
use crate::support::proxy::{Mode, Proxy};

postgres_only!(
    connections_cut_mid_commit_decide_each_delivery_exactly_once,
    stall_longer_than_the_write_timeout_answers_503_then_recovers_by_itself,
    reset_storm_loses_no_acknowledged_delivery_and_stores_none_twice,
);

/// The writer's write timeout (`ingest::writer::WRITE_TIMEOUT`, not configurable): how long a
/// delivery waits for its commit before answering 503.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a delivery may take to answer: the write timeout, plus a slack for forming the
/// 503 after it fires that is over 5× the longest seen on a busy two-core machine (under 1 s).
const ANSWER_BOUND: Duration = Duration::from_secs(15);
/// Bound on awaiting what takes well under a second (acknowledgements, cuts, resets) or up to
/// the 5 s readiness window after a failed commit: over 5× either.
const STATE_TIMEOUT: Duration = Duration::from_secs(30);
/// Concurrent senders.
const SENDERS: usize = 8;
/// Deliveries per sender at most, and the longest it keeps sending: safety stops, far above
/// what a passing case uses (a few hundred deliveries, under 30 s).
const MAX_DELIVERIES: usize = 5_000;
const SENDING_LIMIT: Duration = Duration::from_secs(120);
/// A sender's pause after a 503, standing in for Dash's `Retry-After` (5 s) so that the load
/// goes on during a fault instead of spinning on refusals.
const RETRY_PAUSE: Duration = Duration::from_millis(20);

async fn connections_cut_mid_commit_decide_each_delivery_exactly_once(db: TestDb) {
    let (proxy, app) = start_behind_proxy(&db).await;
    let ledger = Ledger::default();
    let faults = async {
        ledger.await_acks(20).await;
        proxy.set(Mode::CutAtCommit);
        let cut = eventually(STATE_TIMEOUT, || async {
            let (after, before) = proxy.commits_cut();
            after >= 10 && before >= 10
        });
        assert!(cut.await, "not 10 commits cut after reaching PostgreSQL and 10 before");
        proxy.set(Mode::Pass);
        // Then whole connections, whatever they carry: a begin, an insert, a commit, nothing.
        for _ in 0..10 {
            ledger.await_acks(ledger.acks() + 10).await;
            proxy.cut();
        }
        ledger.await_acks(ledger.acks() + 20).await;
        ledger.stop();
    };
    futures::join!(ledger.run(&app), faults);
    let landed = ledger.assert_each_decided_once(&app, &db).await;
    assert!(
        landed > 0,
        "no refused delivery was stored: no COMMIT reached PostgreSQL before its cut"
    );
}

async fn stall_longer_than_the_write_timeout_answers_503_then_recovers_by_itself(db: TestDb) {
    let (proxy, app) = start_behind_proxy(&db).await;
    let ledger = Ledger::default();
    let faults = async {
        ledger.await_acks(20).await;
        proxy.set(Mode::StallFromCommit);
        // The deliveries of the held commit wait out the write timeout; 6× that covers them.
        let timed_out = eventually(6 * WRITE_TIMEOUT, || async {
            ledger.slowest_refusal() >= WRITE_TIMEOUT && ledger.refusals() >= SENDERS
        });
        assert!(timed_out.await, "no delivery waited out the write timeout");
        assert_readiness(&app, 503).await;
        proxy.set(Mode::Pass);
        ledger.await_acks(ledger.acks() + 20).await;
        assert_readiness(&app, 200).await;
        ledger.stop();
    };
    futures::join!(ledger.run(&app), faults);
    let landed = ledger.assert_each_decided_once(&app, &db).await;
    assert!(landed > 0, "the held COMMIT did not land after the stall");
}

async fn reset_storm_loses_no_acknowledged_delivery_and_stores_none_twice(db: TestDb) {
    let (proxy, app) = start_behind_proxy(&db).await;
    let ledger = Ledger::default();
    let faults = async {
        ledger.await_acks(20).await;
        let refused_before = ledger.refusals();
        // A batch of a few events is a few KiB: some connections die in their handshake, most
        // in a statement, and some commits get through.
        proxy.set(Mode::ResetStorm { max_bytes: 8_192 });
        let stormed = eventually(STATE_TIMEOUT, || async {
            proxy.resets() >= 50 && ledger.refusals() > refused_before
        });
        assert!(stormed.await, "not 50 resets and a refusal");
        proxy.set(Mode::Pass);
        ledger.await_acks(ledger.acks() + 20).await;
        assert_readiness(&app, 200).await;
        ledger.stop();
    };
    futures::join!(ledger.run(&app), faults);
    ledger.assert_each_decided_once(&app, &db).await;
}

/// Starts a proxy to the test database's server and the service on the database through it.
async fn start_behind_proxy(db: &TestDb) -> (Proxy, App) {
    let mut url = Url::parse(db.url()).expect("a PostgreSQL URL");
    let host = url.host_str().expect("a host").to_owned();
    let proxy = Proxy::start(&format!("{host}:{}", url.port().unwrap_or(5432))).await;
    url.set_port(Some(proxy.addr().port())).expect("a port");
    // The proxy reads the protocol to find a COMMIT: keep it in clear text.
    url.query_pairs_mut().append_pair("sslmode", "disable");
    let app = App::start_with(db, |config| config.database_url = url.to_string()).await;
    (proxy, app)
}

/// Awaits `/readyz` answering `status`; it answers only 200 or 503.
async fn assert_readiness(app: &App, status: u16) {
    let reached = eventually(STATE_TIMEOUT, || async {
        let answered = app.get("/readyz").await.status().as_u16();
        assert!(matches!(answered, 200 | 503), "/readyz answered {answered}");
        answered == status
    });
    assert!(reached.await, "/readyz did not turn {status}");
}

/// A delivery as sent: its id and exact body.
#[derive(Clone)]
struct Sent {
    id: String,
    body: Vec<u8>,
}

/// What the senders were answered: acknowledged (200) or refused (503).
#[derive(Default)]
struct Ledger {
    acked: Mutex<Vec<Sent>>,
    refused: Mutex<Vec<Sent>>,
    slowest_refusal: Mutex<Duration>,
    stopped: AtomicBool,
}

impl Ledger {
    async fn run(&self, app: &App) {
        join_all((0..SENDERS).map(|_| self.send_until_stopped(app))).await;
    }

    async fn send_until_stopped(&self, app: &App) {
        let started = Instant::now();
        for _ in 0..MAX_DELIVERIES {
            if self.stopped.load(Ordering::SeqCst) || started.elapsed() > SENDING_LIMIT {
                return;
            }
            let id = new_id();
            let body = serde_json::to_vec(&event(&id)).expect("serialize");
            let asked = Instant::now();
            let (status, answer) = app
                .try_deliver_bytes(&body)
                .await
                .unwrap_or_else(|| panic!("the delivery of {id} got no answer"));
            let took = asked.elapsed();
            assert!(took <= ANSWER_BOUND, "{id} was answered after {took:?}");
            let sent = Sent { id, body };
            match status {
                200 => {
                    assert_eq!(answer["duplicate"], false, "a fresh id: {answer}");
                    self.acked.lock().unwrap().push(sent);
                }
                503 => {
                    self.refused.lock().unwrap().push(sent);
                    let mut slowest = self.slowest_refusal.lock().unwrap();
                    *slowest = (*slowest).max(took);
                    drop(slowest);
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                other => panic!("a delivery answered {other}: {answer}"),
            }
        }
    }

    fn acks(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    fn refusals(&self) -> usize {
        self.refused.lock().unwrap().len()
    }

    fn slowest_refusal(&self) -> Duration {
        *self.slowest_refusal.lock().unwrap()
    }

    async fn await_acks(&self, count: usize) {
        let reached = eventually(STATE_TIMEOUT, || async { self.acks() >= count });
        assert!(reached.await, "not {count} acknowledgements");
    }

    fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
    }

    /// Checks the module's promise on the database itself (and resends each refused delivery);
    /// answers how many refused deliveries were found stored before their retry.
    async fn assert_each_decided_once(&self, app: &App, db: &TestDb) -> usize {
        let acked = self.acked.lock().unwrap().clone();
        let refused = self.refused.lock().unwrap().clone();
        assert!(!refused.is_empty(), "the fault refused no delivery");
        let stored = stored_bodies(db, acked.iter().chain(&refused)).await;
        for sent in &acked {
            assert_stored_once(&stored, sent, "acknowledged");
        }
        let landed: Vec<bool> = futures::stream::iter(&refused)
            .map(|sent| retry_refused(app, &stored, sent))
            .buffer_unordered(SENDERS)
            .collect()
            .await;
        let stored = stored_bodies(db, &refused).await;
        for sent in &refused {
            assert_stored_once(&stored, sent, "refused, then retried,");
        }
        assert_totals(app, db, acked.len() + refused.len()).await;
        let landed = landed.into_iter().filter(|&landed| landed).count();
        eprintln!(
            "{} acknowledged, {} refused ({landed} of them stored before the retry, \
             the slowest answered in {:?}): each stored once",
            acked.len(),
            refused.len(),
            self.slowest_refusal()
        );
        landed
    }
}

/// A refused delivery was stored at most once; Dash's retry of it is answered 200, a duplicate
/// exactly when it was already stored. Answers whether it was.
async fn retry_refused(app: &App, stored: &Stored, sent: &Sent) -> bool {
    let landed = match stored.get(&sent.id) {
        None => false,
        Some(_) => {
            assert_stored_once(stored, sent, "refused");
            true
        }
    };
    let (status, answer) = app
        .try_deliver_bytes(&sent.body)
        .await
        .unwrap_or_else(|| panic!("the retry of {} got no answer", sent.id));
    assert_eq!(
        (status, answer["duplicate"].as_bool()),
        (200, Some(landed)),
        "the retry of refused {} (stored before it: {landed}): {answer}",
        sent.id
    );
    landed
}

/// The log holds exactly `count` events, and its totals count each once.
async fn assert_totals(app: &App, db: &TestDb, count: usize) {
    assert_eq!(
        db.count_events().await,
        count as i64,
        "rows in the log besides the deliveries"
    );
    let stats = app.get_json("/stats").await;
    assert_eq!(stats["totalEvents"], count, "the totals: {stats}");
}

/// The bodies stored under each id, read behind the service's back.
type Stored = HashMap<String, Vec<Vec<u8>>>;

async fn stored_bodies(db: &TestDb, sent: impl IntoIterator<Item = &Sent>) -> Stored {
    let ids: Vec<&str> = sent.into_iter().map(|sent| sent.id.as_str()).collect();
    let rows: Vec<(String, Vec<u8>)> =
        sqlx::query_as("select id, body from events where id = any($1)")
            .bind(ids)
            .fetch_all(&mut db.postgres().await)
            .await
            .expect("read the stored bodies");
    let mut stored = Stored::new();
    for (id, body) in rows {
        stored.entry(id).or_default().push(body);
    }
    stored
}

fn assert_stored_once(stored: &Stored, sent: &Sent, what: &str) {
    let found = stored.get(&sent.id).map(Vec::as_slice).unwrap_or_default();
    assert!(
        found.len() == 1 && found[0] == sent.body,
        "{what} {} is stored {} times, not once with its body",
        sent.id,
        found.len()
    );
}
