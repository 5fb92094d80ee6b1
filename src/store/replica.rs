//! A hot standby of the PostgreSQL primary for the query API (`DATABASE_READ_URL`): opening it,
//! and measuring how far its replay is behind the primary.
//!
//! Only the reads of `on_pool!(…, read, …)` go there: events, bodies, stats, timeline and export,
//! which may show the log as it was a moment ago. Writes, the outbox, the live stream (whose
//! positions come from the primary's snapshots, see `stream`) and readiness stay on the primary.

use std::str::FromStr;
use std::sync::Arc;

use sqlx::postgres::PgConnectOptions;

use super::{Store, StoreError, postgres_pool, redact};

/// The primary's WAL position, as text: `pg_lsn` has no cast to a number.
const PRIMARY_LSN: &str = "select cast(pg_current_wal_lsn() as text)";
/// On the replica: the bytes of WAL up to `$1` (the primary's position) not replayed yet, and the
/// age of the newest transaction replayed. Both are null on a server that is not a standby.
const REPLAY_BEHIND: &str = "select \
    cast(pg_wal_lsn_diff(cast($1 as pg_lsn), pg_last_wal_replay_lsn()) as float8), \
    cast(extract(epoch from now() - pg_last_xact_replay_timestamp()) as float8)";

/// How far the query API's reads are behind the primary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplicaLag {
    /// Bytes of the primary's WAL the replica has not replayed; `None` when it cannot be measured
    /// (the primary does not answer, or the replica is no standby).
    pub bytes: Option<f64>,
    /// 0 once the replica has replayed everything the primary wrote; before that, the age of the
    /// newest transaction it replayed (how old the freshest answer may be). `None` when unknown.
    pub seconds: Option<f64>,
}

impl ReplicaLag {
    /// No lag: the reads are on the primary.
    const NONE: Self = Self {
        bytes: Some(0.0),
        seconds: Some(0.0),
    };

    fn measured(bytes: Option<f64>, replayed_age: Option<f64>) -> Self {
        // The primary's position is read first: the replica may have replayed past it since.
        let bytes = bytes.map(|behind| behind.max(0.0));
        let seconds = match bytes {
            Some(0.0) => Some(0.0),
            Some(_) => replayed_age.map(|age| age.max(0.0)),
            None => None,
        };
        Self { bytes, seconds }
    }
}

/// Refuses a `DATABASE_READ_URL` that is not PostgreSQL, or one beside a SQLite `DATABASE_URL`
/// (SQLite has no replicas), before either database is opened.
pub fn check_read_url(url: &str, read_url: Option<&str>) -> Result<(), StoreError> {
    let Some(read_url) = read_url else {
        return Ok(());
    };
    parse_read_url(read_url)?;
    if url.starts_with("sqlite:") {
        return Err(sqlite_has_no_replicas());
    }
    Ok(())
}

fn sqlite_has_no_replicas() -> StoreError {
    StoreError::InvalidUrl(
        "DATABASE_READ_URL is set but DATABASE_URL is SQLite: a read replica is a PostgreSQL \
         hot standby of a PostgreSQL DATABASE_URL"
            .into(),
    )
}

impl Store {
    /// Sends the query API's reads to the hot standby at `url` (`DATABASE_READ_URL`), once it
    /// answers; `None` leaves them on the primary. Refused for SQLite, which has no replicas.
    pub async fn with_read_url(self, url: Option<&str>) -> Result<Self, StoreError> {
        let Some(url) = url else {
            return Ok(self);
        };
        let options = parse_read_url(url)?;
        let Self::Postgres { primary, .. } = self else {
            return Err(sqlite_has_no_replicas());
        };
        let replica = postgres_pool(options, super::pooler::behind_transaction_pooler(url))
            .await
            .map_err(|err| StoreError::ReplicaOpen {
                url: redact(url),
                source: Arc::new(err),
            })?;
        Ok(Self::Postgres {
            primary,
            replica: Some(replica),
        })
    }

    /// Whether the query API reads a replica.
    pub fn has_replica(&self) -> bool {
        matches!(
            self,
            Self::Postgres {
                replica: Some(_),
                ..
            }
        )
    }

    /// How far the query API's reads are behind the primary; an error when the replica does not
    /// answer.
    pub async fn replica_lag(&self) -> Result<ReplicaLag, StoreError> {
        let Self::Postgres {
            primary,
            replica: Some(replica),
        } = self
        else {
            return Ok(ReplicaLag::NONE);
        };
        let primary_lsn: Option<String> = sqlx::query_scalar(PRIMARY_LSN)
            .fetch_one(primary)
            .await
            .ok();
        let (bytes, replayed_age): (Option<f64>, Option<f64>) = sqlx::query_as(REPLAY_BEHIND)
            .bind(primary_lsn)
            .fetch_one(replica)
            .await?;
        Ok(ReplicaLag::measured(bytes, replayed_age))
    }
}

fn parse_read_url(url: &str) -> Result<PgConnectOptions, StoreError> {
    let refused =
        |why: String| StoreError::InvalidUrl(format!("DATABASE_READ_URL={} {why}", redact(url)));
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(refused("must start with postgres://".into()));
    }
    PgConnectOptions::from_str(url)
        .map_err(|err| refused(format!("is not a valid database URL: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_zero_once_everything_is_replayed_and_the_replay_age_before() {
        let caught_up = ReplicaLag::measured(Some(0.0), Some(600.0));
        assert_eq!(caught_up.seconds, Some(0.0), "an idle primary is no lag");
        let overtaken = ReplicaLag::measured(Some(-120.0), Some(600.0));
        assert_eq!((overtaken.bytes, overtaken.seconds), (Some(0.0), Some(0.0)));
        let behind = ReplicaLag::measured(Some(4096.0), Some(2.5));
        assert_eq!((behind.bytes, behind.seconds), (Some(4096.0), Some(2.5)));
        let unknown = ReplicaLag::measured(None, Some(2.5));
        assert_eq!((unknown.bytes, unknown.seconds), (None, None));
    }

    #[test]
    fn read_urls_other_than_postgres_are_configuration_errors_naming_the_variable() {
        for url in ["sqlite:x.db", "mysql://x", "", "postgres//nope"] {
            let err = parse_read_url(url).expect_err(url);
            assert!(matches!(err, StoreError::InvalidUrl(_)), "{url}");
            assert!(err.to_string().contains("DATABASE_READ_URL"), "{url}");
        }
        assert!(parse_read_url("postgresql://u:pw@h/db").is_ok());
    }
}
