//! Reading a SQLite log for `dash-events backup`, on a connection of its own opened read-only:
//! the source is never written, not even migrated. `VACUUM INTO` copies the log as one read
//! transaction sees it, so the copy is a consistent snapshot; in WAL mode a reader and the
//! writer do not block each other, so a live `serve` keeps committing meanwhile.

use std::path::{Path, PathBuf};

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};

use super::{Backend, StoreError, parse_url};

const PAGE_COUNT: &str = "pragma page_count";
const PAGE_SIZE: &str = "pragma page_size";
const HAS_EVENTS: &str =
    "select count(*) from sqlite_master where type = 'table' and name = 'events'";
const COUNT_EVENTS: &str = "select count(*) from events";
const VACUUM_INTO: &str = "vacuum into $1";

/// What a `DATABASE_URL` names, as far as a backup cares.
#[derive(Debug)]
pub enum BackupSource {
    /// A SQLite file (which may not exist).
    SqliteFile(PathBuf),
    /// A SQLite database in memory: there is nothing to back up.
    SqliteMemory,
    /// PostgreSQL, which has backup tools of its own.
    Postgres,
}

impl BackupSource {
    /// Reads `url` without connecting; an unknown scheme is `StoreError::InvalidUrl`.
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        match parse_url(url)? {
            Backend::Postgres(_) => Ok(Self::Postgres),
            // sqlx gives an in-memory database a made-up file name; the URL says it.
            Backend::Sqlite(_) if url.contains(":memory:") || url.contains("mode=memory") => {
                Ok(Self::SqliteMemory)
            }
            Backend::Sqlite(options) => Ok(Self::SqliteFile(options.get_filename().to_owned())),
        }
    }
}

/// A SQLite file opened read-only.
#[derive(Debug)]
pub struct ReadOnlyLog {
    connection: SqliteConnection,
}

impl ReadOnlyLog {
    /// Opens the SQLite file at `path` read-only; it is never created.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        Self::connect(SqliteConnectOptions::new().filename(path).read_only(true)).await
    }

    /// Opens a file that nothing else has open or will change, such as a backup before it is
    /// renamed into place: no lock is taken and no `-wal` or `-shm` file is made beside it.
    pub async fn open_unshared(path: &Path) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .read_only(true)
            .immutable(true);
        Self::connect(options).await
    }

    async fn connect(options: SqliteConnectOptions) -> Result<Self, StoreError> {
        Ok(Self {
            connection: options.connect().await?,
        })
    }

    /// Whether the file holds an `events` table, i.e. looks like a `dash-events` log.
    pub async fn holds_events(&mut self) -> Result<bool, StoreError> {
        let tables: i64 = sqlx::query_scalar(HAS_EVENTS)
            .fetch_one(&mut self.connection)
            .await?;
        Ok(tables > 0)
    }

    /// The size of the database now, in bytes (its pages, as a reader sees them): about what
    /// `VACUUM INTO` writes, which leaves free pages out.
    pub async fn size_bytes(&mut self) -> Result<u64, StoreError> {
        let pages: i64 = sqlx::query_scalar(PAGE_COUNT)
            .fetch_one(&mut self.connection)
            .await?;
        let page_size: i64 = sqlx::query_scalar(PAGE_SIZE)
            .fetch_one(&mut self.connection)
            .await?;
        Ok(u64::try_from(pages.saturating_mul(page_size)).unwrap_or_default())
    }

    /// The number of stored events.
    pub async fn count_events(&mut self) -> Result<u64, StoreError> {
        let events: i64 = sqlx::query_scalar(COUNT_EVENTS)
            .fetch_one(&mut self.connection)
            .await?;
        Ok(u64::try_from(events).unwrap_or_default())
    }

    /// Writes a consistent copy of the whole database to `target`, which must not exist or be
    /// empty. `target` must be an absolute path: the connection takes `file:` URIs, so a
    /// relative name could be read as one. SQLite does not sync the copy; the caller must.
    pub async fn vacuum_into(&mut self, target: &str) -> Result<(), StoreError> {
        sqlx::query(VACUUM_INTO)
            .bind(target)
            .execute(&mut self.connection)
            .await?;
        Ok(())
    }

    /// Closes the connection.
    pub async fn close(self) {
        let _ = self.connection.close().await;
    }
}
