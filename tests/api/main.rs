//! Black-box integration tests of `dash-events`: every test starts the real binary as a child
//! process on a free loopback port, speaks HTTP to it with `reqwest`, and checks the promises of
//! `api-contract.md`. Each behavioural check is written once and run against SQLite and PostgreSQL
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

// Shared with the `lambda` test target (tests/lambda).
#[path = "../common/backend.rs"]
mod backend;
#[path = "../common/helpers.rs"]
mod helpers;
#[path = "../common/process.rs"]
mod process;

mod capture;
mod fill;
mod launch;
mod raw_client;
mod server;
mod sse;

mod auth;
mod config;
mod content;
mod crashes;
mod duplicates;
mod event_body;
mod event_lookup;
mod events_query;
mod export;
mod export_memory;
mod hour_shards;
mod load_smoke;
mod logs;
mod multi_receiver;
mod notify_crash;
mod notify_listing;
mod notify_outbox;
mod notify_receivers;
mod notify_retries;
mod notify_slack;
mod notify_timing;
mod operations;
mod outages;
mod pagination;
mod planner_statistics;
mod read_path;
mod receiver_killed;
mod rejections;
mod retention;
mod retention_ingest;
mod schema;
mod secrets_in_logs;
mod send_test;
mod shutdown;
mod slow_clients;
mod startup;
mod stats;
mod stats_windows;
mod stream;
mod stream_access;
mod stream_migration;
mod timeline;
mod timeline_migration;
mod timeline_read_path;
mod timeline_rollup;
mod unavailable;
mod validation;
mod verify;
mod wal_bounded;
mod web_view;
mod webhooks;
