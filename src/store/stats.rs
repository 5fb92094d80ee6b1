//! Summary statistics over a time window, computed by the database so they survive restarts:
//! whole days from the maintained daily totals; the partial days at the ends of the window as
//! `/stats/groups` grouped by type reads them (`groups`): their whole hours from the hourly group
//! totals, only the partial hours at either end from the events themselves (see `rollup`). With
//! audit filters, the whole window is read that way: the daily totals hold no ids.

use super::StoreError;
use std::collections::BTreeMap;

use super::groups::{Measures, Scope};
use super::{Store, on_pool, rollup};
use crate::query::{AuditFilters, GroupBy, TimeRange};

// sum() of bigint is numeric in PostgreSQL; the casts keep both backends answering bigint.
const SELECT_DAILY_TOTALS: &str = "select type, cast(sum(events) as bigint) as events, \
    sum(cost_sum) as cost, sum(duration_sum) as duration_sum, \
    cast(sum(duration_count) as bigint) as duration_count \
    from event_stats where day_us >= $1 and day_us < $2 group by type";

/// The aggregates of one event type.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TypeStats {
    /// The event type, as stored (UTF-8 bytes).
    #[sqlx(rename = "type")]
    pub event_type: Vec<u8>,
    /// How many events.
    pub events: i64,
    /// Sum of numeric `data.cost`, if any.
    pub cost: Option<f64>,
    /// Sum of numeric `data.durationMs`, if any.
    pub duration_sum: Option<f64>,
    /// How many events had a numeric `data.durationMs`.
    pub duration_count: i64,
}

/// The answer of `GET /stats`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Events in the window.
    pub total_events: i64,
    /// Events per type.
    pub event_counts: BTreeMap<String, i64>,
    /// Sum of the numeric `data.cost` values.
    pub total_cost: f64,
    /// Mean of the numeric `data.durationMs` values; null when there is none.
    pub avg_duration_ms: Option<f64>,
}

impl Stats {
    /// Folds per-type rows (several per type when a window has whole and partial days) into the
    /// totals.
    pub fn from_rows(rows: Vec<TypeStats>) -> Self {
        let duration_sum: f64 = rows.iter().filter_map(|r| r.duration_sum).sum();
        let duration_count: i64 = rows.iter().map(|r| r.duration_count).sum();
        Self {
            total_events: rows.iter().map(|r| r.events).sum(),
            total_cost: rows.iter().filter_map(|r| r.cost).sum(),
            avg_duration_ms: (duration_count > 0).then(|| duration_sum / duration_count as f64),
            event_counts: rows.into_iter().fold(BTreeMap::new(), |mut counts, r| {
                let event_type = String::from_utf8_lossy(&r.event_type).into_owned();
                *counts.entry(event_type).or_insert(0) += r.events;
                counts
            }),
        }
    }
}

impl Store {
    /// Statistics over events whose timestamp falls in `range`.
    pub async fn stats(&self, range: TimeRange) -> Result<Stats, StoreError> {
        let split = rollup::split(range, rollup::DAY_US);
        let mut rows = Vec::new();
        if let Some(days) = split.whole {
            rows.extend(self.daily_totals(days).await?);
        }
        // A day's edge read from the events costs a scan of up to a day of them (170 000 rows
        // at 10⁷ events over two months); read by the hour, it is a few hundred total rows.
        let unfiltered = AuditFilters::default();
        for edge in split.edges {
            rows.extend(self.type_rows(edge, &unfiltered).await?);
        }
        Ok(Stats::from_rows(rows))
    }

    /// Statistics over the events in `range` matching `filters` (`q` is not read here); without
    /// a filter, `stats`.
    pub async fn filtered_stats(
        &self,
        range: TimeRange,
        filters: &AuditFilters,
    ) -> Result<Stats, StoreError> {
        if filters.is_empty() {
            return self.stats(range).await;
        }
        Ok(Stats::from_rows(self.type_rows(range, filters).await?))
    }

    /// Per-type rows of the events in `range` matching `filters`, read as `/stats/groups`
    /// grouped by type reads them.
    async fn type_rows(
        &self,
        range: TimeRange,
        filters: &AuditFilters,
    ) -> Result<Vec<TypeStats>, StoreError> {
        let parts = self
            .group_parts(GroupBy::Type, stats_scope(range, filters))
            .await?;
        let rows = parts.into_iter().filter(|(_, sums)| sums.events != 0);
        Ok(rows
            .map(|(event_type, sums)| TypeStats {
                event_type: event_type.unwrap_or_default().into_bytes(),
                events: sums.events,
                cost: Some(sums.cost),
                duration_sum: Some(sums.duration_sum),
                duration_count: sums.duration_count,
            })
            .collect())
    }

    /// The query plans of the reads `stats` makes of the partial days of `range`, one line per
    /// step (the whole days are one read of the daily totals).
    pub async fn stats_plan(&self, range: TimeRange) -> Result<Vec<String>, StoreError> {
        let unfiltered = AuditFilters::default();
        let mut lines = Vec::new();
        for edge in rollup::split(range, rollup::DAY_US).edges {
            let scope = stats_scope(edge, &unfiltered);
            lines.extend(self.group_parts_plan(GroupBy::Type, scope).await?);
        }
        Ok(lines)
    }

    async fn daily_totals(&self, days: TimeRange) -> Result<Vec<TypeStats>, sqlx::Error> {
        on_pool!(self, read, pool => {
            sqlx::query_as(SELECT_DAILY_TOTALS)
                .bind(days.since_us)
                .bind(days.until_us)
                .fetch_all(pool)
                .await
        })
    }
}

/// What `stats` reads of `range`: every type, only the measures it answers.
fn stats_scope(range: TimeRange, filters: &AuditFilters) -> Scope<'_> {
    Scope {
        range,
        types: &[],
        filters,
        measures: Measures::Stats,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(
        event_type: &str,
        events: i64,
        cost: Option<f64>,
        durations: Option<(f64, i64)>,
    ) -> TypeStats {
        TypeStats {
            event_type: event_type.as_bytes().to_vec(),
            events,
            cost,
            duration_sum: durations.map(|d| d.0),
            duration_count: durations.map_or(0, |d| d.1),
        }
    }

    #[test]
    fn totals_fold_across_types() {
        let stats = Stats::from_rows(vec![
            row("agent:complete", 3, Some(1.5), Some((6000.0, 3))),
            row("budget:warning", 2, None, None),
            row("workflow:complete", 1, None, Some((3000.0, 1))),
        ]);
        assert_eq!(stats.total_events, 6);
        assert_eq!(stats.total_cost, 1.5);
        assert_eq!(stats.avg_duration_ms, Some(2250.0));
        assert_eq!(stats.event_counts["budget:warning"], 2);
    }

    #[test]
    fn rows_of_one_type_from_days_and_edges_add_up() {
        let stats = Stats::from_rows(vec![
            row("a", 2, Some(1.0), None),
            row("a", 3, Some(0.5), Some((10.0, 1))),
        ]);
        assert_eq!(
            (
                stats.total_events,
                stats.event_counts["a"],
                stats.total_cost
            ),
            (5, 5, 1.5)
        );
    }

    #[test]
    fn no_durations_means_null_average() {
        let stats = Stats::from_rows(vec![row("x", 1, None, None)]);
        assert_eq!(stats.avg_duration_ms, None);
        assert_eq!(Stats::from_rows(vec![]).total_events, 0);
    }
}
