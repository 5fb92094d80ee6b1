//! The senders of `faults::network` and what they were answered, checked against the database
//! once the fault is over.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::future::join_all;

use crate::backend::TestDb;
use crate::helpers::{event, eventually, new_id};
use crate::support::app::App;

/// The writer's write timeout (`ingest::writer::WRITE_TIMEOUT`, not configurable): how long a
/// delivery waits for its commit before answering 503.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a delivery may take to answer: the write timeout, plus 5 s for the 503 to follow
/// once it fires, which takes milliseconds (under 10 ms in runs on a shared two-core machine):
/// over 5× even a full second.
const ANSWER_BOUND: Duration = WRITE_TIMEOUT.saturating_add(Duration::from_secs(5));
/// Bound on awaiting what takes well under a second (acknowledgements, cuts, resets) or up to
/// the 5 s readiness window after a failed commit: over 5× either.
pub const STATE_TIMEOUT: Duration = Duration::from_secs(30);
/// Concurrent senders.
pub const SENDERS: usize = 8;
/// Deliveries per sender at most: a safety stop, far above what a passing case sends (a few
/// hundred in all).
const MAX_DELIVERIES: usize = 5_000;
/// The longest a sender keeps sending: a safety stop, far above a passing case (under 30 s).
const SENDING_LIMIT: Duration = Duration::from_secs(120);
/// A sender's pause after a 503, standing in for Dash's `Retry-After` (5 s) so that the load
/// goes on during a fault instead of spinning on refusals.
const RETRY_PAUSE: Duration = Duration::from_millis(20);

/// A delivery as sent: its id and exact body.
#[derive(Clone)]
struct Sent {
    id: String,
    body: Vec<u8>,
}

/// What the senders were answered: acknowledged (200) or refused (503).
#[derive(Default)]
pub struct Ledger {
    acked: Mutex<Vec<Sent>>,
    refused: Mutex<Vec<Sent>>,
    slowest_refusal: Mutex<Duration>,
    stopped: AtomicBool,
}

impl Ledger {
    pub async fn run(&self, app: &App) {
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
                    self.record_refusal(sent, took);
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                other => panic!("a delivery answered {other}: {answer}"),
            }
        }
    }

    fn record_refusal(&self, sent: Sent, took: Duration) {
        self.refused.lock().unwrap().push(sent);
        let mut slowest = self.slowest_refusal.lock().unwrap();
        *slowest = (*slowest).max(took);
    }

    pub fn acks(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    pub fn refusals(&self) -> usize {
        self.refused.lock().unwrap().len()
    }

    pub fn refused_ids(&self) -> HashSet<String> {
        let refused = self.refused.lock().unwrap();
        refused.iter().map(|sent| sent.id.clone()).collect()
    }

    pub fn slowest_refusal(&self) -> Duration {
        *self.slowest_refusal.lock().unwrap()
    }

    pub async fn await_acks(&self, count: usize) {
        let reached = eventually(STATE_TIMEOUT, || async { self.acks() >= count });
        assert!(reached.await, "not {count} acknowledgements");
    }

    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
    }

    /// Checks the module's promise on the database itself (and resends each refused delivery);
    /// answers the ids of the refused deliveries found stored before their retry.
    pub async fn assert_each_decided_once(&self, app: &App, db: &TestDb) -> HashSet<String> {
        let acked = self.acked.lock().unwrap().clone();
        let refused = self.refused.lock().unwrap().clone();
        let stored = stored_bodies(db, acked.iter().chain(&refused)).await;
        for sent in &acked {
            assert_stored_once(&stored, sent, "acknowledged");
        }
        assert!(!refused.is_empty(), "the fault refused no delivery");
        let landed: HashSet<String> = futures::stream::iter(&refused)
            .map(|sent| retry_refused(app, &stored, sent))
            .buffer_unordered(SENDERS)
            .filter_map(|landed| async move { landed })
            .collect()
            .await;
        let stored = stored_bodies(db, &refused).await;
        for sent in &refused {
            assert_stored_once(&stored, sent, "refused, then retried,");
        }
        assert_totals(app, db, acked.len() + refused.len()).await;
        eprintln!(
            "{} acknowledged, {} refused ({} of them stored before the retry, \
             the slowest answered in {:?}): each stored once",
            acked.len(),
            refused.len(),
            landed.len(),
            self.slowest_refusal()
        );
        landed
    }
}

/// A refused delivery was stored at most once; Dash's retry of it is answered 200, a duplicate
/// exactly when it was already stored. Answers its id if it was.
async fn retry_refused(app: &App, stored: &Stored, sent: &Sent) -> Option<String> {
    let landed = stored.contains_key(&sent.id);
    if landed {
        assert_stored_once(stored, sent, "refused");
    }
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
    landed.then(|| sent.id.clone())
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
