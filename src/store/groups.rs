//! The reading behind `GET /stats/groups` (and `/stats` with audit filters): a window is read in
//! parts, as `/stats/timeline` reads its range. Its whole hours are summed from the hourly group
//! totals (`event_groups`, a few rows per hour and combination of type and ids), filtered by any
//! id and grouped by any dimension there; only the partial hours at either end are read from the
//! events, through a range of the type index (or of an id's index when an id filter is given), or,
//! for `/stats`, the rest of such an hour when that is shorter (`edge_read`). A
//! `data.` filter has no totals to read: the whole window (at most 31 days) is read from the
//! events. Each part answers one row per group; `groups::fold` adds them up.

use sqlx::QueryBuilder;

use super::audit_conditions::{self, Dialect};
pub use super::group_statement::Measures;
use super::group_statement::{Part, PartRow, Source, Types, push_types, push_window};
use super::hours::{self, HOUR_US};
use super::{Store, StoreError, on_pool, rollup};
use crate::groups::{self, Group, GroupSums, day_key};
use crate::query::{AuditFilters, GroupBy, TimeRange};

/// What a read selects: the window, the types, the audit filters and the measures.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// The window over the events' own timestamps.
    pub range: TimeRange,
    /// Only these types; empty means all.
    pub types: &'a [String],
    /// The audit filters (`q` is not read here).
    pub filters: &'a AuditFilters,
    /// What it sums.
    pub measures: Measures,
}

impl Store {
    /// Every group of `by` in `scope`, whole (`groups::page` cuts them).
    pub async fn groups(&self, by: GroupBy, scope: Scope<'_>) -> Result<Vec<Group>, StoreError> {
        Ok(groups::fold(self.group_parts(by, scope).await?))
    }

    /// Every group of `by` in `scope`, part by part (several rows per group; see `groups::fold`).
    pub async fn group_parts(
        &self,
        by: GroupBy,
        scope: Scope<'_>,
    ) -> Result<Vec<(Option<String>, GroupSums)>, StoreError> {
        let types = self.types_of(scope).await?;
        let mut rows = Vec::new();
        for (source, range) in self.parts(&types, scope).await? {
            rows.extend(self.read_part(by, source, &types, scope, range).await?);
        }
        Ok(rows)
    }

    /// The query plans of the statements `group_parts` runs, one line per step.
    pub async fn group_parts_plan(
        &self,
        by: GroupBy,
        scope: Scope<'_>,
    ) -> Result<Vec<String>, StoreError> {
        let types = self.types_of(scope).await?;
        let mut lines = Vec::new();
        for (source, range) in self.parts(&types, scope).await? {
            let part = Part {
                by,
                source,
                types: &types,
                scope,
                range,
            };
            lines.extend(self.explain_part(&part).await?);
        }
        Ok(lines)
    }

    async fn explain_part(&self, part: &Part<'_>) -> Result<Vec<String>, sqlx::Error> {
        match self {
            Self::Sqlite { reader, .. } => {
                let mut query = QueryBuilder::new("explain query plan ");
                part.push(&mut query, Dialect::Sqlite);
                let steps: Vec<(i64, i64, i64, String)> =
                    query.build_query_as().fetch_all(reader).await?;
                Ok(steps.into_iter().map(|step| step.3).collect())
            }
            Self::Postgres { primary, replica } => {
                let mut query = QueryBuilder::new("explain ");
                part.push(&mut query, Dialect::Postgres);
                let pool = replica.as_ref().unwrap_or(primary);
                query.build_query_scalar::<String>().fetch_all(pool).await
            }
        }
    }

    pub(super) fn dialect(&self) -> Dialect {
        match self {
            Self::Sqlite { .. } => Dialect::Sqlite,
            Self::Postgres { .. } => Dialect::Postgres,
        }
    }

    /// The types the statements of `scope` name.
    async fn types_of(&self, scope: Scope<'_>) -> Result<Types, StoreError> {
        if !scope.types.is_empty() {
            let given = scope.types.iter().map(|t| t.as_bytes().to_vec());
            return Ok(Types::Listed(given.collect()));
        }
        if audit_conditions::has_id_filter(scope.filters) {
            return Ok(Types::Any);
        }
        Ok(Types::Listed(self.known_types().await?))
    }

    async fn read_part(
        &self,
        by: GroupBy,
        source: Source,
        types: &Types,
        scope: Scope<'_>,
        range: TimeRange,
    ) -> Result<Vec<(Option<String>, GroupSums)>, sqlx::Error> {
        let part = Part {
            by,
            source,
            types,
            scope,
            range,
        };
        let dialect = self.dialect();
        on_pool!(self, read, pool => {
            let mut query = QueryBuilder::new("");
            part.push(&mut query, dialect);
            Ok(match by {
                GroupBy::Type => query.build_query_as::<PartRow<Vec<u8>>>().fetch_all(pool).await?
                    .into_iter().map(|row| row.into_part(|t| Some(String::from_utf8_lossy(&t).into_owned()))).collect(),
                GroupBy::Day => query.build_query_as::<PartRow<i64>>().fetch_all(pool).await?
                    .into_iter().map(|row| row.into_part(|day| Some(day_key(day)))).collect(),
                // An absent id is '' in the totals and NULL in the events: no key either way.
                _ => query.build_query_as::<PartRow<String>>().fetch_all(pool).await?
                    .into_iter().map(|row| row.into_part(|id| Some(id).filter(|id| !id.is_empty()))).collect(),
            })
        })
    }

    /// The parts `scope` is read in: the whole window from the events when a `data.` filter
    /// needs the bodies; otherwise its whole hours from the totals and the partial hours at
    /// either end from the events (or otherwise, see `edge_read`).
    async fn parts(
        &self,
        types: &Types,
        scope: Scope<'_>,
    ) -> Result<Vec<(Source, TimeRange)>, StoreError> {
        if types == &Types::Listed(Vec::new()) || scope.range.since_us >= scope.range.until_us {
            return Ok(Vec::new());
        }
        if !scope.filters.data.is_empty() {
            return Ok(vec![(Source::Events, scope.range)]);
        }
        let split = rollup::split(scope.range, HOUR_US);
        let mut parts: Vec<_> = split
            .whole
            .map(|h| (Source::Totals, h))
            .into_iter()
            .collect();
        for edge in split.edges {
            parts.push(self.widened_edge(types, scope, edge).await?);
        }
        Ok(parts)
    }

    /// How a partial hour is read (see `edge_read`): the probe of the rest of its hour for a
    /// matching event is the only read this makes.
    async fn widened_edge(
        &self,
        types: &Types,
        scope: Scope<'_>,
        edge: TimeRange,
    ) -> Result<(Source, TimeRange), StoreError> {
        if edge.until_us > hours::hour_of(edge).until_us {
            return Ok((Source::Events, edge));
        }
        let rest = hours::rest_of_hour(edge);
        let rest_holds_events = self.any_matching(types, scope.filters, &rest).await?;
        Ok(edge_read(edge, rest_holds_events, scope.measures))
    }

    /// Whether an event of `types` matching the id filters lies in one of `ranges`.
    async fn any_matching(
        &self,
        types: &Types,
        filters: &AuditFilters,
        ranges: &[TimeRange],
    ) -> Result<bool, sqlx::Error> {
        for range in ranges.iter().filter(|r| r.since_us < r.until_us) {
            let found: Option<i32> = on_pool!(self, read, pool => {
                let mut query = QueryBuilder::new("select 1 from events where ");
                push_window(&mut query, "ts_us", *range);
                push_types(&mut query, types);
                audit_conditions::push_id_conditions(&mut query, filters);
                query.push(" limit 1");
                query.build_query_scalar().fetch_optional(pool).await?
            });
            if found.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// How `edge`, a part of one hour, is read the cheapest way:
/// - from its hour's totals alone when the rest of the hour holds no matching event: the totals
///   then count exactly the edge's events (a window "until now" ends in such an hour, and on a
///   busy log that hour alone may hold many thousands of events);
/// - for `/stats`, whose sums can be subtracted, as the hour's totals less the rest of the hour
///   when the rest is the shorter side: a day's `/stats` then reads at most half an hour of
///   events at its start, not up to a whole hour;
/// - otherwise from the events of the edge.
fn edge_read(edge: TimeRange, rest_holds_events: bool, measures: Measures) -> (Source, TimeRange) {
    if !rest_holds_events {
        return (Source::Totals, hours::hour_of(edge));
    }
    let edge_us = edge.until_us - edge.since_us;
    if measures == Measures::Stats && HOUR_US - edge_us < edge_us {
        return (Source::TotalsLessRest, edge);
    }
    (Source::Events, edge)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE_US: i64 = 60_000_000;

    fn from_minute(start: i64, end: i64) -> TimeRange {
        let hour = 400_000 * HOUR_US;
        TimeRange {
            since_us: hour + start * MINUTE_US,
            until_us: hour + end * MINUTE_US,
        }
    }

    #[test]
    fn a_long_edge_of_stats_is_read_as_its_hour_less_the_rest() {
        let edge = from_minute(10, 60);
        assert_eq!(
            edge_read(edge, true, Measures::Stats),
            (Source::TotalsLessRest, edge)
        );
        let middle = from_minute(5, 50);
        assert_eq!(
            edge_read(middle, true, Measures::Stats),
            (Source::TotalsLessRest, middle)
        );
    }

    #[test]
    fn a_short_edge_is_read_from_its_events() {
        let edge = from_minute(50, 60);
        assert_eq!(
            edge_read(edge, true, Measures::Stats),
            (Source::Events, edge)
        );
        let half = from_minute(30, 60);
        assert_eq!(
            edge_read(half, true, Measures::Stats),
            (Source::Events, half)
        );
    }

    #[test]
    fn a_maximum_cannot_be_subtracted() {
        let edge = from_minute(10, 60);
        assert_eq!(edge_read(edge, true, Measures::All), (Source::Events, edge));
    }

    #[test]
    fn an_edge_alone_in_its_hour_is_read_from_the_totals() {
        let edge = from_minute(10, 60);
        let hour = from_minute(0, 60);
        assert_eq!(
            edge_read(edge, false, Measures::All),
            (Source::Totals, hour)
        );
        assert_eq!(
            edge_read(edge, false, Measures::Stats),
            (Source::Totals, hour)
        );
    }
}
