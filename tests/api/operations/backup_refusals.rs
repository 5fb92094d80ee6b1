//! `dash-events backup` refusing and failing: an existing file is replaced only with `--force`,
//! and another backup's `.partial` never; a backup that fails (a full disk, a read-only one, a
//! PostgreSQL URL) leaves neither the file nor its `.partial`; bad input exits 2 with one
//! `error: ` line and writes nothing; the source is never written, not even migrated or
//! checkpointed.

use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

use crate::backend::TestDb;
use crate::helpers::new_id;
use crate::operations::backup::{backup, backup_ok, ids_in, open_backup, sqlite_db};
use crate::operations::startup::assert_refused;
use crate::support::disk::SmallDisk;
use crate::support::fill::{event_at_time, store_events};
use crate::support::server::ServeProcess;

/// `path` with `.partial` appended: where a backup to `path` is written.
fn partial(path: &Path) -> PathBuf {
    let mut name = path.to_owned().into_os_string();
    name.push(".partial");
    name.into()
}

/// The SHA-256 of the file at `path`, to tell whether it changed.
fn fingerprint(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|err| panic!("read {}: {err}", path.display()));
    hex::encode(Sha256::digest(bytes))
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
    let before = fingerprint(&source);
    for (case, url, args, what) in cases {
        let exit = backup(url, &args).await;
        assert_refused(case, &exit, 2, what);
        assert!(
            !to.exists() && !partial(&to).exists(),
            "{case}: wrote {to_text}"
        );
    }
    assert!(!missing.exists(), "a backup created its missing source");
    assert_eq!(fingerprint(&source), before, "the source changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_source_is_never_written_not_even_migrated() {
    let db = sqlite_db().await;
    let source = db.dir().join("events.db");
    // A log as an older release might have left it: not at the current migration.
    let old_log =
        "create table events (id text primary key); insert into events values ('a'), ('b')";
    create_sqlite_file(&source, old_log).await;
    let before = fingerprint(&source);

    let to = db.dir().join("backup.db");
    assert_eq!(backup_ok(&db, &to, &[]).await, 2);

    assert_eq!(fingerprint(&source), before, "the source changed");
    let mut backup = open_backup(&to).await;
    let tables: Vec<String> =
        sqlx::query_scalar("select name from sqlite_master where type = 'table'")
            .fetch_all(&mut backup)
            .await
            .expect("read the backup's tables");
    assert_eq!(tables, ["events"], "the backup is the old log as it was");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_a_crash_left_is_copied_but_not_checkpointed_into_the_source() {
    let db = sqlite_db().await;
    let mut app = ServeProcess::start(&db).await;
    app.store(&crate::helpers::event(&new_id())).await;
    // A reader of the test's own keeps the checkpointer from copying the next events into the
    // database file: they stay in the WAL, where `kill -9` leaves them.
    let mut reader = open_backup(&db.dir().join("events.db")).await;
    let mut snapshot = reader.begin().await.expect("begin");
    let _: i64 = sqlx::query_scalar("select count(*) from events")
        .fetch_one(&mut *snapshot)
        .await
        .expect("read");
    for _ in 0..5 {
        app.store(&crate::helpers::event(&new_id())).await;
    }
    app.signal(Signal::SIGKILL);
    app.wait_exit().await;
    drop(snapshot);
    let _ = reader.close().await;
    let source = db.dir().join("events.db");
    let before = fingerprint(&source);

    let to = db.dir().join("backup.db");
    assert_eq!(
        backup_ok(&db, &to, &[]).await,
        6,
        "the WAL's events are in the backup"
    );

    // A read-write connection, the last to close, would have copied the WAL into the file.
    assert_eq!(fingerprint(&source), before, "the source changed");
}
