//! I/O errors from the kernel under load. The real `serve` binary runs on a SQLite file under
//! libfiu's `fiu-run -x`, whose POSIX preload can make libc calls fail; while several senders
//! deliver, `fiu-ctrl` makes `fsync`, `fdatasync` and `pwrite` fail at random with EIO in the
//! running process, then stops them. Every answer is 200, or 503 with `Retry-After`; every event
//! answered 200 is stored with its exact bytes, and none answered 503 is (a commit whose sync
//! failed is not kept); the service answers 200 again by itself, and never 503 after that; a
//! refused event sent again answers 200 and is stored once; `/readyz` is ready; `verify` passes on
//! the file.
//!
//! `write` is left alone: SQLite writes its files here with `pwrite64` only (seen with strace), and
//! a libfiu fault point fails every call of its name in the process, whatever the descriptor. A
//! failing `write` hits tokio's eventfd wake-ups (tried: the runtime panics, "failed to wake I/O
//! driver") and the sockets, which no failing disk does.
//!
//! Needs Debian's `fiu-utils` (`.ci/run` installs it); without it the test skips with a notice,
//! unless `DASH_EVENTS_REQUIRE_FAULTS=1`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use futures::future::join_all;

use crate::backend::{Backend, TestDb};
use crate::helpers::{event, eventually, new_id};
use crate::operations::verify::verify;
use crate::support::fiu::Fiu;
use crate::support::http::SECRET;
use crate::support::launch::Launch;
use crate::support::server::ServeProcess;

use super::unavailable;

/// libfiu's fault points for the calls SQLite writes and syncs its files with (this build calls
/// `fsync`; `fdatasync` is for one built to use it), and how often each call fails while the
/// faults are on. `pwrite` fails more rarely because a batch makes dozens of them; these rates
/// refuse about half of the deliveries.
const FAULTS: [(&str, f64); 3] = [
    ("posix/io/sync/fsync", 0.2),
    ("posix/io/sync/fdatasync", 0.2),
    ("posix/io/rw/pwrite", 0.02),
];
/// The errno of a failed call: what a failing disk reports.
const EIO: i32 = 5;

const SENDERS: usize = 8;
/// Deliveries per sender at most, whatever happens (the whole test makes about 1 200).
const MAX_DELIVERIES_PER_SENDER: usize = 5_000;
/// Acknowledgements before the faults, to know the server takes load under `fiu-run`.
const ACKS_BEFORE_FAULTS: usize = 20;
/// While the faults are on: refusals to show they are injected, and acknowledgements to show
/// that commits still succeed between them (so the stored-with-its-bytes check covers them).
const REFUSALS_UNDER_FAULTS: usize = 100;
const ACKS_UNDER_FAULTS: usize = 300;
/// Acknowledgements of deliveries sent once the service had recovered.
const ACKS_AFTER_RECOVERY: usize = 100;
/// What the server logs when its background checkpoint (WAL into the database file) fails.
const CHECKPOINT_FAILED: &str = "WAL checkpoint failed";
/// Bound of each phase above. The longest, the faults, lasts until a checkpoint (one a second)
/// has failed: measured 0.7 to 4.8 s (debug build, three copies of the test at once on a shared
/// two-core machine), so 30 s is 6× the longest.
const PHASE_BOUND: Duration = Duration::from_secs(30);
/// Bound on `/readyz` turning ready: 6× its window after the last failed commit (5 s).
const READY_BOUND: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_eio_from_fsync_and_pwrite_under_load_loses_nothing_and_heals_by_itself() {
    let Some(db) = TestDb::provision(Backend::Sqlite).await else {
        return;
    };
    if !Fiu::installed() {
        unavailable("libfiu's fiu-run and fiu-ctrl are not installed (Debian's fiu-utils)");
        return;
    }
    let fiu = Fiu::in_dir(db.dir());
    let app = fiu.launch(Launch::new(&db)).start().await;
    let traffic = Traffic::default();
    let ((), under_faults) = futures::join!(
        traffic.run(&app),
        faults_then_recovery(&app, &fiu, &traffic)
    );

    assert_ready(&app).await;
    let (acked, refused) = traffic.into_sent();
    retry_refused_each_stored_once(&app, &refused).await;
    app.stop().await;
    let verified = verify(&db, &["--webhook-secret", SECRET]).await;
    assert!(verified.status.success(), "verify: {verified:?}");
    assert_stored_byte_for_byte(&db, acked.iter().chain(&refused)).await;
    under_faults.assert_injected();
    eprintln!(
        "{} deliveries acknowledged ({} under the faults) and {} refused, then stored on retry: \
         none lost",
        acked.len(),
        under_faults.acks,
        refused.len()
    );
}

/// What happened while the faults were on.
struct UnderFaults {
    acks: usize,
    refusals: usize,
    checkpoint_failed: bool,
}

impl UnderFaults {
    fn assert_injected(&self) {
        let Self {
            acks,
            refusals,
            checkpoint_failed,
        } = self;
        assert!(
            *refusals >= REFUSALS_UNDER_FAULTS && *acks >= ACKS_UNDER_FAULTS && *checkpoint_failed,
            "under the faults, within {PHASE_BOUND:?}: {refusals} deliveries refused and {acks} \
             acknowledged, checkpoint failed: {checkpoint_failed}; were the calls failed?"
        );
    }
}

/// Deliveries get through; the faults go on until enough deliveries were refused and
/// acknowledged and a checkpoint failed; they stop; deliveries sent afterwards get through again.
async fn faults_then_recovery(app: &ServeProcess, fiu: &Fiu, traffic: &Traffic) -> UnderFaults {
    traffic
        .reach("acknowledgements before the faults", |t| {
            t.acks() >= ACKS_BEFORE_FAULTS
        })
        .await;
    assert_eq!(traffic.refusals(), 0, "refusals before any fault");
    let acks_before = traffic.acks();
    fiu.control(app, &random_eio()).await;
    // Judged at the end: when commits stop failing because they stop happening at all, what was
    // acknowledged and lost is the better message.
    let _ = eventually(PHASE_BOUND, || async {
        traffic.refusals() >= REFUSALS_UNDER_FAULTS
            && traffic.acks() >= acks_before + ACKS_UNDER_FAULTS
            && app.stderr().contains(CHECKPOINT_FAILED)
    })
    .await;
    let under_faults = UnderFaults {
        acks: traffic.acks() - acks_before,
        refusals: traffic.refusals(),
        checkpoint_failed: app.stderr().contains(CHECKPOINT_FAILED),
    };
    fiu.control(app, &no_faults()).await;
    traffic.faults_off.store(true, SeqCst);
    traffic
        .reach("a 200 to a delivery sent after the faults stopped", |t| {
            t.recovered.load(SeqCst)
        })
        .await;
    traffic
        .reach("acknowledgements after the recovery", |t| {
            t.acks_after_recovery.load(SeqCst) >= ACKS_AFTER_RECOVERY
        })
        .await;
    traffic.stopped.store(true, SeqCst);
    under_faults
}

fn random_eio() -> Vec<String> {
    let enable = |(name, probability)| {
        format!("enable_random name={name},probability={probability},failinfo={EIO}")
    };
    FAULTS.into_iter().map(enable).collect()
}

fn no_faults() -> Vec<String> {
    FAULTS
        .into_iter()
        .map(|(name, _)| format!("disable name={name}"))
        .collect()
}

/// An event id and the exact bytes delivered.
type Sent = (String, Vec<u8>);

/// Fresh events from several senders, sorted by answer, and the phase they are sent in.
#[derive(Default)]
struct Traffic {
    acked: Mutex<Vec<Sent>>,
    refused: Mutex<Vec<Sent>>,
    faults_off: AtomicBool,
    /// A delivery sent after the faults stopped was acknowledged.
    recovered: AtomicBool,
    acks_after_recovery: AtomicUsize,
    stopped: AtomicBool,
}

impl Traffic {
    async fn run(&self, app: &ServeProcess) {
        join_all((0..SENDERS).map(|_| self.send_until_stopped(app))).await;
    }

    async fn send_until_stopped(&self, app: &ServeProcess) {
        for _ in 0..MAX_DELIVERIES_PER_SENDER {
            if self.stopped.load(SeqCst) {
                return;
            }
            let (faults_off, recovered) =
                (self.faults_off.load(SeqCst), self.recovered.load(SeqCst));
            let id = new_id();
            let body = serde_json::to_vec(&event(&id)).expect("serialize");
            // Panics on an answer the contract does not allow a delivery, 503 without
            // Retry-After included.
            let answer = app.try_deliver_bytes(&body).await;
            let (status, answer) = answer.unwrap_or_else(|| panic!("no answer to {id}"));
            match status {
                200 => {
                    assert_eq!(answer["duplicate"], false, "a fresh event: {answer}");
                    self.acked.lock().unwrap().push((id, body));
                    self.recovered.fetch_or(faults_off, SeqCst);
                    self.acks_after_recovery
                        .fetch_add(usize::from(recovered), SeqCst);
                }
                // Every commit since a delivery sent after the faults stopped was acknowledged
                // is free of them.
                503 if recovered => panic!("{id}, sent after the recovery, answered 503"),
                503 => self.refused.lock().unwrap().push((id, body)),
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

    /// Waits up to `PHASE_BOUND` for `state` to hold.
    async fn reach(&self, what: &str, state: impl Fn(&Traffic) -> bool) {
        let reached = eventually(PHASE_BOUND, || async { state(self) });
        assert!(
            reached.await,
            "not reached within {PHASE_BOUND:?}: {what} ({} acknowledged, {} refused)",
            self.acks(),
            self.refusals()
        );
    }

    fn into_sent(self) -> (Vec<Sent>, Vec<Sent>) {
        let acked = self.acked.into_inner().unwrap();
        (acked, self.refused.into_inner().unwrap())
    }
}

async fn assert_ready(app: &ServeProcess) {
    let ready = eventually(READY_BOUND, || async {
        app.get("/readyz").await.status() == 200
    });
    assert!(ready.await, "/readyz not ready after the faults stopped");
}

/// A refused event is absent: a 503 means nothing was written, and here no commit comes near the
/// 10 s write timeout, after which a commit may still land. Sent again, as Dash does after a
/// 503, it is stored as new.
async fn retry_refused_each_stored_once(app: &ServeProcess, refused: &[Sent]) {
    for (id, body) in refused {
        let before = app.get(&format!("/events/{id}")).await.status();
        assert_eq!(before, 404, "GET of {id}, answered 503");
        let answer = app.try_deliver_bytes(body).await;
        let (status, answer) = answer.unwrap_or_else(|| panic!("no answer to the retry of {id}"));
        assert_eq!(
            (status, &answer["duplicate"]),
            (200, &serde_json::Value::Bool(false)),
            "the retry of {id}: {answer}"
        );
    }
}

/// The file holds exactly the events sent, each with the bytes delivered.
async fn assert_stored_byte_for_byte(db: &TestDb, sent: impl Iterator<Item = &Sent>) {
    let rows: Vec<(String, Vec<u8>)> = sqlx::query_as("select id, body from events")
        .fetch_all(&mut db.sqlite().await)
        .await
        .expect("read the stored events");
    let stored: HashMap<String, Vec<u8>> = rows.into_iter().collect();
    let mut count = 0;
    for (id, body) in sent {
        let row = stored
            .get(id)
            .unwrap_or_else(|| panic!("{id} is not stored"));
        assert_eq!(row, body, "{id} is not stored byte for byte");
        count += 1;
    }
    assert_eq!(stored.len(), count, "events stored that were never sent");
}
