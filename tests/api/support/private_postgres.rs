//! A PostgreSQL cluster of the test process's own (`initdb` into a temporary directory, `pg_ctl`
//! on a free loopback port), stopped (`-m immediate`) and removed when dropped. Two kinds of test
//! need one rather than the shared server of `DASH_EVENTS_TEST_POSTGRES`:
//!
//! - a fault test that stops the server (`faults::database`) gets a cluster of its own (`start`);
//! - the PostgreSQL tests that read the live stream share one (`shared`, through
//!   `both_backends_on_stream_cluster!`), because a stream only passes an event once every older
//!   transaction on the whole server has ended (`src/store/stream.rs`): on the shared server any
//!   other test's long transaction (a lock held for 15 s, say) would hold their events back. Only
//!   these tests use that cluster, and none of them keeps a transaction open.
//!
//! The server binaries are found under `/usr/lib/postgresql/<version>/bin`. As root, the cluster
//! runs as the `postgres` user (PostgreSQL refuses to run as root); otherwise as the current user.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use crate::backend::{TestDb, report_skip};

/// The cluster the stream tests of this process share while at least one of them runs.
static SHARED: Mutex<Weak<PrivatePostgres>> = Mutex::new(Weak::new());

/// A running cluster of this process's own.
pub struct PrivatePostgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl PrivatePostgres {
    /// Creates and starts a new cluster; `Err` says why it cannot be done on this machine.
    pub fn start() -> Result<PrivatePostgres, String> {
        let bin = postgres_bin(&["initdb", "pg_ctl"])
            .ok_or_else(|| "no PostgreSQL server binaries (initdb, pg_ctl) installed".to_owned())?;
        let dir =
            std::env::temp_dir().join(format!("dash-events-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("create the cluster directory");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let pg = PrivatePostgres { bin, dir, port };
        if is_root() {
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&pg.dir));
        }
        run(as_cluster_owner(&pg.bin.join("initdb"))
            .arg("-D")
            .arg(pg.dir.join("data"))
            .args(["-A", "trust", "-U", "postgres", "--no-sync"]));
        pg.start_server();
        Ok(pg)
    }

    /// The cluster the stream tests of this process share: started by the first of them, and
    /// stopped when the last one running lets go of it (a later one starts a new one).
    pub fn shared() -> Result<Arc<PrivatePostgres>, String> {
        let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(running) = shared.upgrade() {
            return Ok(running);
        }
        let started = Arc::new(PrivatePostgres::start()?);
        *shared = Arc::downgrade(&started);
        Ok(started)
    }

    /// The URL of the cluster's `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the server (again, after `stop`) and waits until it accepts connections.
    pub fn start_server(&self) {
        // Several receivers and the test's own connections at once, beyond the default 100.
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200",
            self.port,
            self.dir.display()
        );
        run(self
            .pg_ctl()
            .args(["-w", "-l"])
            .arg(self.dir.join("log"))
            .args(["-o", &options, "start"]));
    }

    /// Stops the server at once, as a crash would.
    pub fn stop(&self) {
        run(self.pg_ctl().args(["-w", "-m", "immediate", "stop"]));
    }

    fn pg_ctl(&self) -> Command {
        let mut command = as_cluster_owner(&self.bin.join("pg_ctl"));
        command.arg("-D").arg(self.dir.join("data"));
        command
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self.pg_ctl().args(["-m", "immediate", "stop"]).output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `check` on a fresh database of the shared stream cluster, which it keeps running until
/// the check (and the drop of its database) is over. Without server binaries the test skips with
/// a notice, unless `DASH_EVENTS_REQUIRE_POSTGRES=1` makes that a failure.
pub async fn run_on_shared<F, Fut>(check: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    // initdb takes a second or two: off the test's runtime threads.
    let cluster = tokio::task::spawn_blocking(PrivatePostgres::shared)
        .await
        .expect("start the shared cluster");
    let cluster = match cluster {
        Ok(cluster) => cluster,
        Err(why) if std::env::var("DASH_EVENTS_REQUIRE_POSTGRES").as_deref() == Ok("1") => {
            panic!("a private PostgreSQL cluster is needed: {why}; DASH_EVENTS_REQUIRE_POSTGRES=1")
        }
        Err(why) => {
            report_skip(&format!(
                "a private PostgreSQL cluster is needed: {why}; \
                 set DASH_EVENTS_REQUIRE_POSTGRES=1 to fail instead"
            ));
            return;
        }
    };
    check(TestDb::provision_on(&cluster.url()).await).await;
    drop(cluster);
}

/// The directory of the installed PostgreSQL server binaries that has every one of `tools`.
pub fn postgres_bin(tools: &[&str]) -> Option<PathBuf> {
    let versions = std::fs::read_dir("/usr/lib/postgresql").ok()?;
    versions
        .flatten()
        .map(|v| v.path().join("bin"))
        .find(|bin| tools.iter().all(|tool| bin.join(tool).exists()))
}

/// Whether this process runs with the effective user id 0 (the second field of `Uid:`).
pub fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        == Some("0")
}

/// `program` as the user the cluster belongs to.
pub fn as_cluster_owner(program: &Path) -> Command {
    if !is_root() {
        return Command::new(program);
    }
    let mut command = Command::new("runuser");
    command.args(["-u", "postgres", "--"]).arg(program);
    command
}

/// Runs a PostgreSQL tool; panics with its stderr when it fails.
pub fn run(command: &mut Command) {
    let output = command.output().expect("run a PostgreSQL tool");
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
