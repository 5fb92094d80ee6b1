//! `dash-events backup` on a SQLite log, through the real binary: a backup taken while eight
//! senders keep delivering holds every event acknowledged before it started, and `verify` passes
//! on it; a log restored from it (stop, replace the file, start) answers redeliveries as
//! duplicates, resumes a `Last-Event-ID` taken before the backup at the same positions, and
//! keeps its statistics; an existing file is replaced only with `--force`; a backup that fails
//! leaves neither the file nor its `.partial`; bad input exits 2 with one `error: ` line; the
//! source is never written.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::future::join_all;
use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};

use crate::backend::{Backend, TestDb};
use crate::helpers::{event_at, eventually, new_id};
use crate::operations::startup::assert_refused;
use crate::process::{Exit, Process, dash_events};
use crate::support::disk::SmallDisk;
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
async fn sqlite_db() -> TestDb {
    TestDb::provision(Backend::Sqlite).await.expect("SQLite")
}

/// Runs `dash-events backup --database-url <url> ARGS…`.
async fn backup(url: &str, args: &[&str]) -> Exit {
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
async fn backup_ok(db: &TestDb, to: &Path, args: &[&str]) -> u64 {
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
async fn open_backup(path: &Path) -> SqliteConnection {
    let options = SqliteConnectOptions::new().filename(path).read_only(true);
    options.connect().await.expect("open the backup")
}

async fn ids_in(path: &Path) -> Vec<String> {
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

/// Creates a SQLite file at `path` holding what `sql` makes.
async fn create_sqlite_file(path: &Path, sql: &str) {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true);
    let mut connection = options.connect().await.expect("create a SQLite file");
    sqlx::raw_sql(sql)
        .execute(&mut connection)
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"));
    let _ = connection.close().await;
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

/// `path` with `.partial` appended: where a backup to `path` is written.
fn partial(path: &Path) -> PathBuf {
    let mut name = path.to_owned().into_os_string();
    name.push(".partial");
    name.into()
}

/// A log holding `count` events, stored through a server that is then stopped.
async fn log_with_events(count: usize) -> TestDb {
    let db = sqlite_db().await;
    let app = ServeProcess::start(&db).await;
    for _ in 0..count {
        app.store(&crate::helpers::event(&new_id())).await;
    }
    app.stop().await;
    db
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_file_is_replaced_only_with_force() {
    let db = log_with_events(3).await;
    let to = db.dir().join("backup.db");
    let to_text = to.to_str().expect("UTF-8");
    std::fs::write(&to, "an older backup").expect("write");

    let refused = backup(db.url(), &["--to", to_text]).await;
    assert_refused("an existing --to", &refused, 2, to_text);
    assert_eq!(std::fs::read(&to).expect("read"), b"an older backup");
    assert!(!partial(&to).exists(), "a refused backup left its .partial");

    assert_eq!(backup_ok(&db, &to, &["--force"]).await, 3);
    assert_eq!(ids_in(&to).await.len(), 3);

    // A .partial in the way may be another backup's, still being written: it is left alone.
    let other = db.dir().join("other.db");
    std::fs::write(partial(&other), "another backup's copy").expect("write");
    let other_text = other.to_str().expect("UTF-8");
    let in_the_way = backup(db.url(), &["--to", other_text, "--force"]).await;
    assert_refused(
        "a .partial in the way",
        &in_the_way,
        2,
        &format!("{other_text}.partial"),
    );
    assert_eq!(
        std::fs::read(partial(&other)).expect("read"),
        b"another backup's copy"
    );
    assert!(!other.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_backup_leaves_neither_the_file_nor_its_partial() {
    let db = sqlite_db().await;
    let big: Vec<Value> = (0..400)
        .map(|n| {
            event_at_time(
                &new_id(),
                "agent:complete",
                chrono::Utc::now(),
                f64::from(n),
                8_000,
            )
        })
        .collect();
    store_events(&db, &big).await;
    let Some(full) = SmallDisk::mount(&db.dir().join("full"), 1_024) else {
        return;
    };
    let Some(read_only) = SmallDisk::mount_read_only(&db.dir().join("read-only")) else {
        return;
    };
    let password = "postgres://dash:hunter2@127.0.0.1:5432/events";
    let cases = [
        (
            "a disk that fills up",
            db.url(),
            full.path.join("backup.db"),
            1,
            "full",
        ),
        (
            "a read-only disk",
            db.url(),
            read_only.path.join("backup.db"),
            1,
            "read-only",
        ),
        (
            "a PostgreSQL URL",
            password,
            db.dir().join("pg.db"),
            2,
            "pg_dump",
        ),
    ];
    for (case, url, to, code, what) in cases {
        let exit = backup(url, &["--to", to.to_str().expect("UTF-8")]).await;
        assert_refused(case, &exit, code, what);
        assert!(!exit.stderr.contains("hunter2"), "{case}: {}", exit.stderr);
        assert!(!to.exists(), "{case}: {} exists", to.display());
        assert!(!partial(&to).exists(), "{case}: the .partial was left");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_exits_2_with_one_error_line_and_writes_nothing() {
    let db = log_with_events(1).await;
    let dir = db.dir();
    let to = dir.join("backup.db");
    let to_text = to.to_str().expect("UTF-8");
    let source = dir.join("events.db");
    let missing = dir.join("missing.db");
    let not_a_log = dir.join("other.db");
    create_sqlite_file(&not_a_log, "create table other (x integer)").await;
    let url_of = |path: &Path| format!("sqlite://{}", path.display());
    let (missing_url, not_a_log_url) = (url_of(&missing), url_of(&not_a_log));
    let dir_text = dir.to_str().expect("UTF-8");
    let source_text = source.to_str().expect("UTF-8");
    let cases: [(&str, &str, Vec<&str>, &str); 8] = [
        ("no --to", db.url(), vec![], "required"),
        ("an empty --to", db.url(), vec!["--to", ""], "--to"),
        ("a directory", db.url(), vec!["--to", dir_text], "directory"),
        (
            "the source itself",
            db.url(),
            vec!["--to", source_text, "--force"],
            "being backed up",
        ),
        (
            "an unknown scheme",
            "mysql://root@127.0.0.1/events",
            vec!["--to", to_text],
            "DATABASE_URL",
        ),
        (
            "an in-memory database",
            "sqlite::memory:",
            vec!["--to", to_text],
            "memory",
        ),
        (
            "a missing database",
            &missing_url,
            vec!["--to", to_text],
            "missing.db",
        ),
        (
            "not a dash-events log",
            &not_a_log_url,
            vec!["--to", to_text],
            "events",
        ),
    ];
    let before = std::fs::read(&source).expect("read the source");
    for (case, url, args, what) in cases {
        let exit = backup(url, &args).await;
        assert_refused(case, &exit, 2, what);
        assert!(
            !to.exists() && !partial(&to).exists(),
            "{case}: wrote {to_text}"
        );
    }
    assert!(!missing.exists(), "a backup created its missing source");
    assert_eq!(
        std::fs::read(&source).expect("read"),
        before,
        "the source changed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_source_is_never_written_not_even_migrated() {
    let db = sqlite_db().await;
    let source = db.dir().join("events.db");
    // A log as an older release might have left it: not at the current migration.
    let old_log =
        "create table events (id text primary key); insert into events values ('a'), ('b')";
    create_sqlite_file(&source, old_log).await;
    let before = std::fs::read(&source).expect("read the source");

    let to = db.dir().join("backup.db");
    assert_eq!(backup_ok(&db, &to, &[]).await, 2);

    assert_eq!(
        std::fs::read(&source).expect("read"),
        before,
        "the source changed"
    );
    let mut backup = open_backup(&to).await;
    let tables: Vec<String> =
        sqlx::query_scalar("select name from sqlite_master where type = 'table'")
            .fetch_all(&mut backup)
            .await
            .expect("read the backup's tables");
    assert_eq!(tables, ["events"], "the backup is the old log as it was");
}
