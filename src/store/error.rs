//! `StoreError`, the one error of the store, and the line between a failure worth retrying (the
//! database is busy, full, unreachable or slow: 503, so Dash retries) and a bug (a query the
//! database rejects, a value that does not decode: 500, logged, because retrying a bug forever
//! only hides it).

use std::sync::Arc;
use std::time::Duration;

use sqlx::error::DatabaseError;

/// Why the store could not open or answer. Whether a failure is worth retrying (a 503) or a bug
/// (a 500) is `is_transient`'s call.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// `DATABASE_URL` is not a database URL this service knows: the operator must change it.
    #[error("{0}")]
    InvalidUrl(String),
    /// The database could not be opened or reached at start.
    #[error("cannot open the database at DATABASE_URL={url}")]
    Open {
        /// The URL, without its password.
        url: String,
        /// Why.
        #[source]
        source: Arc<sqlx::Error>,
    },
    /// The read replica could not be opened or reached at start.
    #[error("cannot open the read replica at DATABASE_READ_URL={url}")]
    ReplicaOpen {
        /// The URL, without its password.
        url: String,
        /// Why.
        #[source]
        source: Arc<sqlx::Error>,
    },
    /// The embedded migrations could not be applied.
    #[error("cannot apply the database migrations")]
    Migrate(#[source] Arc<sqlx::migrate::MigrateError>),
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

impl StoreError {
    /// Whether this is a deadlock or serialization failure, after which the transaction may
    /// simply run again.
    pub fn is_deadlock(&self) -> bool {
        matches!(self, Self::Database(err) if is_deadlock(err))
    }

    /// Whether the same operation may succeed later: the answer is then 503 with `Retry-After`.
    /// Everything else is a bug or a damaged database, which a retry cannot mend.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Database(err) => is_transient(err),
            Self::Open { .. }
            | Self::ReplicaOpen { .. }
            | Self::Timeout(_)
            | Self::WriterStopped
            | Self::WritesFailing => true,
            Self::InvalidUrl(_) | Self::Migrate(_) => false,
        }
    }
}

/// Sorts a driver error by cause. Pool exhaustion, I/O, a lost connection and the database's
/// own "busy, full, shutting down, try again" codes are transient; decode and protocol errors,
/// and the database rejecting a statement, are bugs.
fn is_transient(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => is_transient_database_error(db.as_ref()),
        _ => false,
    }
}

fn is_transient_database_error(db: &dyn DatabaseError) -> bool {
    let Some(code) = db.code() else {
        return false;
    };
    // A PostgreSQL SQLSTATE has five characters; SQLite's extended result codes have at most four
    // digits.
    if code.len() == 5 {
        is_transient_sqlstate(&code)
    } else {
        code.parse::<i32>().is_ok_and(is_transient_sqlite_code)
    }
}

/// PostgreSQL: the classes about the connection and the server rather than the statement:
/// connection exceptions (08), a refused login (28), a database that does not exist (yet) (3D),
/// transaction rollbacks such as deadlocks and serialization failures (40), insufficient
/// resources such as a full disk or too many connections (53), an object not in the state
/// needed, such as a database not accepting connections or a lock not available (55), operator
/// intervention such as a shutdown or a cancelled statement (57), system errors such as I/O
/// (58), and a read-only transaction on a standby (25006).
fn is_transient_sqlstate(code: &str) -> bool {
    matches!(
        code.get(..2),
        Some("08" | "28" | "3D" | "40" | "53" | "55" | "57" | "58")
    ) || code == "25006"
}

/// SQLite: the primary result code (the low byte of an extended code). BUSY (5), LOCKED (6),
/// NOMEM (7), READONLY (8), INTERRUPT (9), IOERR (10), FULL (13), CANTOPEN (14) and PROTOCOL
/// (15) come from the machine, not from the statement.
fn is_transient_sqlite_code(code: i32) -> bool {
    matches!(code & 0xff, 5..=10 | 13..=15)
}

/// Two receivers inserting overlapping ids (or a prune and a batch) can deadlock in PostgreSQL;
/// the transaction is safe to retry.
pub fn is_deadlock(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .and_then(|db| db.code())
        .is_some_and(|code| code == "40P01" || code == "40001")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_codes_of_the_machine_are_transient_and_rejections_are_bugs() {
        for code in [
            "08006", "28P01", "3D000", "40P01", "40001", "53100", "53300", "55000", "55P03",
            "57P01", "57014", "25006", "58030",
        ] {
            assert!(is_transient_sqlstate(code), "{code}");
        }
        for code in ["42P01", "42601", "22P02", "23505", "0A000", "XX000"] {
            assert!(!is_transient_sqlstate(code), "{code}");
        }
    }

    #[test]
    fn sqlite_codes_of_the_machine_are_transient_and_rejections_are_bugs() {
        // BUSY, LOCKED, IOERR_WRITE (778), FULL, CANTOPEN, READONLY
        for code in [5, 6, 778, 13, 14, 8] {
            assert!(is_transient_sqlite_code(code), "{code}");
        }
        // ERROR (no such table), CORRUPT, CONSTRAINT, MISMATCH, MISUSE
        for code in [1, 11, 19, 2067, 20, 21] {
            assert!(!is_transient_sqlite_code(code), "{code}");
        }
    }

    #[test]
    fn pool_and_io_failures_are_transient_and_decode_failures_are_bugs() {
        assert!(is_transient(&sqlx::Error::PoolTimedOut));
        assert!(is_transient(&sqlx::Error::Io(std::io::Error::other(
            "disk"
        ))));
        assert!(!is_transient(&sqlx::Error::RowNotFound));
        assert!(!is_transient(&sqlx::Error::ColumnNotFound("x".into())));
        assert!(!is_transient(&sqlx::Error::Protocol(
            "unexpected message".into()
        )));
        assert!(StoreError::WritesFailing.is_transient());
        assert!(!StoreError::InvalidUrl("x".into()).is_transient());
    }
}
