//! `dash-events copy --from URL --to URL`, the real binary between a SQLite and a PostgreSQL
//! database of the same test: every event arrives with its exact signed body, signature and
//! times, so `verify` passes on the target, and the totals and notification history equal the
//! source's; a `kill -9` mid-copy is mended by running it again; an id the target holds with
//! other content is reported and left alone; memory stays flat whatever the size of the log;
//! bad input is one `error:` line; and the source is never written to.

mod log;
mod refusals;
mod resume;
mod run;

use std::time::Instant;

use crate::backend::{Backend, TestDb};
use crate::operations::verify::verify;
use crate::support::app::App;
use crate::support::http::SECRET;
use dash_events::store::{Durability, Store};
use log::{NOTIFIED_SHARE, Snapshot};
use run::{Summary, copy_measured, copy_ok};

/// Events in the large log, copied each way.
const LARGE: usize = 50_000;

/// Events of the two logs of the memory test, each body about `PAD` bytes: 10 and 80 MB.
const SMALL_LOG: usize = 5_000;
const LARGE_LOG: usize = 40_000;
const PAD: usize = 2_000;
/// A copy that held what it copied would grow by the difference of the two logs (69 MB; one that
/// read every page before writing grew by 81 MB). Measured, the flat copy's peak grew by 0 to
/// 5.3 MB (35–40 MB in all). Growth must stay under a fifth of the difference: a 5× margin below
/// what holding the log costs, and over twice the growth measured.
const GROWTH_MARGIN: u64 = 5;

/// A SQLite and a PostgreSQL database for one test; `None` (the test skips, with a notice) when
/// PostgreSQL is unreachable and not required.
async fn sqlite_and_postgres() -> Option<(TestDb, TestDb)> {
    let postgres = TestDb::provision(Backend::Postgres).await?;
    let sqlite = TestDb::provision(Backend::Sqlite).await?;
    Some((sqlite, postgres))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_to_postgres_and_back_keeps_bodies_signatures_times_totals_and_notifications() {
    let Some((sqlite, postgres)) = sqlite_and_postgres().await else {
        return;
    };
    let back = TestDb::provision(Backend::Sqlite).await.expect("SQLite");
    let started = Instant::now();
    log::fill(&sqlite, LARGE).await;
    let filled = started.elapsed();
    let original = Snapshot::read(&sqlite).await;
    let untouched = log::fingerprint(&sqlite).await;
    let everything = Summary {
        copied: LARGE as u64,
        present: 0,
        conflicts: 0,
        notifications: LARGE.div_ceil(NOTIFIED_SHARE) as u64,
    };

    let there = copy_ok(sqlite.url(), postgres.url()).await;
    // Separate processes, so on two cores checking the first copy costs little more time than
    // the second copy takes.
    let (back_again, ()) = futures::join!(
        copy_ok(postgres.url(), back.url()),
        assert_verifies(&postgres, LARGE)
    );
    assert_verifies(&back, LARGE).await;

    assert_eq!(there, everything, "SQLite → PostgreSQL");
    assert_eq!(back_again, everything, "PostgreSQL → SQLite");
    assert_eq!(
        log::fingerprint(&sqlite).await,
        untouched,
        "the SQLite source changed"
    );
    original.assert_copied_to(&Snapshot::read(&postgres).await, "SQLite → PostgreSQL");
    original.assert_copied_to(&Snapshot::read(&back).await, "PostgreSQL → SQLite");
    assert_same_stats(&[&sqlite, &postgres, &back]).await;
    // Each copy's own time is in its summary line, printed by `copy_ok`.
    eprintln!(
        "{LARGE} events: filled in {filled:?}, copied both ways and checked in {:?}",
        started.elapsed() - filled
    );
}

/// `verify` on `db` passes every one of `count` events, each with a signature.
async fn assert_verifies(db: &TestDb, count: usize) {
    let exit = verify(db, &["--webhook-secret", SECRET]).await;
    assert_eq!(exit.status.code(), Some(0), "{:?}: {exit:?}", db.backend());
    let line = format!("checked {count} events: {count} ok, 0 mismatched, 0 without signature");
    assert!(exit.stdout.contains(&line), "{exit:?}");
}

/// `/stats` and `/stats/timeline` answer the same on every database in `dbs`, over whole days
/// (the maintained totals) and partial ones (read from the events).
async fn assert_same_stats(dbs: &[&TestDb]) {
    let paths = [
        "/stats",
        "/stats?since=2026-05-03T10:30:00Z&until=2026-11-20T17:45:00Z",
        "/stats/timeline?bucket=day&since=2026-04-01T00:00:00Z&until=2026-11-29T00:00:00Z",
        "/stats/timeline?since=2026-11-20T06:30:00Z&until=2026-11-28T13:00:00Z",
    ];
    let mut answers = Vec::new();
    for db in dbs {
        let app = App::start(db).await;
        let mut answer = Vec::new();
        for path in paths {
            answer.push(app.get_json(path).await);
        }
        app.stop().await;
        answers.push(answer);
    }
    for (db, answer) in dbs.iter().zip(&answers).skip(1) {
        for ((path, expected), found) in paths.iter().zip(&answers[0]).zip(answer) {
            assert_eq!(found, expected, "{path} on {:?}", db.backend());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_flat_whatever_the_size_of_the_log() {
    let Some((small, small_target)) = sqlite_and_postgres().await else {
        return;
    };
    let Some((large, large_target)) = sqlite_and_postgres().await else {
        return;
    };
    let small_kb = fill_generated(&small, SMALL_LOG).await;
    let large_kb = fill_generated(&large, LARGE_LOG).await;

    let (small_exit, small_peak) = copy_measured(small.url(), small_target.url()).await;
    let (large_exit, large_peak) = copy_measured(large.url(), large_target.url()).await;

    for exit in [&small_exit, &large_exit] {
        assert_eq!(exit.status.code(), Some(0), "{exit:?}");
    }
    assert_eq!(large_target.count_events().await, LARGE_LOG as i64);
    let growth = large_peak.saturating_sub(small_peak);
    let more_data = large_kb - small_kb;
    eprintln!(
        "peak RSS {small_peak} kB copying {small_kb} kB of bodies, {large_peak} kB copying {large_kb} kB"
    );
    assert!(
        growth * GROWTH_MARGIN < more_data,
        "the copy's peak grew by {growth} kB for {more_data} kB more events: it holds the log"
    );
}

/// Stores `count` events with bodies of about `PAD` bytes in the SQLite `db`, generated by
/// SQLite itself: hashing and signing 40 MB of bodies in a debug build would take longer than
/// the copies, and a copy moves the bytes without reading them. Answers their size in kB.
async fn fill_generated(db: &TestDb, count: usize) -> u64 {
    Store::connect(db.url(), Durability::Normal)
        .await
        .expect("create the schema")
        .close()
        .await;
    let generate = format!(
        "with recursive n(i) as (select 0 union all select i + 1 from n where i + 1 < {count}) \
         insert into events (id, type, ts_us, received_us, content_hash, cost, duration_ms, \
         body, signature) select printf('evt-%06d', i), cast('agent:complete' as blob), i, i, \
         randomblob(32), 0.5, 10, cast(printf('{{\"id\":\"evt-%06d\",\"padding\":\"%s\"}}', \
         i, hex(randomblob({}))) as blob), randomblob(32) from n",
        PAD / 2
    );
    log::execute(db, &generate).await;
    let bytes: Vec<(i64,)> = log::fetch_all(db, "select sum(length(body)) from events").await;
    bytes[0].0 as u64 / 1024
}
