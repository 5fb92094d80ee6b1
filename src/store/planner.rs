//! Upkeep of a PostgreSQL log while the service runs: vacuum and planner statistics where
//! autovacuum is off, and the shards of the hourly totals.
//!
//! Planner statistics. The read path's plans (one index range per type, cut at the
//! page size) are only chosen while PostgreSQL knows roughly how many events each type holds.
//! With the statistics of a nearly empty table it expects a handful of rows, reads every event of
//! the type through a bitmap scan and sorts them: measured, 1.2 s for one page of a 200 000-event
//! log instead of 1 ms. Vacuum. The partial hours of `/stats` and `/stats/timeline` are summed
//! from the type index alone, which PostgreSQL does only for pages its visibility map marks as
//! all-visible; and every batch updates rows of the totals tables, whose dead versions only a
//! vacuum reclaims (a 10⁷-event log grown without one left 1.2 million in `event_groups`).
//! autovacuum does both; where a server runs with it off, the service vacuums and analyzes its
//! own tables once enough of their rows changed.

use sqlx::Executor;

use super::Store;
use super::StoreError;
use super::hours::{HOUR_US, floor_hour};
use super::pooler::PostgresPool;
use super::{group_totals, is_deadlock};

/// The tables whose statistics and visibility the read path depends on. `skip_locked`: another
/// receiver's upkeep (or an operator's vacuum) already at it is not waited for.
const VACUUM_ANALYZE: &str = "vacuum (analyze, skip_locked) \
    events, event_stats, event_hours, event_groups, notifications";
/// Whether the upkeep is left to the service: autovacuum off (for the server, or for the
/// events table) and one of the tables changed by more than a tenth (at least 1 000 rows) since
/// it was last analyzed.
const STALE_WITHOUT_AUTOVACUUM: &str = "select (current_setting('autovacuum') = 'off' \
        or exists (select 1 from pg_class where oid = 'events'::regclass \
                   and reloptions @> array['autovacuum_enabled=false'])) \
    and coalesce(bool_or(n_mod_since_analyze > greatest(1000, n_live_tup / 10)), false) \
    from pg_stat_user_tables \
    where schemaname = current_schema() \
    and relname in ('events', 'event_stats', 'event_hours', 'event_groups', 'notifications')";

/// The advisory lock that keeps a fold and a prune apart (PostgreSQL): a prune decides from a
/// key's rows whether to subtract from them, drop them or rebuild them from the events; a fold
/// committed between that reading and the prune's delete would leave a new shard-0 row the
/// delete never saw, and count its events twice. Prunes take it shared, each fold exclusive.
/// Public for the test that holds it.
pub const FOLD_LOCK: i64 = 0x6461_7368_666f_6c64;
/// Taken by each prune transaction.
pub(super) const SHARE_FOLD_LOCK: &str = "select pg_advisory_xact_lock_shared($1)";
const TAKE_FOLD_LOCK: &str = "select pg_advisory_xact_lock($1)";

/// Folds the shards of the hours that ended before `$1` into shard 0. Each batch adds to a random
/// one of 16 shards of its hour, so that concurrent writers rarely wait on one row; a month
/// would then hold up to 16 rows per type and hour, and a month's timeline would add up 138 000
/// rows at 10⁷ events (50–77 ms measured). Past hours rarely take new events, so they are
/// folded: one statement deletes the other shards and adds exactly what it deleted to shard 0,
/// so the totals never change, also with several receivers folding at once.
const FOLD_HOUR_SHARDS: &str = "with moved as (\
        delete from event_hours where hour_us < $1 and shard <> 0 \
        returning type, hour_us, events, cost_sum) \
    insert into event_hours (type, hour_us, shard, events, cost_sum) \
    select type, hour_us, 0, sum(events), sum(cost_sum) from moved group by type, hour_us \
    on conflict (type, hour_us, shard) do update set \
        events = event_hours.events + excluded.events, \
        cost_sum = event_hours.cost_sum + excluded.cost_sum";

impl Store {
    /// Folds the shards of the hourly totals (`event_hours` and `event_groups`) of hours that
    /// ended before `before_us` into one row per key and hour (PostgreSQL; SQLite writes one
    /// shard only); answers the rows folded away. A deadlock with a writer or a prune leaves
    /// that table as it was until the next round.
    pub async fn fold_hour_shards(&self, before_us: i64) -> Result<u64, StoreError> {
        let Self::Postgres { primary: pool, .. } = self else {
            return Ok(0);
        };
        let mut folded = 0;
        for statement in [FOLD_HOUR_SHARDS, group_totals::FOLD_SHARDS.as_str()] {
            match fold(pool, statement, before_us).await {
                Ok(rows) => folded += rows,
                Err(err) if is_deadlock(&err) => {}
                Err(err) => return Err(err.into()),
            }
        }
        Ok(folded)
    }

    /// Vacuums and analyzes the event tables when they changed enough and no autovacuum will do
    /// it; answers whether it did. A no-op on SQLite, whose plans for these queries do not
    /// depend on statistics and whose index reads need no visibility map.
    pub async fn vacuum_if_stale(&self) -> Result<bool, StoreError> {
        let Self::Postgres { primary: pool, .. } = self else {
            return Ok(false);
        };
        let stale: bool = sqlx::query_scalar(STALE_WITHOUT_AUTOVACUUM)
            .fetch_one(pool)
            .await?;
        if stale {
            // A plain statement on a connection of its own: vacuum runs outside any transaction
            // (also behind a transaction pooler, where the pool's statements are wrapped in one).
            let mut conn = pool.acquire().await?;
            // A bare string with no arguments goes as a simple query, not a prepared one.
            conn.execute(VACUUM_ANALYZE).await?;
        }
        Ok(stale)
    }
}

/// Runs one fold statement in a transaction of its own that no prune runs beside.
async fn fold(pool: &PostgresPool, statement: &str, before_us: i64) -> Result<u64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(TAKE_FOLD_LOCK)
        .bind(FOLD_LOCK)
        .execute(&mut *tx)
        .await?;
    let done = sqlx::query(statement)
        .bind(before_us)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}

/// Vacuums and analyzes (where autovacuum does not) and folds past hours' shards for as long as the service runs: at
/// start, then every `every`.
pub async fn maintain_periodically(store: Store, every: std::time::Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match store.vacuum_if_stale().await {
            Ok(true) => {
                tracing::info!("vacuumed and analyzed the event tables (autovacuum is off)")
            }
            Ok(false) => {}
            Err(err) => tracing::warn!(error = %err, "could not vacuum the event tables"),
        }
        // The current and the previous hour still take live events: leave their shards.
        let before_us = floor_hour(chrono::Utc::now().timestamp_micros()) - HOUR_US;
        if let Err(err) = store.fold_hour_shards(before_us).await {
            tracing::warn!(error = %err, "could not fold the hourly totals' shards");
        }
    }
}
