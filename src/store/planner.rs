//! Planner statistics on PostgreSQL. The read path's plans (one index range per type, cut at the
//! page size) are only chosen while PostgreSQL knows roughly how many events each type holds.
//! With the statistics of a nearly empty table it expects a handful of rows, reads every event of
//! the type through a bitmap scan and sorts them: measured, 1.2 s for one page of a 200 000-event
//! log instead of 1 ms. autovacuum keeps the statistics fresh; where a server runs with it off,
//! the service analyzes its own tables once enough of their rows changed.

use super::Store;

/// The tables whose statistics the read path's plans depend on.
const ANALYZE: &str = "analyze events, event_stats, notifications";
/// Whether the statistics are left to the service: autovacuum off (for the server, or for the
/// events table) and one of the tables changed by more than a tenth (at least 1 000 rows) since
/// it was last analyzed.
const STALE_WITHOUT_AUTOVACUUM: &str = "select (current_setting('autovacuum') = 'off' \
        or exists (select 1 from pg_class where oid = 'events'::regclass \
                   and reloptions @> array['autovacuum_enabled=false'])) \
    and coalesce(bool_or(n_mod_since_analyze > greatest(1000, n_live_tup / 10)), false) \
    from pg_stat_user_tables \
    where schemaname = current_schema() and relname in ('events', 'event_stats', 'notifications')";

impl Store {
    /// Analyzes the event tables when their statistics are stale and no autovacuum will do it;
    /// answers whether it did. A no-op on SQLite, whose plans for these queries do not depend
    /// on statistics.
    pub async fn refresh_statistics_if_stale(&self) -> Result<bool, sqlx::Error> {
        let Self::Postgres(pool) = self else {
            return Ok(false);
        };
        let stale: bool = sqlx::query_scalar(STALE_WITHOUT_AUTOVACUUM)
            .fetch_one(pool)
            .await?;
        if stale {
            sqlx::query(ANALYZE).execute(pool).await?;
        }
        Ok(stale)
    }
}

/// Keeps the statistics fresh for as long as the service runs: at start, then every `every`.
pub async fn refresh_periodically(store: Store, every: std::time::Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match store.refresh_statistics_if_stale().await {
            Ok(true) => tracing::info!("analyzed the event tables (autovacuum is off)"),
            Ok(false) => {}
            Err(err) => tracing::warn!(error = %err, "could not refresh planner statistics"),
        }
    }
}
