//! Deleting events older than a cutoff, in small transactions so that ingest never waits long:
//! each takes the oldest `PRUNE_BATCH` events of one type (through the type/time index), deletes
//! them, their words in the search index and their notifications, subtracts them from their days' and hours' totals, and drops the
//! totals of a day or hour left empty — all in the one transaction, so `/stats` and
//! `/stats/timeline` always agree with the events table. On SQLite each batch borrows the single
//! writer connection for one short transaction and gives it back, so the group-commit writer
//! takes turns with it.

use super::StoreError;
use std::collections::{BTreeMap, BTreeSet};

use sqlx::{Connection, Database, Encode, QueryBuilder, Type};

use super::batch::{UPSERT_STATS, UPSERT_STATS_CONFLICT};
use super::group_totals::{self, GroupedEvent};
use super::hours::{self, HourTotals, floor_hour};
use super::is_deadlock;
use super::rollup::{DAY_US, floor_day};
use super::{Store, on_pool, outbox, planner, search};

/// Events deleted per transaction.
pub const PRUNE_BATCH: i64 = 500;
/// How often a batch is retried after a deadlock with a writer or another receiver's prune.
const DEADLOCK_RETRIES: usize = 3;

// `returning` reports only the rows this transaction deleted: when two receivers prune at once,
// each subtracts from the totals exactly the events it removed.
const DELETE_OLDEST: &str = "delete from events where id in \
    (select id from events where type = $1 and ts_us < $2 order by ts_us limit $3) \
    returning id, ts_us, cost, duration_ms, total_cost, agent_id, swarm_id, workflow_id, \
    instance_id, webhook_id";
const DROP_EMPTY_DAY: &str = "delete from event_stats where type = $1 and day_us = $2 \
    and not exists (select 1 from events where type = $1 and ts_us >= $2 and ts_us < $3)";

/// What the totals must lose for one deleted event.
#[derive(sqlx::FromRow)]
struct Removed {
    id: String,
    #[sqlx(flatten)]
    columns: GroupedEvent,
}

/// The totals one batch removes from one day: events, cost, duration sum, duration count.
type DayTotals = (i64, f64, f64, i64);

impl Store {
    /// Deletes every event whose timestamp is before `cutoff_us`, type by type, oldest first,
    /// `PRUNE_BATCH` per transaction; answers how many were deleted.
    pub async fn prune_older_than(&self, cutoff_us: i64) -> Result<u64, StoreError> {
        let mut deleted = 0;
        for event_type in self.known_types().await? {
            loop {
                let removed = self
                    .prune_batch_with_retries(&event_type, cutoff_us)
                    .await?;
                deleted += removed;
                if removed < PRUNE_BATCH as u64 {
                    break;
                }
                // Let a waiting delivery batch have the connection before the next transaction.
                tokio::task::yield_now().await;
            }
        }
        Ok(deleted)
    }

    async fn prune_batch_with_retries(
        &self,
        event_type: &[u8],
        cutoff_us: i64,
    ) -> Result<u64, sqlx::Error> {
        let mut attempt = 0;
        loop {
            match self.prune_batch(event_type, cutoff_us).await {
                Err(err) if attempt < DEADLOCK_RETRIES && is_deadlock(&err) => attempt += 1,
                result => return result,
            }
        }
    }

    async fn prune_batch(&self, event_type: &[u8], cutoff_us: i64) -> Result<u64, sqlx::Error> {
        let sqlite = self.is_sqlite();
        on_pool!(self, write, pool => {
            let mut conn = pool.acquire().await?;
            let pruned: Result<u64, sqlx::Error> = async {
                let mut tx = Connection::begin(&mut *conn).await?;
                if !sqlite {
                    sqlx::query(planner::SHARE_FOLD_LOCK)
                        .bind(planner::FOLD_LOCK)
                        .execute(&mut *tx)
                        .await?;
                }
                if sqlite {
                    sqlx::query(search::FORGET_OLDEST_SQLITE)
                        .bind(event_type)
                        .bind(cutoff_us)
                        .bind(PRUNE_BATCH)
                        .execute(&mut *tx)
                        .await?;
                }
                let removed: Vec<Removed> = sqlx::query_as(DELETE_OLDEST)
                    .bind(event_type)
                    .bind(cutoff_us)
                    .bind(PRUNE_BATCH)
                    .fetch_all(&mut *tx)
                    .await?;
                if !removed.is_empty() {
                    let ids: Vec<String> = removed.iter().map(|r| r.id.clone()).collect();
                    outbox::delete_of_events(&ids).build().execute(&mut *tx).await?;
                }
                let days = day_totals(&removed);
                if !days.is_empty() {
                    let mut upsert = sqlx::QueryBuilder::new(UPSERT_STATS);
                    // Shard 0 takes the negative totals; queries add up a day's shards.
                    upsert.push_values(&days, |mut row, (day_us, totals)| {
                        row.push_bind(event_type)
                            .push_bind(*day_us)
                            .push_bind(0_i32)
                            .push_bind(-totals.0)
                            .push_bind(-totals.1)
                            .push_bind(-totals.2)
                            .push_bind(-totals.3);
                    });
                    upsert.push(UPSERT_STATS_CONFLICT);
                    upsert.build().execute(&mut *tx).await?;
                }
                // A day without events keeps no totals: shards that add up to zero would still
                // list the type in /stats, and their float sums to a little dust.
                for day_us in days.keys() {
                    sqlx::query(DROP_EMPTY_DAY)
                        .bind(event_type)
                        .bind(*day_us)
                        .bind(day_us.saturating_add(DAY_US))
                        .execute(&mut *tx)
                        .await?;
                }
                for mut statement in hour_statements(event_type, &removed) {
                    statement.build().execute(&mut *tx).await?;
                }
                let gone = group_totals::totals_by_key(removed.iter().map(|r| &r.columns));
                if !gone.is_empty() {
                    let hours: BTreeSet<i64> = gone.keys().map(|key| key.hour_us).collect();
                    let hours: Vec<i64> = hours.into_iter().collect();
                    let current = group_totals::select_current(event_type, &hours)
                        .build_query_as()
                        .fetch_all(&mut *tx)
                        .await?;
                    for step in group_totals::prune_steps(gone, current) {
                        for mut statement in group_totals::prune_statements(event_type, &step) {
                            statement.build().execute(&mut *tx).await?;
                        }
                    }
                }
                tx.commit().await?;
                Ok(removed.len() as u64)
            }
            .await;
            if pruned.is_err() {
                // As in `insert_batch`: a SQLite connection whose transaction failed may be out
                // of step with sqlx's count of open transactions; never reuse it.
                let _ = conn.close().await;
            }
            pruned
        })
    }
}

/// The deleted events summed per day, in day order (the order the rows are locked in).
fn day_totals(removed: &[Removed]) -> BTreeMap<i64, DayTotals> {
    let mut days: BTreeMap<i64, DayTotals> = BTreeMap::new();
    for event in removed {
        let totals = days.entry(floor_day(event.columns.ts_us)).or_default();
        totals.0 += 1;
        totals.1 += event.columns.cost.unwrap_or(0.0);
        if let Some(duration) = event.columns.duration_ms {
            totals.2 += duration;
            totals.3 += 1;
        }
    }
    days
}

/// The statements that take `removed` (of `event_type`) out of their hours' totals, after the
/// days' (the order a batch locks them in): subtracted in shard 0, as for the days, then the rows
/// of an hour left without events dropped.
fn hour_statements<'a, DB>(event_type: &'a [u8], removed: &[Removed]) -> Vec<QueryBuilder<'a, DB>>
where
    DB: Database,
    i32: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
    f64: Encode<'a, DB> + Type<DB>,
    &'a [u8]: Encode<'a, DB> + Type<DB>,
{
    let by_hour = hour_totals(removed);
    if by_hour.is_empty() {
        return Vec::new();
    }
    let emptied: Vec<i64> = by_hour.keys().copied().collect();
    let negative = by_hour
        .into_iter()
        .map(|(hour_us, totals)| ((event_type, hour_us), (-totals.0, -totals.1)));
    vec![
        hours::upsert_hours(negative, 0),
        hours::drop_empty_hours(event_type, &emptied),
    ]
}

/// The deleted events summed per hour, in hour order.
fn hour_totals(removed: &[Removed]) -> BTreeMap<i64, HourTotals> {
    let mut by_hour: BTreeMap<i64, HourTotals> = BTreeMap::new();
    for event in removed {
        let totals = by_hour.entry(floor_hour(event.columns.ts_us)).or_default();
        totals.0 += 1;
        totals.1 += event.columns.cost.unwrap_or(0.0);
    }
    by_hour
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removed_events_are_summed_per_day_and_hour() {
        let removed = [
            Removed {
                id: "x".into(),
                columns: GroupedEvent {
                    ts_us: 5,
                    cost: Some(0.5),
                    duration_ms: Some(10.0),
                    ..GroupedEvent::default()
                },
            },
            Removed {
                id: "x".into(),
                columns: GroupedEvent {
                    ts_us: DAY_US - 1,
                    cost: None,
                    duration_ms: None,
                    ..GroupedEvent::default()
                },
            },
            Removed {
                id: "x".into(),
                columns: GroupedEvent {
                    ts_us: DAY_US,
                    cost: Some(1.0),
                    duration_ms: Some(30.0),
                    ..GroupedEvent::default()
                },
            },
        ];
        let days = day_totals(&removed);
        assert_eq!(days[&0], (2, 0.5, 10.0, 1));
        assert_eq!(days[&DAY_US], (1, 1.0, 30.0, 1));
        let hours = hour_totals(&removed);
        assert_eq!(hours[&0], (1, 0.5));
        assert_eq!(hours[&(DAY_US - hours::HOUR_US)], (1, 0.0));
        assert_eq!(hours[&DAY_US], (1, 1.0));
    }
}
