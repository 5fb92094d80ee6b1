//! Black-box integration tests of `dash-events`: each test starts a server on a free loopback
//! port, speaks HTTP to it with `reqwest`, and checks the promises of `api-contract.md`. Most
//! serve in this process (`support::app`, `dash_events::serve` on the test's runtime); what only a
//! process shows (signals, `kill -9`, exit codes, refused starts, logs, subcommands) runs the real
//! binary as a child process (`support::launch`, `support::server`).
//!
//! The tests are grouped by capability: `ingest` (webhook deliveries), `queries` (the query API,
//! export, the web view, the OpenAPI document), `stream` (the live tail), `notify`
//! (notifications), `faults` (crashes, database outages and network faults) and `operations` (start-up,
//! configuration, shutdown, logs, metrics, the subcommands). Each behavioural check is written once and run against SQLite and PostgreSQL
//! through the `both_backends!` macro; the PostgreSQL twin skips with a notice when no server is
//! reachable, unless `DASH_EVENTS_REQUIRE_POSTGRES=1` makes that a failure.

/// Runs each named `async fn check(db: TestDb)` twice, as `check::sqlite` and `check::postgres`.
macro_rules! both_backends {
    ($($check:ident),+ $(,)?) => {$(
        mod $check {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                crate::backend::run(crate::backend::Backend::Sqlite, super::$check).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                crate::backend::run(crate::backend::Backend::Postgres, super::$check).await;
            }
        }
    )+};
}

/// Runs each named `async fn check(db: TestDb)` on PostgreSQL only, as `check::postgres`.
macro_rules! postgres_only {
    ($($check:ident),+ $(,)?) => {$(
        mod $check {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                crate::backend::run(crate::backend::Backend::Postgres, super::$check).await;
            }
        }
    )+};
}

/// Runs each named `async fn check(db: TestDb)` on SQLite only, as `check::sqlite`: for what lives in
/// front of the store (the connection layer, start-up refusals), where the backend plays no part.
macro_rules! sqlite_only {
    ($($check:ident),+ $(,)?) => {$(
        mod $check {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                crate::backend::run(crate::backend::Backend::Sqlite, super::$check).await;
            }
        }
    )+};
}

/// `both_backends!` for checks that read the live stream: `check::sqlite`, and `check::postgres`
/// on the cluster the stream tests share (`support::private_postgres`), where no other test's
/// transaction holds a stream's events back. Checks run this way keep no transaction open.
macro_rules! both_backends_on_stream_cluster {
    ($($check:ident),+ $(,)?) => {$(
        mod $check {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                crate::backend::run(crate::backend::Backend::Sqlite, super::$check).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                crate::support::private_postgres::run_on_shared(super::$check).await;
            }
        }
    )+};
}

/// `postgres_only!` for checks that read the live stream: `check::postgres` on the cluster the
/// stream tests share.
macro_rules! postgres_only_on_stream_cluster {
    ($($check:ident),+ $(,)?) => {$(
        mod $check {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                crate::support::private_postgres::run_on_shared(super::$check).await;
            }
        }
    )+};
}

// Shared with the `lambda` test target (tests/lambda).
#[path = "../common/backend.rs"]
mod backend;
#[path = "../common/helpers.rs"]
mod helpers;
#[path = "../common/process.rs"]
mod process;

mod support;

mod faults;
mod ingest;
mod notify;
mod operations;
mod queries;
mod stream;
