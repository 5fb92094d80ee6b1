//! `dash-events backup` on a SQLite log, through the real binary: a backup taken while eight
//! senders keep delivering holds every event acknowledged before it started, and `verify` passes
//! on it; a log restored from it (stop, replace the file, start) answers redeliveries as
//! duplicates, resumes a `Last-Event-ID` taken before the backup at the same positions, and
//! keeps its statistics. Its refusals and failures are in `backup_refusals`.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::future::join_all;
use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};

use crate::backend::{Backend, TestDb};
use crate::helpers::{event_at, eventually, new_id};
use crate::process::{Exit, Process, dash_events};
use crate::support::fill::{event_at_time, store_events};
use crate::support::http::{Http, SECRET};
use crate::support::launch::EXIT_TIMEOUT;
use crate::support::server::ServeProcess;
use crate::support::sse::{MESSAGE_TIMEOUT, SseStream};

/// Concurrent senders of the load, and the most each sends.
const SENDERS: usize = 8;
const PER_SENDER: usize = 2_000;
/// The longest the load runs, should the backup never end (it has `EXIT_TIMEOUT` itself).
const LOAD_TIME_LIMIT: Duration = Duration::from_secs(120);

/// A SQLite test database.
pub async fn sqlite_db() -> TestDb {
    TestDb::provision(Backend::Sqlite).await.expect("SQLite")
}

/// Runs `dash-events backup --database-url <url> ARGS…`.
pub async fn backup(url: &str, args: &[&str]) -> Exit {
    let mut command = dash_events(["backup", "--database-url", url]);
    command.args(args);
    Process::spawn(command)
        .expect_exit(EXIT_TIMEOUT, "backup")
        .await
}

/// Runs `dash-events verify` on the SQLite file at `path`.
async fn verify_file(path: &Path) -> Exit {
    let url = format!("sqlite://{}", path.display());
    let command = dash_events(["verify", "--database-url", &url, "--webhook-secret", SECRET]);
    Process::spawn(command)
        .expect_exit(EXIT_TIMEOUT, "verify")
        .await
}

/// Runs a backup of `db` to `to` that must succeed; answers the events its summary counts.
pub async fn backup_ok(db: &TestDb, to: &Path, args: &[&str]) -> u64 {
    let to = to.to_str().expect("a UTF-8 path");
    let exit = backup(db.url(), &[&["--to", to], args].concat()).await;
    assert_eq!(exit.status.code(), Some(0), "{exit:?}");
    let summary = exit.stdout.trim();
    let events = summary
        .strip_prefix("backed up ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no `backed up N events` summary: {exit:?}"));
    assert!(
        summary.contains(&format!("to {to} in ")) && summary.ends_with(" s"),
        "{summary}"
    );
    events
}

/// Opens a backup file read-only.
pub async fn open_backup(path: &Path) -> SqliteConnection {
    let options = SqliteConnectOptions::new().filename(path).read_only(true);
    options.connect().await.expect("open the backup")
}

/// The event ids a backup file holds.
pub async fn ids_in(path: &Path) -> Vec<String> {
    let mut backup = open_backup(path).await;
    let ids = sqlx::query_scalar("select id from events")
        .fetch_all(&mut backup)
        .await
        .expect("read the backup's ids");
    let _ = backup.close().await;
    ids
}

/// The restore procedure of docs/operations.md, `serve` being stopped: the backup replaces the
/// file, and the old log's `-wal` and `-shm` go with it.
fn restore(backup: &Path, db: &TestDb) {
    let file = db.dir().join("events.db");
    std::fs::rename(backup, &file).expect("replace the log with the backup");
    for suffix in ["-wal", "-shm"] {
        let mut side = file.clone().into_os_string();
        side.push(suffix);
        match std::fs::remove_file(&side) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => panic!("remove {side:?}: {err}"),
        }
    }
}

/// Senders delivering fresh events until stopped, recording what was acknowledged.
#[derive(Default)]
struct Load {
    acked: Mutex<Vec<String>>,
    stop: AtomicBool,
}

impl Load {
    async fn run(&self, app: &Http) {
        join_all((0..SENDERS).map(|_| self.send(app))).await;
    }

    async fn send(&self, app: &Http) {
        let deadline = tokio::time::Instant::now() + LOAD_TIME_LIMIT;
        for _ in 0..PER_SENDER {
            if self.stop.load(Ordering::SeqCst) || tokio::time::Instant::now() > deadline {
                return;
            }
            let id = new_id();
            let answer = app.try_deliver(&crate::helpers::event(&id)).await;
            match answer {
                Some((200, _)) => self.acked.lock().expect("acked").push(id),
                // Dash retries a 503; it does not count as acknowledged.
                Some((503, _)) => {}
                other => panic!("a delivery under load answered {other:?}"),
            }
        }
    }

    fn acked(&self) -> Vec<String> {
        self.acked.lock().expect("acked").clone()
    }

    /// Waits for `count` acknowledgements: a few hundred take well under a second here, so the
    /// 60 s bound only catches a server that stopped answering.
    async fn wait_for_acks(&self, count: usize) {
        let enough = eventually(Duration::from_secs(60), || async {
            self.acked.lock().expect("acked").len() >= count
        });
        assert!(enough.await, "fewer than {count} deliveries acknowledged");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_load_holds_every_event_acknowledged_before_it_started() {
    let db = sqlite_db().await;
    // A log of some size, so that the copy takes a while amid the deliveries.
    let now = chrono::Utc::now();
    let filled: Vec<Value> = (0..3_000)
        .map(|n| event_at_time(&new_id(), "agent:complete", now, f64::from(n), 2_000))
        .collect();
    store_events(&db, &filled).await;
    let app = ServeProcess::start(&db).await;
    let to = db.dir().join("backup.db");
    let load = Load::default();

    let backing_up = async {
        load.wait_for_acks(200).await;
        let before = load.acked();
        let events = backup_ok(&db, &to, &[]).await;
        let during = load.acked().len() - before.len();
        load.stop.store(true, Ordering::SeqCst);
        (before, events, during)
    };
    let ((before, events, during), ()) = futures::join!(backing_up, load.run(&app));

    let at_end = db.count_events().await as u64;
    let held = ids_in(&to).await;
    assert_eq!(events, held.len() as u64, "the summary counts the backup");
    let held: std::collections::HashSet<String> = held.into_iter().collect();
    let missing: Vec<&String> = before.iter().filter(|id| !held.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} events acknowledged before the backup are not in it (of {}; {during} acknowledged during it)",
        missing.len(),
        before.len()
    );
    let at_start = (filled.len() + before.len()) as u64;
    assert!(
        (at_start..=at_end).contains(&events),
        "the backup holds {events} events; {at_start} were stored before it, {at_end} at the end"
    );
    let checked = verify_file(&to).await;
    assert_eq!(
        checked.status.code(),
        Some(0),
        "verify on the backup: {checked:?}"
    );
}

/// Events of several types over several hours and days, so that the statistics read both the
/// daily and hourly totals and the events themselves.
fn spread_events() -> Vec<Value> {
    let types = [
        "agent:complete",
        "agent:error",
        "budget:warning",
        "swarm:complete",
    ];
    (0..12)
        .map(|n| {
            let at = format!("2026-11-{:02}T{:02}:15:00.000Z", 26 + n % 3, 8 + n % 5);
            event_at(&new_id(), types[n % types.len()], &at)
        })
        .collect()
}

/// What the statistics endpoints answer: the whole log, a window cutting days, the timeline.
async fn statistics(app: &Http) -> Vec<Value> {
    let window = "since=2026-11-26T10:00:00Z&until=2026-11-28T09:30:00Z";
    join_all([
        app.get_json("/stats"),
        app.get_json(&format!("/stats?{window}")),
        app.get_json("/stats/timeline"),
    ])
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_log_dedups_resumes_streams_at_their_positions_and_keeps_its_stats() {
    let db = sqlite_db().await;
    let app = ServeProcess::start(&db).await;
    let mut stream = SseStream::open(&app, &[], None).await;
    let held = spread_events();
    for event in &held {
        app.store(event).await;
    }
    let sent = stream.messages_until(|m| m.len() == held.len()).await;
    let resume_from = sent[3].id.clone();
    let stats = statistics(&app).await;
    let to = db.dir().join("backup.db");
    backup_ok(&db, &to, &[]).await;
    let later = event_at(&new_id(), "agent:start", "2026-11-28T12:00:00.000Z");
    app.store(&later).await;
    drop(stream);
    app.stop().await;

    restore(&to, &db);
    let restored = ServeProcess::start(&db).await;

    assert_eq!(
        statistics(&restored).await,
        stats,
        "the statistics of the restored log"
    );
    for event in &held {
        let (status, answer) = restored.deliver(event).await;
        assert_eq!(
            (status, &answer["duplicate"]),
            (200, &Value::Bool(true)),
            "{answer}"
        );
    }
    let mut resumed = SseStream::open(&restored, &[], Some(&resume_from)).await;
    for expected in &sent[4..] {
        let message = resumed.message(MESSAGE_TIMEOUT).await;
        assert_eq!(
            (message.id.as_str(), message.event_id()),
            (expected.id.as_str(), expected.event_id()),
            "resumed after {resume_from}"
        );
    }
    // Stored after the backup, so new to the restored log, and next on the stream.
    restored.store(&later).await;
    let next = resumed.message(MESSAGE_TIMEOUT).await;
    assert_eq!(next.event_id(), later["id"].as_str().expect("id"));
    drop(resumed);
    let checked = verify_file(&db.dir().join("events.db")).await;
    assert_eq!(
        checked.status.code(),
        Some(0),
        "verify on the restored log: {checked:?}"
    );
    restored.stop().await;
}
