//! One fresh database per test, on either backend: a SQLite file in a new temporary directory, or
//! a new PostgreSQL database `dash_events_t_<uuid>` created through the server named by
//! `DASH_EVENTS_TEST_POSTGRES` (or through another server a test chose, see `provision_on`). The
//! database (and the directory) is dropped when the `TestDb` is, also when the test panics. Tests
//! open their own connection through it to count or tamper.

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::Url;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, PgConnection, SqliteConnection};

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The two storage backends of `dash-events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Provisions a database on `backend` and runs `check` against it; skips (with a notice) when
/// PostgreSQL is unreachable and not required.
pub async fn run<F, Fut>(backend: Backend, check: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    if let Some(db) = TestDb::provision(backend).await {
        check(db).await;
    }
}

/// A database that exists for one test only.
pub struct TestDb {
    backend: Backend,
    url: String,
    dir: PathBuf,
    postgres_name: Option<String>,
    /// The URL of the PostgreSQL server's base database, through which this one is dropped.
    server: String,
}

impl TestDb {
    /// Creates the database, or answers `None` when PostgreSQL is unreachable and not required.
    pub async fn provision(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => Some(TestDb::new(backend, base_url())),
            Backend::Postgres => {
                let admin = admin_connection().await?;
                Some(TestDb::create_postgres(admin, base_url()).await)
            }
        }
    }

    /// Creates a PostgreSQL database on the server whose base database is at `server`, which
    /// must be reachable (a server the test started itself).
    pub async fn provision_on(server: &str) -> TestDb {
        let admin = PgConnection::connect(server)
            .await
            .unwrap_or_else(|err| panic!("connect to {server}: {err}"));
        TestDb::create_postgres(admin, server.to_owned()).await
    }

    /// Another fresh database of the same backend, on the same server as this one.
    pub async fn provision_beside(&self) -> TestDb {
        match self.backend {
            Backend::Sqlite => TestDb::new(Backend::Sqlite, self.server.clone()),
            Backend::Postgres => TestDb::provision_on(&self.server).await,
        }
    }

    fn new(backend: Backend, server: String) -> TestDb {
        let dir = std::env::temp_dir().join(format!("dash-events-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("create the test's temporary directory");
        TestDb {
            backend,
            url: format!("sqlite://{}", dir.join("events.db").display()),
            dir,
            postgres_name: None,
            server,
        }
    }

    async fn create_postgres(mut admin: PgConnection, server: String) -> TestDb {
        let mut db = TestDb::new(Backend::Postgres, server);
        let name = format!("dash_events_t_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!(r#"create database "{name}""#))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|err| panic!("create database {name}: {err}"));
        let _ = admin.close().await;
        db.url = database_url(&db.server, &name);
        db.postgres_name = Some(name);
        db
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The `DATABASE_URL` to give the server.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL of the base database of the PostgreSQL server this database is on, to connect as
    /// its administrator.
    pub fn server_url(&self) -> &str {
        &self.server
    }

    /// The PostgreSQL database's name (`None` on SQLite).
    pub fn postgres_name(&self) -> Option<&str> {
        self.postgres_name.as_deref()
    }

    /// A scratch directory owned by this test (it holds the SQLite file on that backend).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Opens a SQLite connection of the test's own to the server's file.
    pub async fn sqlite(&self) -> SqliteConnection {
        assert_eq!(self.backend, Backend::Sqlite, "not a SQLite test database");
        SqliteConnection::connect(&self.url)
            .await
            .unwrap_or_else(|err| panic!("connect to {}: {err}", self.url))
    }

    /// Opens a SQLite connection to the test's file, creating it: for tests that lay out an old
    /// schema by hand before any server has run.
    pub async fn create_sqlite(&self) -> SqliteConnection {
        assert_eq!(self.backend, Backend::Sqlite, "not a SQLite test database");
        let options = SqliteConnectOptions::from_str(&self.url)
            .expect("a SQLite URL")
            .create_if_missing(true);
        SqliteConnection::connect_with(&options)
            .await
            .unwrap_or_else(|err| panic!("create {}: {err}", self.url))
    }

    /// Opens a PostgreSQL connection of the test's own to the server's database.
    pub async fn postgres(&self) -> PgConnection {
        assert_eq!(
            self.backend,
            Backend::Postgres,
            "not a PostgreSQL test database"
        );
        PgConnection::connect(&self.url)
            .await
            .unwrap_or_else(|err| panic!("connect to {}: {err}", self.url))
    }

    /// The number of rows in the `events` table, read behind the service's back.
    pub async fn count_events(&self) -> i64 {
        let sql = "select count(*) from events";
        match self.backend {
            Backend::Sqlite => {
                sqlx::query_scalar(sql)
                    .fetch_one(&mut self.sqlite().await)
                    .await
            }
            Backend::Postgres => {
                sqlx::query_scalar(sql)
                    .fetch_one(&mut self.postgres().await)
                    .await
            }
        }
        .expect("count the rows of events")
    }

    /// The ids of all rows in the `events` table, read behind the service's back.
    pub async fn stored_ids(&self) -> Vec<String> {
        let sql = "select id from events";
        match self.backend {
            Backend::Sqlite => {
                sqlx::query_scalar(sql)
                    .fetch_all(&mut self.sqlite().await)
                    .await
            }
            Backend::Postgres => {
                sqlx::query_scalar(sql)
                    .fetch_all(&mut self.postgres().await)
                    .await
            }
        }
        .expect("read the ids of events")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        let Some(name) = self.postgres_name.take() else {
            return;
        };
        let server = std::mem::take(&mut self.server);
        // Drop may run inside the test's runtime (or while unwinding): use a runtime of our own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime to drop the test database");
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&server).await?;
                sqlx::query(&format!(r#"drop database if exists "{name}" with (force)"#))
                    .execute(&mut admin)
                    .await
                    .map(drop)
            })
        })
        .join();
        if let Ok(Err(err)) = dropped {
            eprintln!("warning: could not drop a test database: {err}");
        }
    }
}

/// The PostgreSQL server tests use, from `DASH_EVENTS_TEST_POSTGRES`.
pub fn base_url() -> String {
    std::env::var("DASH_EVENTS_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned())
}

/// The `server` URL with its database name replaced by `name`.
fn database_url(server: &str, name: &str) -> String {
    let mut url = Url::parse(server).expect("a PostgreSQL URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// Connects to the base database, or decides between failing and skipping when it is unreachable.
async fn admin_connection() -> Option<PgConnection> {
    let base = base_url();
    let attempt = tokio::time::timeout(Duration::from_secs(10), PgConnection::connect(&base)).await;
    let problem = match attempt {
        Ok(Ok(connection)) => return Some(connection),
        Ok(Err(err)) => err.to_string(),
        Err(_) => "no answer within 10 s".to_owned(),
    };
    if std::env::var("DASH_EVENTS_REQUIRE_POSTGRES").as_deref() == Ok("1") {
        panic!("PostgreSQL not reachable at {base} ({problem}) and DASH_EVENTS_REQUIRE_POSTGRES=1");
    }
    report_skip(&format!(
        "PostgreSQL not reachable at {base} ({problem}); \
         set DASH_EVENTS_REQUIRE_POSTGRES=1 to fail instead"
    ));
    None
}

/// Skips counted so far in this test binary.
static SKIPS: AtomicUsize = AtomicUsize::new(0);

/// Says on the terminal that the running test is skipped and why, with the count so far. A test
/// that skips still reports "ok" to libtest, which hides what a passing test prints with
/// `eprintln!`; a write to the stderr handle itself is not captured, so this line shows in every
/// run, and a skip cannot pass for a pass.
pub fn report_skip(reason: &str) {
    let count = SKIPS.fetch_add(1, Ordering::SeqCst) + 1;
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    let line = format!("SKIPPED ({count} in this run so far) {test}: {reason}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}
