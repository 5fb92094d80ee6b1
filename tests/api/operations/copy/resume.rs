//! Running `copy` again: after a `kill -9` in the middle of a copy it finishes the job without a
//! duplicate or a gap; beside a receiver still taking deliveries, and again once it has stopped,
//! it moves every event (the cut-over of docs/operations.md); and it brings the notifications
//! already copied up to date without ever making a sent one due again.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use nix::sys::signal::Signal;
use serde_json::Value;
use std::os::unix::process::ExitStatusExt;

use super::log::{self, Snapshot, execute, fetch_all};
use super::run::{COPY_TIMEOUT, command, copy_ok};
use super::{assert_verifies, sqlite_and_postgres};
use crate::backend::TestDb;
use crate::helpers::{event, eventually, new_id};
use crate::process::Process;
use crate::support::launch::Launch;

/// Events of the log a copy is killed in; with `--batch 10` a thousand commits, so the kill lands
/// while most of it is still to copy.
const KILLED: usize = 10_000;
/// Deliveries the live receiver takes before the first copy, and again after it.
const LIVE_STEP: u64 = 150;
/// At most this many deliveries in all, whatever happens.
const LIVE_LIMIT: u64 = 5_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_killed_mid_way_resumes_without_duplicating_or_losing_anything() {
    let Some((sqlite, postgres)) = sqlite_and_postgres().await else {
        return;
    };
    log::fill(&sqlite, KILLED).await;
    let original = Snapshot::read(&sqlite).await;
    let mut first = Process::spawn(command(sqlite.url(), postgres.url(), &["--batch", "10"]));
    let started = eventually(COPY_TIMEOUT, || async {
        events_on(&postgres).await >= KILLED as i64 / 20
    });
    assert!(started.await, "the copy stored nothing: {}", first.stderr());

    first.signal(Signal::SIGKILL);
    let killed = first.expect_exit(COPY_TIMEOUT, "copy after SIGKILL").await;
    let stored_before = events_on(&postgres).await as u64;
    let resumed = copy_ok(sqlite.url(), postgres.url()).await;

    assert_eq!(killed.status.signal(), Some(9), "{killed:?}");
    assert!(
        stored_before < KILLED as u64,
        "the copy had finished before the kill: nothing was left to resume"
    );
    assert_eq!(resumed.present, stored_before, "{resumed:?}");
    assert_eq!(resumed.copied + resumed.present, KILLED as u64);
    assert_eq!(resumed.conflicts, 0);
    original.assert_copied_to(&Snapshot::read(&postgres).await, "killed, then run again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_beside_a_live_receiver_then_once_it_stopped_moves_every_event() {
    let Some((sqlite, postgres)) = sqlite_and_postgres().await else {
        return;
    };
    let receiver = Launch::new(&sqlite)
        .arg("--sqlite-synchronous")
        .arg("normal")
        .start()
        .await;
    let (stored, stop) = (AtomicU64::new(0), AtomicBool::new(false));
    let sender = async {
        for _ in 0..LIVE_LIMIT {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            receiver.store(&live_event()).await;
            stored.fetch_add(1, Ordering::SeqCst);
        }
    };
    let operator = async {
        assert!(
            reached(&stored, LIVE_STEP).await,
            "the receiver stored too little"
        );
        let first = copy_ok(sqlite.url(), postgres.url()).await;
        let after_first = stored.load(Ordering::SeqCst);
        assert!(
            reached(&stored, after_first + LIVE_STEP).await,
            "no delivery after the copy"
        );
        stop.store(true, Ordering::SeqCst);
        first
    };
    let ((), first) = futures::join!(sender, operator);
    let stopped = receiver.stop().await;
    assert_eq!(stopped.status.code(), Some(0), "{stopped:?}");
    let second = copy_ok(sqlite.url(), postgres.url()).await;

    let total = stored.load(Ordering::SeqCst);
    assert_eq!(
        second.present, first.copied,
        "the second copy rewrote the first's"
    );
    assert_eq!(
        first.copied + second.copied,
        total,
        "{first:?} then {second:?}"
    );
    Snapshot::read(&sqlite)
        .await
        .assert_copied_to(&Snapshot::read(&postgres).await, "the cut-over");
    assert_verifies(&postgres, total as usize).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_updates_pending_notifications_and_never_makes_a_sent_one_due_again() {
    let Some((sqlite, postgres)) = sqlite_and_postgres().await else {
        return;
    };
    log::fill(&sqlite, 250).await;
    copy_ok(sqlite.url(), postgres.url()).await;
    // On the source, as the old receiver's worker leaves them: one pending notification sent,
    // another failed once more and due later.
    let sent_at_source = "update notifications set state = 'sent', attempts = 1, \
        sent_us = next_attempt_us + 40 where event_id = 'evt-000000'";
    let retried_at_source = "update notifications set attempts = 4, \
        next_attempt_us = next_attempt_us + 16000000, lease_until_us = null, \
        last_error = 'timed out' where event_id = 'evt-000050'";
    execute(&sqlite, &format!("{sent_at_source}; {retried_at_source}")).await;
    // On the target, as a receiver started there early leaves one: sent.
    let sent_at_target = "update notifications set state = 'sent', attempts = 1, \
        sent_us = 7 where event_id = 'evt-000200'";
    execute(&postgres, sent_at_target).await;

    let rerun = copy_ok(sqlite.url(), postgres.url()).await;

    let source: Vec<Watched> = fetch_all(&sqlite, SELECT_WATCHED).await;
    let target: Vec<Watched> = fetch_all(&postgres, SELECT_WATCHED).await;
    let [sent, retried, sent_on_target] = &target[..] else {
        panic!("three watched notifications on the target: {target:?}");
    };
    assert_eq!(
        sent, &source[0],
        "sent at the source, so sent on the target"
    );
    assert_eq!(retried, &source[1], "retried at the source, so due later");
    assert_eq!(source[2].1, "pending", "{source:?}");
    assert_eq!(sent_on_target.1, "sent", "made due again: {target:?}");
    assert_eq!((rerun.copied, rerun.present), (0, 250));
    assert_eq!(rerun.notifications, 2, "the sent and the retried one");
}

/// A delivery to the live receiver: a fresh UUID, as real traffic (many land below the page the
/// copy has reached), and a cost that adds up to the same total in any order, as the daily
/// totals on the target are added up in the order of the copy.
fn live_event() -> Value {
    let mut event = event(&new_id());
    event["data"]["cost"] = 0.125.into();
    event
}

/// Whether `stored` reaches `count` in time.
async fn reached(stored: &AtomicU64, count: u64) -> bool {
    eventually(COPY_TIMEOUT, || async move {
        stored.load(Ordering::SeqCst) >= count
    })
    .await
}

/// The notifications `a_rerun_updates…` changes, by event id.
const SELECT_WATCHED: &str = "select event_id, state, attempts, last_error, sent_us \
    from notifications where event_id in ('evt-000000', 'evt-000050', 'evt-000200') \
    order by event_id";
type Watched = (String, String, i32, Option<String>, Option<i64>);

/// The events on `db` so far; 0 until the copy has created the table.
async fn events_on(db: &TestDb) -> i64 {
    let mut conn = db.postgres().await;
    sqlx::query_scalar("select count(*) from events")
        .fetch_one(&mut conn)
        .await
        .unwrap_or(0)
}
