//! PostgreSQL through a transaction pooler (PgBouncer in `pool_mode = transaction`), which hands
//! a server connection to a client for one transaction only.
//!
//! sqlx 0.8 runs every statement with bind parameters as two exchanges, each ended by a `Sync`:
//! `Parse`+`Describe`, then `Bind`+`Execute`. Outside a transaction the pooler may give the
//! second exchange another server connection, where the statement was never parsed (named:
//! "does not exist"), or where the unnamed statement is another client's, which then runs with
//! this client's parameters: a wrong answer, not an error. `statement-cache-capacity=0` alone
//! does not help: it only stops the reuse of names. So when `DATABASE_URL` carries
//! `statement-cache-capacity=0` (which a pooler needs anyway, since a cached name points to one
//! server connection), the store runs each statement in a transaction of its own, and the
//! migrations in one transaction under a transaction-level advisory lock; see
//! `docs/operations.md`, "Connection poolers".

use futures_util::future::BoxFuture;
use futures_util::stream::{self, BoxStream, StreamExt, TryStreamExt};
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgQueryResult, PgRow, PgStatement, PgTypeInfo};
use sqlx::{Describe, Either, Execute, Executor, Postgres, Transaction};

/// The `DATABASE_URL` parameter (sqlx's) whose value 0 says a transaction pooler is in between.
const CACHE_CAPACITY: &str = "statement-cache-capacity";

/// A PostgreSQL pool and whether every statement must run inside a transaction (`pinned`).
#[derive(Debug, Clone)]
pub struct PostgresPool {
    pool: PgPool,
    pinned: bool,
}

/// Whether `url` turns sqlx's statement cache off, the setting for a transaction pooler.
pub(super) fn behind_transaction_pooler(url: &str) -> bool {
    let Some((_, query)) = url.split_once('?') else {
        return false;
    };
    form_urlencoded::parse(query.as_bytes())
        .any(|(key, value)| key == CACHE_CAPACITY && value.parse::<usize>() == Ok(0))
}

/// The connect options; behind a transaction pooler without `extra_float_digits`, a startup
/// parameter PgBouncer refuses unless told to ignore it. It only shapes floats sent as text,
/// and the store reads every value in binary.
pub(super) fn connect_options(options: PgConnectOptions, pooled: bool) -> PgConnectOptions {
    if pooled {
        options.extra_float_digits(None)
    } else {
        options
    }
}

impl PostgresPool {
    /// Wraps `pool`; `pinned` runs each statement in a transaction of its own.
    pub(super) fn new(pool: PgPool, pinned: bool) -> Self {
        if pinned {
            tracing::info!(
                "{CACHE_CAPACITY}=0: each statement runs in a transaction of its own, \
                 as a transaction pooler needs"
            );
        }
        Self { pool, pinned }
    }

    /// A connection of the pool, for a transaction of the caller's.
    pub async fn acquire(&self) -> Result<PoolConnection<Postgres>, sqlx::Error> {
        self.pool.acquire().await
    }

    /// Begins a transaction on a connection of the pool.
    pub async fn begin(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        self.pool.begin().await
    }

    /// Closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Applies `migrator`'s pending migrations. Its own lock is session-level (taken and
    /// released by two statements, which a pooler may send to two server connections, leaving
    /// the lock held), so behind a pooler everything runs in one transaction under the same
    /// lock id taken at transaction level instead.
    pub(super) async fn migrate(&self, mut migrator: Migrator) -> Result<(), MigrateError> {
        if !self.pinned {
            return migrator.run(&self.pool).await;
        }
        let mut tx = self.pool.begin().await?;
        let database: String = sqlx::query_scalar("select current_database()")
            .fetch_one(&mut *tx)
            .await?;
        sqlx::query("select pg_advisory_xact_lock($1)")
            .bind(sqlx_migration_lock_id(&database))
            .execute(&mut *tx)
            .await?;
        migrator.set_locking(false);
        migrator.run(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The advisory lock id sqlx's migrator takes for `database` (`generate_lock_id` in
/// sqlx-postgres 0.8): the same id here makes a pooled start wait for a direct `migrate`.
fn sqlx_migration_lock_id(database: &str) -> i64 {
    0x3d32_ad9e * i64::from(crc32(database.as_bytes()))
}

/// CRC-32 (ISO-HDLC, the zlib one), bit by bit: it runs once per start.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Runs statements on the pool, each in a transaction of its own when pinned: `BEGIN` keeps
/// the pooler's server connection with this client until `COMMIT`, so `Parse` and `Bind` meet.
impl<'p> Executor<'p> for &'p PostgresPool {
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<PgQueryResult, PgRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        if !self.pinned {
            return self.pool.fetch_many(query);
        }
        // The rows are collected before the commit; the store reads pages, never unbounded.
        let pool = self.pool.clone();
        let results = async move {
            let mut tx = pool.begin().await?;
            let results: Vec<_> = tx.fetch_many(query).try_collect().await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(stream::iter(results.into_iter().map(Ok)))
        };
        stream::once(results).try_flatten().boxed()
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<PgRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        if !self.pinned {
            return self.pool.fetch_optional(query);
        }
        let pool = self.pool.clone();
        Box::pin(async move {
            let mut tx = pool.begin().await?;
            let row = tx.fetch_optional(query).await?;
            tx.commit().await?;
            Ok(row)
        })
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, Result<PgStatement<'q>, sqlx::Error>>
    where
        'p: 'e,
    {
        self.pool.prepare_with(sql, parameters)
    }

    fn describe<'e, 'q: 'e>(
        self,
        sql: &'q str,
    ) -> BoxFuture<'e, Result<Describe<Postgres>, sqlx::Error>>
    where
        'p: 'e,
    {
        self.pool.describe(sql)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_statement_cache_of_zero_means_a_pooler() {
        let cases = [
            ("postgres://u@h/db?statement-cache-capacity=0", true),
            (
                "postgres://u@h/db?sslmode=disable&statement-cache-capacity=0",
                true,
            ),
            ("postgres://u@h/db?statement-cache-capacity=100", false),
            ("postgres://u@h/db?statement-cache-capacity=", false),
            ("postgres://u@h/db?statement_cache_capacity=0", false),
            ("postgres://u@h/db", false),
            ("postgres://u@h/db?application-name=x", false),
        ];
        for (url, expected) in cases {
            assert_eq!(behind_transaction_pooler(url), expected, "{url}");
        }
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn every_postgres_migration_can_run_inside_one_transaction() {
        for migration in sqlx::migrate!("migrations/postgres").iter() {
            assert!(
                !migration.no_tx,
                "{} opts out of transactions",
                migration.version
            );
        }
    }
}
