//! What `copy` refuses: an id the target already holds with other content is named on stderr,
//! left as it is, and makes the exit code 1 (on every run, while it lasts); bad input (a wrong
//! URL, one database given twice, a schema from another release) is one `error:` line naming
//! the problem and exit 2, or 1 when a database cannot be reached; and a refused copy writes to
//! no database at all.

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest, Sha256};
use sqlx::{Connection, SqliteConnection};

use super::log::{self, fetch_all, fingerprint};
use super::run::{Summary, copy, error_lines, summary};
use super::sqlite_and_postgres;
use crate::support::fill::store_signed_events;

/// Events of the log the refusals are tried on.
const SMALL: usize = 1_000;
/// The source's event the target holds with other content; one with notifications.
const CONFLICTING: &str = "evt-000100";

const SELECT_CONFLICTING: &str = "select type, cost, body, received_us from events \
    where id = 'evt-000100'";
const COUNT_CONFLICTING_NOTIFICATIONS: &str = "select count(*) from notifications \
    where event_id = 'evt-000100'";
type Row = (Vec<u8>, Option<f64>, Vec<u8>, i64);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_held_with_other_content_is_reported_left_untouched_and_exits_1() {
    let Some((sqlite, postgres)) = sqlite_and_postgres().await else {
        return;
    };
    log::fill(&postgres, SMALL).await;
    let mut other = log::events(101).pop().expect("evt-000100");
    assert_eq!(other["id"], CONFLICTING);
    other["type"] = "safety:block".into();
    other["data"]["cost"] = 9.0.into();
    store_signed_events(&sqlite, &[other]).await;
    let held: Vec<Row> = fetch_all(&sqlite, SELECT_CONFLICTING).await;
    let source = fingerprint(&postgres).await;

    let first = copy(postgres.url(), sqlite.url(), &[]).await;
    let again = copy(postgres.url(), sqlite.url(), &[]).await;

    let notified = SMALL.div_ceil(log::NOTIFIED_SHARE) as u64;
    let expected = [
        (&first, (SMALL as u64 - 1, 0, notified - 1)),
        (&again, (0, SMALL as u64 - 1, 0)),
    ];
    for (exit, (copied, present, notifications)) in expected {
        assert_eq!(exit.status.code(), Some(1), "{exit:?}");
        let counts = (copied, present, 1, notifications);
        let Summary {
            copied,
            present,
            conflicts,
            notifications,
        } = summary(exit);
        assert_eq!(
            (copied, present, conflicts, notifications),
            counts,
            "{exit:?}"
        );
        let named: Vec<&str> = exit
            .stderr
            .lines()
            .filter(|l| l.starts_with("conflict:"))
            .collect();
        assert_eq!(named.len(), 1, "{}", exit.stderr);
        assert!(named[0].contains(&format!("{CONFLICTING:?}")), "{named:?}");
        let errors = error_lines(&exit.stderr);
        assert_eq!(errors.len(), 1, "{}", exit.stderr);
        assert!(errors[0].contains("1 events"), "{errors:?}");
    }
    let after: Vec<Row> = fetch_all(&sqlite, SELECT_CONFLICTING).await;
    assert_eq!(after, held, "the target's row was changed");
    let notes: Vec<(i64,)> = fetch_all(&sqlite, COUNT_CONFLICTING_NOTIFICATIONS).await;
    assert_eq!(
        notes,
        [(0,)],
        "the source's notification of another event was copied"
    );
    assert_eq!(fingerprint(&postgres).await, source, "the source changed");
    assert_eq!(sqlite.count_events().await, SMALL as i64);
}

/// One refused run: what it is, its `--from` and `--to`, its exit code and words of its line.
type Case<'a> = (&'a str, &'a str, &'a str, i32, &'a [&'a str]);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_one_error_line_naming_the_problem_and_writes_nothing() {
    let Some((sqlite, postgres)) = sqlite_and_postgres().await else {
        return;
    };
    log::fill(&sqlite, 100).await;
    log::fill(&postgres, 10).await;
    let dir = sqlite.dir();
    let at = |name: &str| format!("sqlite://{}", dir.join(name).display());
    let future = "insert into _sqlx_migrations (version, description, success, checksum, \
        execution_time) values (99, 'from a newer release', true, x'00', 0)";
    // As an older release left it: without migration 4 and its table.
    let past = "drop table event_hours; delete from _sqlx_migrations where version = 4";
    derive(dir, "older.db", past).await;
    derive(dir, "newer.db", future).await;
    derive(dir, "newer-target.db", future).await;
    std::fs::write(dir.join("empty.db"), b"").expect("an empty file");
    let (source, pg) = (sqlite.url(), postgres.url());
    let (empty, older, newer) = (at("empty.db"), at("older.db"), at("newer.db"));
    let (target, newer_target, missing) = (at("target.db"), at("newer-target.db"), at("x.db"));
    let (same_file, no_server) = (at("./events.db"), "postgres://postgres@127.0.0.1:1/x");
    let same_pg = pg.replacen("postgres://", "postgresql://", 1) + "?application_name=copy-test";
    let cases: [Case; 10] = [
        (
            "not a database URL",
            "mysql://u@h/x",
            &target,
            2,
            &["--from=mysql://u@h/x", "sqlite:"],
        ),
        (
            "no scheme",
            source,
            "target.db",
            2,
            &["--to=target.db", "postgres://"],
        ),
        ("one file twice", source, &same_file, 2, &["same database"]),
        ("one database twice", pg, &same_pg, 2, &["same database"]),
        (
            "no schema",
            &empty,
            &target,
            2,
            &["--from", "no dash-events database"],
        ),
        (
            "an older source",
            &older,
            &target,
            2,
            &["--from", "lacks migration 4", "migrate"],
        ),
        (
            "a newer source",
            &newer,
            &target,
            2,
            &["--from", "migration 99", "newer"],
        ),
        (
            "a newer target",
            source,
            &newer_target,
            2,
            &["--to", "migration 99", "newer"],
        ),
        (
            "no source file",
            &missing,
            &target,
            1,
            &["cannot open --from", "x.db"],
        ),
        (
            "no PostgreSQL there",
            source,
            no_server,
            1,
            &["cannot open --to"],
        ),
    ];
    let files = database_files(dir);
    let rows = fingerprint(&postgres).await;

    for (what, from, to, code, words) in cases {
        let exit = copy(from, to, &[]).await;

        assert_eq!(exit.status.code(), Some(code), "{what}: {exit:?}");
        let errors = error_lines(&exit.stderr);
        assert_eq!(errors.len(), 1, "{what}: {}", exit.stderr);
        for word in words {
            assert!(
                errors[0].contains(word),
                "{what}: {word:?} in {:?}",
                errors[0]
            );
        }
        assert_eq!(
            database_files(dir),
            files,
            "{what}: a SQLite file was written"
        );
        assert_eq!(
            fingerprint(&postgres).await,
            rows,
            "{what}: PostgreSQL was written"
        );
    }
}

/// A copy of the test's SQLite file at `name` beside it, changed by `sql`.
async fn derive(dir: &Path, name: &str, sql: &str) {
    std::fs::copy(dir.join("events.db"), dir.join(name)).expect("copy the SQLite file");
    let url = format!("sqlite://{}", dir.join(name).display());
    let mut conn = SqliteConnection::connect(&url)
        .await
        .expect("open the copy");
    sqlx::raw_sql(sql).execute(&mut conn).await.expect(sql);
    conn.close().await.expect("close the copy");
}

/// Every `.db` file in `dir` and a digest of its bytes.
fn database_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("list the test's directory")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "db"))
        .map(|path| {
            let bytes = std::fs::read(&path).expect("read a SQLite file");
            let name = path
                .file_name()
                .expect("a name")
                .to_string_lossy()
                .into_owned();
            (name, Sha256::digest(bytes).to_vec())
        })
        .collect()
}
