//! `GET /events/stream`, the live tail: as a client sees it and at its edges (`live`), and
//! across migration 0002 (`migration`).
//!
//! On PostgreSQL a stream passes an event only once every older transaction on the whole server
//! has ended, so the PostgreSQL twins of these checks run on a cluster of their own, shared by
//! the stream tests of this process (`support::private_postgres`): another test's transaction
//! held open on the shared server cannot hold their events back.

/// `both_backends!` for stream checks: `check::sqlite`, and `check::postgres` on the stream
/// tests' own cluster.
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

/// `postgres_only!` for stream checks: `check::postgres` on the stream tests' own cluster.
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

pub mod live;
pub mod migration;
