//! Opening both ends of a copy: the source read-only and never migrated, the target without
//! migrating it until its schema has been checked (`schema`); and what tells two databases apart
//! whatever URLs name them, so that a copy onto its own source is refused before anything is
//! opened for writing.

use std::os::unix::fs::MetadataExt;
use std::sync::Arc;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Connection, PgConnection};

use crate::store::pooler::{self, PostgresPool};
use crate::store::schema::{self, Schema};
use crate::store::{
    ACQUIRE_TIMEOUT, Backend, Durability, Store, StoreError, parse_url, redact, sqlite,
};

const IDENTITY_PG: &str = "select (select system_identifier from pg_control_system()), \
    (select cast(oid as bigint) from pg_database where datname = current_database())";

/// Connections to the source: one reads the next page while the target writes the last.
const SOURCE_CONNECTIONS: u32 = 2;

/// What tells two databases apart, whatever URLs name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    /// A SQLite file: its device and inode.
    File { device: u64, inode: u64 },
    /// A PostgreSQL database: its cluster's system identifier and its oid there.
    Postgres { system: i64, database: i64 },
}

impl Store {
    /// Opens the database at `url` read-only, without migrating it: SQLite opens the file with
    /// `SQLITE_OPEN_READONLY` (a missing file is an error, not a new database) and without
    /// setting a journal mode or checkpointing, which would write; PostgreSQL sessions are
    /// `default_transaction_read_only`, so the server refuses any write.
    pub async fn open_read_only(url: &str) -> Result<Self, StoreError> {
        let opened = match parse_url(url)? {
            Backend::Sqlite(options) => read_only_sqlite(options).await,
            Backend::Postgres(options) => {
                read_only_postgres(options, pooler::behind_transaction_pooler(url)).await
            }
        };
        opened.map_err(|err| open_error(url, err))
    }

    /// Opens the database at `url` for writing (a SQLite file is created if missing) without
    /// applying migrations: `schema` first, then `migrate`.
    pub async fn open_unmigrated(url: &str) -> Result<Self, StoreError> {
        let opened = match parse_url(url)? {
            Backend::Sqlite(options) => sqlite::connect(options, Durability::Full).await,
            Backend::Postgres(options) => {
                Self::connect_postgres(options, pooler::behind_transaction_pooler(url)).await
            }
        };
        opened.map_err(|err| open_error(url, err))
    }

    /// How the migrations this database holds compare with this binary's.
    pub async fn schema(&self) -> Result<Schema, StoreError> {
        let applied = schema::applied(self).await?;
        Ok(schema::compare(&applied, &schema::known(self)))
    }
}

/// The identity of the database at `url`; `None` for a SQLite file that does not exist (yet).
pub async fn identity(url: &str) -> Result<Option<Identity>, StoreError> {
    match parse_url(url)? {
        Backend::Sqlite(options) => Ok(file_identity(&options)),
        Backend::Postgres(options) => {
            let mut conn = PgConnection::connect_with(&read_only(options))
                .await
                .map_err(|err| open_error(url, err))?;
            let (system, database) = sqlx::query_as(IDENTITY_PG).fetch_one(&mut conn).await?;
            let _ = conn.close().await;
            Ok(Some(Identity::Postgres { system, database }))
        }
    }
}

fn open_error(url: &str, err: sqlx::Error) -> StoreError {
    StoreError::Open {
        url: redact(url),
        source: Arc::new(err),
    }
}

fn file_identity(options: &SqliteConnectOptions) -> Option<Identity> {
    let metadata = std::fs::metadata(options.get_filename()).ok()?;
    Some(Identity::File {
        device: metadata.dev(),
        inode: metadata.ino(),
    })
}

async fn read_only_sqlite(options: SqliteConnectOptions) -> Result<Store, sqlx::Error> {
    let options = options.read_only(true).busy_timeout(sqlite::BUSY_TIMEOUT);
    let pool = SqlitePoolOptions::new()
        .max_connections(SOURCE_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await?;
    // The same read-only pool for both roles: a write would fail rather than find a writer.
    Ok(Store::Sqlite {
        writer: pool.clone(),
        reader: pool,
    })
}

async fn read_only_postgres(options: PgConnectOptions, pooled: bool) -> Result<Store, sqlx::Error> {
    let pool = PgPoolOptions::new()
        .max_connections(SOURCE_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(pooler::connect_options(read_only(options), pooled))
        .await?;
    Ok(Store::Postgres {
        primary: PostgresPool::new(pool, pooled),
        replica: None,
    })
}

fn read_only(options: PgConnectOptions) -> PgConnectOptions {
    options.options([("default_transaction_read_only", "on")])
}
