//! The event store: one value chosen at runtime from `DATABASE_URL`, SQLite (the embedded default)
//! or PostgreSQL (production, several receivers sharing one table). Each backend has its own
//! embedded migrations; the queries are written once and expanded per backend by `on_pool!`.
//!
//! On PostgreSQL the query API may read a hot standby instead (`DATABASE_READ_URL`, see
//! `replica`): `on_pool!(…, read, …)` reads there, everything else stays on the primary, and a
//! reader that must see what was just acknowledged (the notification worker, the outbox listing)
//! holds `primary()`.

mod audit_conditions;
mod backup;
mod batch;
mod copy;
mod error;
mod events;
mod filters;
mod group_statement;
mod group_totals;
mod groups;
mod hours;
mod integrity;
mod notifications;
mod outbox;
mod planner;
mod pooler;
mod prune;
mod read_work;
mod replica;
mod rollup;
mod schema;
mod search;
mod sqlite;
mod stats;
mod stream;
mod timeline;
mod warm;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

pub use backup::{BackupSource, ReadOnlyLog};
pub use batch::PendingNotification;
pub use copy::{CopiedEvent, CopiedNotification, Identity, identity};
pub use error::{StoreError, is_deadlock};
pub use events::{InsertOutcome, StoredEvent};
pub use filters::IdFilter;
pub use groups::{Measures, Scope};
pub use integrity::StoredRow;
pub use notifications::{
    NotificationFilter, NotificationRow, NotificationState, OutboxCounts, UnknownState,
};
pub use outbox::{AttemptResult, Claim, ClaimedNotification, Revival};
pub use planner::{FOLD_LOCK, maintain_periodically};
pub use pooler::PostgresPool;
pub use prune::PRUNE_BATCH;
pub use replica::{ReplicaLag, check_read_url};
pub use rollup::DAY_US;
pub use schema::Schema;
pub use search::{BUILD_BATCH, SearchIndex};
pub use sqlite::Durability;
pub use stats::{Stats, TypeStats};
pub use stream::StreamPage;

/// How long a request waits for a database connection before answering 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// PostgreSQL connections per receiver: enough for both cores' worth of concurrent requests
/// waiting on commits, small enough that several receivers fit under `max_connections = 100`.
const POSTGRES_CONNECTIONS: u32 = 16;

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
    /// A shared PostgreSQL database, directly or through a transaction pooler.
    Postgres {
        /// Every write, and every read but the query API's when there is a replica.
        primary: PostgresPool,
        /// A hot standby of the primary for the query API (`DATABASE_READ_URL`), if any.
        replica: Option<PostgresPool>,
    },
}

/// Runs `$body` with `$pool` bound to the backend's pool for writing or reading; the body is
/// type-checked once per backend, so each gets its own driver types. A read goes to the replica
/// when there is one, so it may lag behind the writes.
macro_rules! on_pool {
    ($store:expr, write, $pool:ident => $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite { writer: $pool, .. } => $body,
            $crate::store::Store::Postgres { primary: $pool, .. } => $body,
        }
    };
    ($store:expr, read, $pool:ident => $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite { reader: $pool, .. } => $body,
            $crate::store::Store::Postgres { primary, replica } => {
                let $pool = replica.as_ref().unwrap_or(primary);
                $body
            }
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
    pub async fn connect(url: &str, durability: Durability) -> Result<Self, StoreError> {
        let store = match parse_url(url)? {
            Backend::Sqlite(options) => sqlite::connect(options, durability).await,
            Backend::Postgres(options) => {
                Self::connect_postgres(options, pooler::behind_transaction_pooler(url)).await
            }
        }
        .map_err(|err| StoreError::Open {
            url: redact(url),
            source: Arc::new(err),
        })?;
        store.migrate().await?;
        Ok(store)
    }

    async fn connect_postgres(
        options: PgConnectOptions,
        pooled: bool,
    ) -> Result<Self, sqlx::Error> {
        Ok(Self::Postgres {
            primary: postgres_pool(options, pooled).await?,
            replica: None,
        })
    }

    /// This store with every read on the primary: for a reader that must see what was just
    /// acknowledged, which a replica may not have replayed yet.
    pub fn primary(&self) -> Self {
        match self {
            Self::Sqlite { .. } => self.clone(),
            Self::Postgres { primary, .. } => Self::Postgres {
                primary: primary.clone(),
                replica: None,
            },
        }
    }

    /// Applies the embedded migrations of this backend.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let result = match self {
            Self::Sqlite { writer, .. } => sqlx::migrate!("migrations/sqlite").run(writer).await,
            Self::Postgres { primary, .. } => {
                primary.migrate(sqlx::migrate!("migrations/postgres")).await
            }
        };
        result.map_err(|err| StoreError::Migrate(Arc::new(err)))
    }

    /// Whether this is the embedded SQLite backend, which has a single writer connection.
    pub fn is_sqlite(&self) -> bool {
        matches!(self, Self::Sqlite { .. })
    }

    /// Succeeds when the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(self, write, pool => Ok(sqlx::query("select 1").execute(pool).await.map(drop)?))
    }

    /// Closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        match self {
            Self::Sqlite { writer, reader } => {
                reader.close().await;
                writer.close().await;
            }
            Self::Postgres { primary, replica } => {
                if let Some(replica) = replica {
                    replica.close().await;
                }
                primary.close().await;
            }
        }
    }
}

/// A pool on `options`; `pooled` when a transaction pooler stands between (see `pooler`).
async fn postgres_pool(
    options: PgConnectOptions,
    pooled: bool,
) -> Result<PostgresPool, sqlx::Error> {
    let pool = PgPoolOptions::new()
        .max_connections(POSTGRES_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(pooler::connect_options(options, pooled))
        .await?;
    Ok(PostgresPool::new(pool, pooled))
}

fn parse_url(url: &str) -> Result<Backend, StoreError> {
    let unparseable = |err: sqlx::Error| {
        StoreError::InvalidUrl(format!(
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
        Err(StoreError::InvalidUrl(format!(
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
            assert!(matches!(err, StoreError::InvalidUrl(_)), "{url}");
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
