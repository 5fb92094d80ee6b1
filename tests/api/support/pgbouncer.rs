//! PgBouncer (Debian's `pgbouncer`) as a child process between the service and the test's
//! PostgreSQL server: a generated ini, a free loopback port, `pool_mode = transaction`. The test
//! chooses the other settings, to show both the documented configuration and what breaks
//! without it. The process is ended by its PID when the handle is dropped.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::Url;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, Row};

use crate::backend::{TestDb, base_url};
use crate::process::Process;

/// The PgBouncer settings docs/operations.md prescribes beside `pool_mode = transaction`:
/// sqlx names every statement it prepares and never closes them, so each server connection is
/// cleared of them whenever a transaction gives it back.
pub const DOCUMENTED: [(&str, &str); 2] = [
    ("server_reset_query", "DEALLOCATE ALL"),
    ("server_reset_query_always", "1"),
];

/// How long PgBouncer may take to listen: it starts in milliseconds; the margin is for a
/// loaded test machine.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running PgBouncer.
pub struct PgBouncer {
    process: Process,
    port: u16,
}

impl PgBouncer {
    /// Whether the `pgbouncer` binary can be run.
    pub fn installed() -> bool {
        program().is_some()
    }

    /// Starts PgBouncer in transaction pooling mode in front of the test PostgreSQL server, with
    /// `settings` added to its `[pgbouncer]` section; its ini goes into `dir`.
    pub async fn start(dir: &Path, settings: &[(&str, &str)]) -> PgBouncer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let ini = dir.join("pgbouncer.ini");
        std::fs::write(&ini, ini_text(port, settings)).expect("write pgbouncer.ini");
        let mut command = Command::new(program().expect("pgbouncer installed"));
        // PgBouncer refuses to run as root; it reads its ini before it drops to `nobody`.
        if running_as_root() {
            command.args(["-u", "nobody"]);
        }
        command.arg(&ini);
        let mut process = Process::spawn(command);
        if let Err(output) = process
            .wait_for_stderr_line("process up", START_TIMEOUT)
            .await
        {
            panic!("pgbouncer did not start: {output}");
        }
        PgBouncer { process, port }
    }

    /// The URL of `db` through PgBouncer, with `params` (a URL query string, may be empty).
    pub fn url(&self, db: &TestDb, params: &str) -> String {
        let name = db.postgres_name().expect("a PostgreSQL test database");
        let query = if params.is_empty() {
            String::new()
        } else {
            format!("?{params}")
        };
        format!("postgres://postgres@127.0.0.1:{}/{name}{query}", self.port)
    }

    /// The number of client connections PgBouncer holds for `database` (its `SHOW CLIENTS`).
    pub async fn clients_of(&self, database: &str) -> usize {
        // The admin console takes only the simple protocol, and none of sqlx's optional
        // startup parameters.
        let options = PgConnectOptions::new()
            .host("127.0.0.1")
            .port(self.port)
            .username("postgres")
            .database("pgbouncer")
            .extra_float_digits(None);
        let mut admin = PgConnection::connect_with(&options)
            .await
            .expect("connect to PgBouncer's admin console");
        let rows = sqlx::raw_sql("show clients")
            .fetch_all(&mut admin)
            .await
            .expect("show clients");
        rows.iter()
            .filter(|row| {
                row.try_get::<String, _>("database")
                    .is_ok_and(|name| name == database)
            })
            .count()
    }

    /// What PgBouncer logged so far.
    pub fn log(&self) -> String {
        self.process.stderr()
    }
}

/// The `pgbouncer` binary: on the `PATH`, or where Debian puts it (`/usr/sbin` is often missing
/// from a user's `PATH`).
fn program() -> Option<&'static str> {
    ["pgbouncer", "/usr/sbin/pgbouncer"]
        .into_iter()
        .find(|program| {
            Command::new(program)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
        })
}

/// Whether this process runs as root: `/proc/self` belongs to the process's effective user.
fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|proc| proc.uid() == 0)
}

/// The ini: every database of the test server under its own name, reached as the test server's
/// user (`auth_type = any` takes any client name); no Unix socket, the log on stderr.
fn ini_text(port: u16, settings: &[(&str, &str)]) -> String {
    let server = Url::parse(&base_url()).expect("DASH_EVENTS_TEST_POSTGRES is a URL");
    let mut target = format!(
        "host={} port={} user={}",
        server.host_str().unwrap_or("127.0.0.1"),
        server.port().unwrap_or(5432),
        server.username(),
    );
    if let Some(password) = server.password() {
        target.push_str(&format!(" password={password}"));
    }
    let mut text = format!(
        "[databases]\n* = {target}\n\n[pgbouncer]\n\
         listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
         auth_type = any\npool_mode = transaction\nmax_client_conn = 500\n"
    );
    for (name, value) in settings {
        text.push_str(&format!("{name} = {value}\n"));
    }
    text
}
