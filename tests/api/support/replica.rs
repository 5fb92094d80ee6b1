//! A streaming replica of the test's own: a private primary cluster (`initdb`, `pg_ctl`) on a free
//! loopback port, with `wal_level=replica` and a replication entry in `pg_hba.conf`, and a hot
//! standby made from it with `pg_basebackup -R` on another free port. The test stops and starts
//! either server, pauses the standby's replay, and waits for the standby to catch up; both are
//! stopped (`-m immediate`) and removed when dropped.
//!
//! The server binaries are found under `/usr/lib/postgresql/<version>/bin`. As root, the clusters
//! run as the `postgres` user (PostgreSQL refuses to run as root); otherwise as the current user.
//! (The same as `PrivatePostgres` of the fault tests, plus the standby; kept apart while that one
//! moves into the support.)

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sqlx::{Connection, PgConnection};

use crate::support::private_postgres::{as_cluster_owner, is_root, postgres_bin, run};

/// How long a standby may take to replay what the primary wrote: milliseconds on loopback, 100×
/// that for a busy test machine.
const REPLAY_TIMEOUT: Duration = Duration::from_secs(30);

/// A primary and its hot standby.
pub struct ReplicatedPostgres {
    root: PathBuf,
    primary: Cluster,
    standby: Cluster,
}

impl ReplicatedPostgres {
    /// Creates both servers and starts them, off the runtime's threads (`initdb` and the base
    /// backup take seconds); `Err` says why it cannot be done on this machine.
    pub async fn start() -> Result<ReplicatedPostgres, String> {
        tokio::task::spawn_blocking(Self::start_blocking)
            .await
            .expect("start the replicated pair")
    }

    fn start_blocking() -> Result<ReplicatedPostgres, String> {
        let bin = postgres_bin(&["initdb", "pg_ctl", "pg_basebackup"]).ok_or_else(|| {
            "no PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) installed".to_owned()
        })?;
        let root = std::env::temp_dir().join(format!(
            "dash-events-replica-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&root).expect("create the clusters' directory");
        if is_root() {
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&root));
        }
        let primary = Cluster::new(&bin, &root, "primary");
        primary.init();
        primary.start();
        let standby = Cluster::new(&bin, &root, "standby");
        standby.copy_from(&primary);
        standby.start();
        Ok(ReplicatedPostgres {
            root,
            primary,
            standby,
        })
    }

    /// The primary's `postgres` database: the `DATABASE_URL`.
    pub fn primary_url(&self) -> String {
        self.primary.url()
    }

    /// The standby's `postgres` database: the `DATABASE_READ_URL`.
    pub fn standby_url(&self) -> String {
        self.standby.url()
    }

    /// Stops the primary at once, as a crash would.
    pub fn stop_primary(&self) {
        self.primary.stop();
    }

    /// Stops the standby at once, as a crash would.
    pub fn stop_standby(&self) {
        self.standby.stop();
    }

    /// Starts the standby again; it resumes replication where it stopped.
    pub fn start_standby(&self) {
        self.standby.start();
    }

    /// Waits until the standby has replayed everything the primary had written when this was
    /// called.
    pub async fn await_replay(&self) {
        let mut primary = connect(&self.primary_url()).await;
        let written: String = sqlx::query_scalar("select cast(pg_current_wal_lsn() as text)")
            .fetch_one(&mut primary)
            .await
            .expect("the primary's WAL position");
        let mut standby = connect(&self.standby_url()).await;
        let deadline = tokio::time::Instant::now() + REPLAY_TIMEOUT;
        loop {
            let replayed: bool =
                sqlx::query_scalar("select pg_last_wal_replay_lsn() >= cast($1 as pg_lsn)")
                    .bind(&written)
                    .fetch_one(&mut standby)
                    .await
                    .expect("the standby's replay position");
            if replayed {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the standby did not replay up to {written} within {REPLAY_TIMEOUT:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Pauses the standby's replay (it keeps receiving WAL) and waits until it has paused.
    pub async fn pause_replay(&self) {
        let mut standby = connect(&self.standby_url()).await;
        sqlx::query("select pg_wal_replay_pause()")
            .execute(&mut standby)
            .await
            .expect("pause the replay");
        let deadline = tokio::time::Instant::now() + REPLAY_TIMEOUT;
        loop {
            let state: String = sqlx::query_scalar("select pg_get_wal_replay_pause_state()")
                .fetch_one(&mut standby)
                .await
                .expect("the replay's pause state");
            if state == "paused" {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the replay is still {state:?} after {REPLAY_TIMEOUT:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Resumes the standby's replay.
    pub async fn resume_replay(&self) {
        let mut standby = connect(&self.standby_url()).await;
        sqlx::query("select pg_wal_replay_resume()")
            .execute(&mut standby)
            .await
            .expect("resume the replay");
    }

    /// How many events the primary holds, read on the primary itself.
    pub async fn events_on_primary(&self) -> i64 {
        let mut primary = connect(&self.primary_url()).await;
        sqlx::query_scalar("select count(*) from events")
            .fetch_one(&mut primary)
            .await
            .expect("count the primary's events")
    }
}

impl Drop for ReplicatedPostgres {
    fn drop(&mut self) {
        self.standby.stop_if_running();
        self.primary.stop_if_running();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// One PostgreSQL server: its data directory, its free loopback port and its log.
struct Cluster {
    bin: PathBuf,
    root: PathBuf,
    data: PathBuf,
    log: PathBuf,
    port: u16,
}

impl Cluster {
    fn new(bin: &Path, root: &Path, name: &str) -> Cluster {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        Cluster {
            bin: bin.to_owned(),
            root: root.to_owned(),
            data: root.join(name),
            log: root.join(format!("{name}.log")),
            port,
        }
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// A new primary: trust on loopback, and replication connections from it.
    fn init(&self) {
        run(self.tool("initdb").arg("-D").arg(&self.data).args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ]));
        // initdb writes such a line too; the test does not rely on its defaults.
        let hba = self.data.join("pg_hba.conf");
        let mut rules = std::fs::read_to_string(&hba).expect("read pg_hba.conf");
        rules.push_str("\nhost replication postgres 127.0.0.1/32 trust\n");
        std::fs::write(&hba, rules).expect("write pg_hba.conf");
    }

    /// A standby of `primary`: a base backup with `-R` (standby.signal and primary_conninfo),
    /// after an immediate checkpoint rather than a spread one.
    fn copy_from(&self, primary: &Cluster) {
        run(self
            .tool("pg_basebackup")
            .args([
                "-R",
                "-c",
                "fast",
                "--no-sync",
                "-U",
                "postgres",
                "-h",
                "127.0.0.1",
            ])
            .arg("-p")
            .arg(primary.port.to_string())
            .arg("-D")
            .arg(&self.data));
    }

    /// Starts the server and waits until it accepts connections (a standby: once consistent).
    /// Without fsync: the tests stop servers, never the machine, and a standby that syncs its
    /// whole data directory before recovery took seconds to start.
    fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c wal_level=replica -c fsync=off",
            self.port,
            self.root.display()
        );
        run(self
            .tool("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-w", "-l"])
            .arg(&self.log)
            .args(["-o", &options, "start"]));
    }

    fn stop(&self) {
        run(self
            .tool("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-w", "-m", "immediate", "stop"]));
    }

    fn stop_if_running(&self) {
        let _ = self
            .tool("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "stop"])
            .output();
    }

    /// One of the server binaries, run as the user the clusters belong to.
    fn tool(&self, name: &str) -> Command {
        as_cluster_owner(&self.bin.join(name))
    }
}

async fn connect(url: &str) -> PgConnection {
    PgConnection::connect(url)
        .await
        .unwrap_or_else(|err| panic!("connect to {url}: {err}"))
}
