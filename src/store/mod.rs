//! The event store: one value chosen at runtime from `DATABASE_URL`, SQLite (the embedded default)
//! or PostgreSQL (production, several receivers sharing one table). Each backend has its own
//! embedded migrations; the queries are written once and expanded per backend by `on_pool!`.

mod batch;
mod events;
mod hours;
mod integrity;
mod notifications;
mod outbox;
mod planner;
mod prune;
mod rollup;
mod sqlite;
mod stats;
mod stream;
mod timeline;
mod writer;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

pub use events::{InsertOutcome, StoredEvent};
pub use integrity::StoredRow;
pub use notifications::{
    NotificationFilter, NotificationRow, NotificationState, OutboxCounts, UnknownState,
};
pub use outbox::{AttemptResult, ClaimedNotification, Revival};
pub use planner::maintain_periodically;
pub use prune::PRUNE_BATCH;
pub use rollup::DAY_US;
pub use sqlite::Durability;
pub use stats::{Stats, TypeStats};
pub use stream::StreamPage;
pub use writer::{BatchWriter, WriterSettings};

use crate::startup::StartupError;

/// How long a request waits for a database connection before answering 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// PostgreSQL connections per receiver: enough for both cores' worth of concurrent requests
/// waiting on commits, small enough that several receivers fit under `max_connections = 100`.
const POSTGRES_CONNECTIONS: u32 = 16;
/// Concurrent batch commits per receiver on PostgreSQL; the other connections serve queries.
const POSTGRES_WRITERS: usize = 4;
/// Rows each day's totals are spread over on PostgreSQL, so that concurrent batches (from this
/// receiver's writers and from other receivers) rarely wait on the same row lock.
const POSTGRES_STAT_SHARDS: i32 = 16;

/// Events per transaction: large enough that one fsync covers a burst from many connections.
const MAX_BATCH: usize = 256;
/// Longest a delivery waits for its commit before answering 503.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the store could not answer; every case answers 503 so the sender retries.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed the operation.
    #[error("database error")]
    Database(#[source] Arc<sqlx::Error>),
    /// The operation did not finish in time.
    #[error("the database did not answer within {0:?}")]
    Timeout(Duration),
    /// The writers have stopped (the service is shutting down).
    #[error("the writer has stopped")]
    WriterStopped,
    /// Recent commits failed although the database may still answer reads.
    #[error("recent commits failed")]
    WritesFailing,
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        Self::Database(Arc::new(err))
    }
}

/// Where events live.
#[derive(Debug, Clone)]
pub enum Store {
    /// One writer connection (SQLite serialises writes anyway) and a pool of readers.
    Sqlite {
        /// The single connection that writes.
        writer: SqlitePool,
        /// Connections for queries.
        reader: SqlitePool,
    },
    /// A shared PostgreSQL database.
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the backend's pool for writing or reading; the body is
/// type-checked once per backend, so each gets its own driver types.
macro_rules! on_pool {
    ($store:expr, write, $pool:ident => $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite { writer: $pool, .. } => $body,
            $crate::store::Store::Postgres($pool) => $body,
        }
    };
    ($store:expr, read, $pool:ident => $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite { reader: $pool, .. } => $body,
            $crate::store::Store::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

enum Backend {
    Sqlite(SqliteConnectOptions),
    Postgres(PgConnectOptions),
}

impl Store {
    /// Connects to `url` and applies pending migrations.
    pub async fn connect(url: &str, durability: Durability) -> Result<Self, StartupError> {
        let store = match parse_url(url)? {
            Backend::Sqlite(options) => sqlite::connect(options, durability).await,
            Backend::Postgres(options) => Self::connect_postgres(options).await,
        }
        .with_context(|| format!("cannot open the database at DATABASE_URL={}", redact(url)))?;
        store.migrate().await?;
        Ok(store)
    }

    async fn connect_postgres(options: PgConnectOptions) -> anyhow::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(POSTGRES_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        Ok(Self::Postgres(pool))
    }

    /// Applies the embedded migrations of this backend.
    pub async fn migrate(&self) -> Result<(), StartupError> {
        let result = match self {
            Self::Sqlite { writer, .. } => sqlx::migrate!("migrations/sqlite").run(writer).await,
            Self::Postgres(pool) => sqlx::migrate!("migrations/postgres").run(pool).await,
        };
        result.context("cannot apply the database migrations")?;
        Ok(())
    }

    /// How the group-commit writers batch on this backend: SQLite has one writer (it serialises
    /// writes anyway); PostgreSQL overlaps several commits.
    pub fn writer_settings(&self) -> WriterSettings {
        let (writers, stat_shards) = match self {
            Self::Sqlite { .. } => (1, 1),
            Self::Postgres(_) => (POSTGRES_WRITERS, POSTGRES_STAT_SHARDS),
        };
        WriterSettings {
            max_batch: MAX_BATCH,
            writers,
            stat_shards,
            write_timeout: WRITE_TIMEOUT,
        }
    }

    /// Succeeds when the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        on_pool!(self, write, pool => sqlx::query("select 1").execute(pool).await.map(drop))
    }

    /// Closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        match self {
            Self::Sqlite { writer, reader } => {
                reader.close().await;
                writer.close().await;
            }
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

fn parse_url(url: &str) -> Result<Backend, StartupError> {
    let unparseable = |err: sqlx::Error| {
        StartupError::config(format!(
            "DATABASE_URL={} is not a valid database URL: {err}",
            redact(url)
        ))
    };
    if url.starts_with("sqlite:") {
        SqliteConnectOptions::from_str(url)
            .map(Backend::Sqlite)
            .map_err(unparseable)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        PgConnectOptions::from_str(url)
            .map(Backend::Postgres)
            .map_err(unparseable)
    } else {
        Err(StartupError::config(format!(
            "DATABASE_URL={} must start with sqlite: or postgres://",
            redact(url)
        )))
    }
}

/// The URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_passwords_only() {
        assert_eq!(redact("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite:x.db"), "sqlite:x.db");
    }

    #[test]
    fn unknown_schemes_are_configuration_errors() {
        for url in ["mysql://x", "x.db", "", "postgres//nope"] {
            let err = parse_url(url).err().expect(url);
            assert_eq!(err.exit_code(), 2, "{url}");
            assert!(err.to_string().contains("DATABASE_URL"), "{url}");
        }
    }

    #[test]
    fn both_sqlite_url_forms_parse() {
        for url in [
            "sqlite:///tmp/a.db",
            "sqlite:relative/a.db",
            "sqlite::memory:",
        ] {
            assert!(matches!(parse_url(url), Ok(Backend::Sqlite(_))), "{url}");
        }
    }
}
