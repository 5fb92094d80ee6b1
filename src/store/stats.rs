//! Summary statistics over a time window, computed by the database so they survive restarts:
//! whole days from the maintained daily totals; the partial days at the ends of the window as
//! `/stats/groups` grouped by type reads them (`groups`): their whole hours from the hourly group
//! totals, only the partial hours at either end from the events themselves (see `rollup`), the
//! shorter side of each such hour (see `groups::edge_read`). With audit filters, the whole window
//! is read that way: the daily totals hold no ids.

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
        let types = per_type(rows);
        let duration_sum: f64 = types.values().map(|t| t.duration_sum).sum();
        let duration_count: i64 = types.values().map(|t| t.duration_count).sum();
        Self {
            total_events: types.values().map(|t| t.events).sum(),
            total_cost: types.values().map(|t| t.cost).sum(),
            avg_duration_ms: (duration_count > 0).then(|| duration_sum / duration_count as f64),
            event_counts: types.into_iter().map(|(k, t)| (k, t.events)).collect(),
        }
    }
}

/// One type's sums over a window.
#[derive(Default)]
struct TypeSums {
    events: i64,
    cost: f64,
    duration_sum: f64,
    duration_count: i64,
}

/// The sums of each type with events in the window. A partial hour read as its hour less the
/// rest of it (see `groups`) gives a type whose events there all lie in the rest a row of +n
/// and one of −n; its float sums need not cancel to exactly 0, so such a type is dropped whole,
/// and so are the duration sums of a type left without durations.
fn per_type(rows: Vec<TypeStats>) -> BTreeMap<String, TypeSums> {
    let mut types: BTreeMap<String, TypeSums> = BTreeMap::new();
    for row in rows {
        let event_type = String::from_utf8_lossy(&row.event_type).into_owned();
        let sums = types.entry(event_type).or_default();
        sums.events += row.events;
        sums.cost += row.cost.unwrap_or(0.0);
        sums.duration_sum += row.duration_sum.unwrap_or(0.0);
        sums.duration_count += row.duration_count;
    }
    types.retain(|_, sums| sums.events != 0);
    for sums in types.values_mut().filter(|sums| sums.duration_count == 0) {
        sums.duration_sum = 0.0;
    }
    types
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
    fn a_type_whose_rows_cancel_out_counts_nothing() {
        let stats = Stats::from_rows(vec![
            row("a", 1, Some(0.5), None),
            row("gone", 3, Some(0.1 + 0.2 + 0.3), Some((30.0, 3))),
            row("gone", -3, Some(-(0.3 + 0.2 + 0.1)), Some((-30.0, -3))),
            row("b", 2, Some(0.25), Some((0.1 + 0.2, 2))),
            row("b", -1, Some(-0.25), Some((-0.3, -2))),
        ]);
        assert_eq!(stats.total_events, 2);
        assert_eq!(stats.event_counts.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(stats.total_cost, 0.5, "no residue of the cancelled type");
        assert_eq!(
            stats.avg_duration_ms, None,
            "no residue of durations that cancel"
        );
    }

    #[test]
    fn no_durations_means_null_average() {
        let stats = Stats::from_rows(vec![row("x", 1, None, None)]);
        assert_eq!(stats.avg_duration_ms, None);
        assert_eq!(Stats::from_rows(vec![]).total_events, 0);
    }
}
