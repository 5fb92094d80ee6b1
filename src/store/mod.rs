//! The event store: one value chosen at runtime from `DATABASE_URL`, SQLite (the embedded default)
//! or PostgreSQL (production, several receivers sharing one table). Each backend has its own
//! embedded migrations; the queries are written once and expanded per backend by `on_pool!`.

mod batch;
mod copy;
mod error;
mod events;
mod hours;
mod integrity;
mod notifications;
mod outbox;
mod planner;
mod prune;
mod rollup;
mod schema;
mod sqlite;
mod stats;
mod stream;
mod timeline;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

pub use batch::PendingNotification;
pub use copy::{CopiedEvent, CopiedNotification, Identity, identity};
pub use error::{StoreError, is_deadlock};
pub use events::{InsertOutcome, StoredEvent};
pub use integrity::StoredRow;
pub use notifications::{
    NotificationFilter, NotificationRow, NotificationState, OutboxCounts, UnknownState,
};
pub use outbox::{AttemptResult, Claim, ClaimedNotification, Revival};
pub use planner::maintain_periodically;
pub use prune::PRUNE_BATCH;
pub use rollup::DAY_US;
pub use schema::Schema;
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
    pub async fn connect(url: &str, durability: Durability) -> Result<Self, StoreError> {
        let store = match parse_url(url)? {
            Backend::Sqlite(options) => sqlite::connect(options, durability).await,
            Backend::Postgres(options) => Self::connect_postgres(options).await,
        }
        .map_err(|err| StoreError::Open {
            url: redact(url),
            source: Arc::new(err),
        })?;
        store.migrate().await?;
        Ok(store)
    }

    async fn connect_postgres(options: PgConnectOptions) -> Result<Self, sqlx::Error> {
        let pool = PgPoolOptions::new()
            .max_connections(POSTGRES_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        Ok(Self::Postgres(pool))
    }

    /// Applies the embedded migrations of this backend.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let result = match self {
            Self::Sqlite { writer, .. } => sqlx::migrate!("migrations/sqlite").run(writer).await,
            Self::Postgres(pool) => sqlx::migrate!("migrations/postgres").run(pool).await,
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
            Self::Postgres(pool) => pool.close().await,
        }
    }
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
