//! The notification outbox in the database: rows added in the event's own insert transaction,
//! claimed by workers under a lease, and marked sent, pending again (with the next attempt's
//! time) or dead. On PostgreSQL the claim skips rows another receiver's worker has locked, so
//! several receivers sharing one database never claim the same row; on SQLite claims go through
//! the single writer connection, like every write.

use std::collections::HashSet;

use super::StoreError;
use sqlx::{Connection, Database, Encode, QueryBuilder, Type};

use super::batch::PendingNotification;
use super::copy::{self, CopiedNotification};
use super::notifications::{NotificationRow, NotificationState, SELECT_ONE};
use super::{Store, on_pool};

const INSERT_NOTIFICATIONS: &str = "insert into notifications \
    (event_id, rule, state, attempts, next_attempt_us, created_us) ";

// The inner select locks the rows it picks and skips those locked by a concurrent claim; a row
// another claim has just leased no longer matches when it is re-checked after that claim commits.
// A due time or lease beyond $4 was set before the clock stepped back (see `Claim`): due now.
const CLAIM_PG: &str = "update notifications set lease_until_us = $1, attempts = attempts + 1 \
    where id in (select id from notifications where state = 'pending' \
    and (next_attempt_us <= $2 or next_attempt_us > $4) \
    and (lease_until_us is null or lease_until_us < $2 or lease_until_us > $4) \
    order by next_attempt_us limit $3 for update skip locked) returning id, event_id, rule, attempts";
// SQLite has no row locks (nor `for update`); its single writer connection serialises claims.
const CLAIM_SQLITE: &str = "update notifications set lease_until_us = $1, attempts = attempts + 1 \
    where id in (select id from notifications where state = 'pending' \
    and (next_attempt_us <= $2 or next_attempt_us > $4) \
    and (lease_until_us is null or lease_until_us < $2 or lease_until_us > $4) \
    order by next_attempt_us limit $3) returning id, event_id, rule, attempts";

// Each result applies only while the claim's lease holds: a worker that overran its lease (and
// whose row another worker has claimed since) must not overwrite the newer result.
const MARK_SENT: &str = "update notifications set state = 'sent', sent_us = $3, \
    lease_until_us = null, last_error = null where id = $1 and lease_until_us = $2";
const MARK_PENDING: &str = "update notifications set state = 'pending', next_attempt_us = $3, \
    last_error = $4, lease_until_us = null where id = $1 and lease_until_us = $2";
const MARK_DEAD: &str = "update notifications set state = 'dead', last_error = $3, \
    lease_until_us = null where id = $1 and lease_until_us = $2";

const REVIVE_DEAD: &str = "update notifications set state = 'pending', attempts = 0, \
    next_attempt_us = $2, lease_until_us = null where id = $1 and state = 'dead'";
const SELECT_STATE: &str = "select state from notifications where id = $1";
const DELETE_OF_EVENTS: &str = "delete from notifications where event_id in (";

/// One claim of due notifications. Times are on the claiming worker's clock, which NTP may have
/// stepped back since it set a row's due time or lease. No worker ever sets either further ahead
/// than `implausible_after_us`, so a row beyond it was set before such a step, and is due now
/// instead of after the step's length.
#[derive(Debug, Clone, Copy)]
pub struct Claim {
    /// The claiming clock's now.
    pub now_us: i64,
    /// When the claimed rows' lease runs out.
    pub lease_until_us: i64,
    /// Later than any due time or lease a worker sets from `now_us`.
    pub implausible_after_us: i64,
    /// At most this many rows.
    pub limit: i64,
}

/// A notification a worker has claimed and must now send.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedNotification {
    /// The row id.
    pub id: i64,
    /// The event to send.
    pub event_id: String,
    /// The rule that decides where.
    pub rule: String,
    /// Attempts so far, this one included.
    pub attempts: i32,
}

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptResult {
    /// The endpoint accepted it at this time (µs).
    Sent { at_us: i64 },
    /// It failed and is tried again at `next_us`.
    Retry { next_us: i64, error: String },
    /// It failed for the last time (or can never succeed).
    Dead { error: String },
}

/// What `retry_notification` did.
#[derive(Debug, Clone)]
pub enum Revival {
    /// The dead notification is pending again; the row as the revival left it.
    Revived(NotificationRow),
    /// It exists but is not dead.
    NotDead,
    /// There is no such notification.
    NotFound,
}

impl Store {
    /// Claims the notifications due at `claim.now_us` (at most `claim.limit`) until
    /// `claim.lease_until_us`, counting the attempt; another claim skips them until the lease
    /// runs out.
    pub async fn claim_notifications(
        &self,
        claim: Claim,
    ) -> Result<Vec<ClaimedNotification>, StoreError> {
        let sql = match self {
            Self::Sqlite { .. } => CLAIM_SQLITE,
            Self::Postgres { .. } => CLAIM_PG,
        };
        on_pool!(self, write, pool => {
            Ok(sqlx::query_as(sql)
                .bind(claim.lease_until_us)
                .bind(claim.now_us)
                .bind(claim.limit)
                .bind(claim.implausible_after_us)
                .fetch_all(pool)
                .await?)
        })
    }

    /// Records the results of the attempts made under the claim `lease_until_us`, in one
    /// transaction: one commit (on SQLite one fsync, on the connection ingest also writes
    /// through) per round of sends rather than per notification.
    pub async fn record_attempts(
        &self,
        lease_until_us: i64,
        results: &[(i64, AttemptResult)],
    ) -> Result<(), StoreError> {
        on_pool!(self, write, pool => {
            let mut conn = pool.acquire().await?;
            let recorded: Result<(), sqlx::Error> = async {
                let mut tx = Connection::begin(&mut *conn).await?;
                for (id, result) in results {
                    let query = match result {
                        AttemptResult::Sent { at_us } => {
                            sqlx::query(MARK_SENT).bind(*id).bind(lease_until_us).bind(*at_us)
                        }
                        AttemptResult::Retry { next_us, error } => sqlx::query(MARK_PENDING)
                            .bind(*id)
                            .bind(lease_until_us)
                            .bind(*next_us)
                            .bind(error.as_str()),
                        AttemptResult::Dead { error } => {
                            sqlx::query(MARK_DEAD).bind(*id).bind(lease_until_us).bind(error.as_str())
                        }
                    };
                    query.execute(&mut *tx).await?;
                }
                tx.commit().await
            }
            .await;
            if recorded.is_err() {
                // As in `insert_batch`: a SQLite connection whose transaction failed may be out
                // of step with sqlx's count of open transactions; never reuse it.
                let _ = conn.close().await;
            }
            Ok(recorded?)
        })
    }

    /// Makes a dead notification pending again, due at `now_us`, with its attempts reset.
    pub async fn retry_notification(&self, id: i64, now_us: i64) -> Result<Revival, StoreError> {
        on_pool!(self, write, pool => {
            // The row is read back in the revival's transaction: a worker (of this receiver or
            // another) claiming it right after must not change what this answer reports.
            let mut tx = pool.begin().await?;
            let revived = sqlx::query(REVIVE_DEAD).bind(id).bind(now_us).execute(&mut *tx).await?;
            let revival = if revived.rows_affected() > 0 {
                let row = sqlx::query_as(SELECT_ONE).bind(id).fetch_one(&mut *tx).await?;
                Revival::Revived(row)
            } else {
                let state: Option<NotificationState> =
                    sqlx::query_scalar(SELECT_STATE).bind(id).fetch_optional(&mut *tx).await?;
                if state.is_some() { Revival::NotDead } else { Revival::NotFound }
            };
            tx.commit().await?;
            Ok(revival)
        })
    }
}

/// The notifications a batch records in its transaction.
#[derive(Debug, Clone, Copy)]
pub(super) enum Outbox<'a> {
    /// New rows, pending, for the events the batch inserts (ingest).
    Due(&'a [PendingNotification<'a>]),
    /// Rows copied whole from another database (`dash-events copy`), for the events the batch
    /// inserts or already held with the same content.
    Copied(&'a [CopiedNotification]),
}

/// The statements that record `outbox`, given the ids the batch inserted (`fresh`) and those it
/// now holds with the content given (`held`: the fresh ones and those already stored the same).
pub(super) fn statements<'a, DB>(
    outbox: Outbox<'a>,
    fresh: &HashSet<&str>,
    held: &HashSet<&str>,
) -> Vec<QueryBuilder<'a, DB>>
where
    DB: Database,
    i32: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
    Option<i64>: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
    Option<&'a str>: Encode<'a, DB> + Type<DB>,
    NotificationState: Encode<'a, DB> + Type<DB>,
{
    match outbox {
        Outbox::Due(due) => {
            // Only events this transaction inserted: a redelivery never adds a notification.
            let new: Vec<PendingNotification> = due
                .iter()
                .filter(|n| fresh.contains(n.event_id))
                .copied()
                .collect();
            insert_notifications(&new).into_iter().collect()
        }
        Outbox::Copied(rows) => {
            // Not those of a conflicting id: the target's rows there are another event's.
            let of_held: Vec<&CopiedNotification> = rows
                .iter()
                .filter(|n| held.contains(n.event_id.as_str()))
                .collect();
            copy::upsert_notifications(&of_held)
        }
    }
}

/// The insert of `notifications` (of newly stored events), pending and due at once; `None`
/// when there are none (then the batch runs no extra statement).
pub(super) fn insert_notifications<'a, DB>(
    notifications: &[PendingNotification<'a>],
) -> Option<QueryBuilder<'a, DB>>
where
    DB: Database,
    i32: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
    NotificationState: Encode<'a, DB> + Type<DB>,
{
    if notifications.is_empty() {
        return None;
    }
    let mut insert = QueryBuilder::new(INSERT_NOTIFICATIONS);
    insert.push_values(notifications, |mut row, notification| {
        row.push_bind(notification.event_id)
            .push_bind(notification.rule)
            .push_bind(NotificationState::Pending)
            .push_bind(0_i32)
            .push_bind(notification.due_us)
            .push_bind(notification.due_us);
    });
    // Only newly inserted events get here, so a conflict means a row left by an event deleted
    // behind the service's back: keep it rather than fail the batch.
    insert.push(" on conflict (event_id, rule) do nothing");
    Some(insert)
}

/// The delete of the notifications of `event_ids` (whose events a prune is deleting).
pub(super) fn delete_of_events<'a, DB>(event_ids: &'a [String]) -> QueryBuilder<'a, DB>
where
    DB: Database,
    &'a str: Encode<'a, DB> + Type<DB>,
{
    let mut delete = QueryBuilder::new(DELETE_OF_EVENTS);
    let mut listed = delete.separated(", ");
    for id in event_ids {
        listed.push_bind(id.as_str());
    }
    delete.push(")");
    delete
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::notifications::tests::assert_only_states_quoted;

    #[test]
    fn the_statements_name_only_known_states() {
        for sql in [
            CLAIM_PG,
            CLAIM_SQLITE,
            MARK_SENT,
            MARK_PENDING,
            MARK_DEAD,
            REVIVE_DEAD,
        ] {
            assert_only_states_quoted(sql);
        }
    }
}
