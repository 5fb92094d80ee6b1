//! The counting behind `GET /stats/timeline`: the whole hours of the range are summed from the
//! maintained hourly totals (`hours`, a few rows per type and hour), and only the partial hours
//! at either end are read from a range of the covering index `events_by_type_time` (type, time,
//! cost). A bucket (an hour or a day, from an origin on an hour boundary) is made of whole hours
//! plus at most one partial hour at either end; `Timeline::assemble` adds up its parts.
//!
//! With audit filters the whole hours come from the hourly group totals (`event_groups`, which
//! hold the ids) instead, filtered by the ids given; a `data.` filter reads the whole range (at
//! most 31 days) from the events, as only the bodies hold its field.

use super::StoreError;
use sqlx::{Database, Encode, QueryBuilder, Type};

use super::audit_conditions::{self, Dialect};
use super::hours::{self, HOUR_US};
use super::{Store, on_pool, rollup};
use crate::query::{AuditFilters, TimeRange};
use crate::timeline::{BucketRow, Plan};

const SELECT_ANY: &str = "select 1 from events where type in (";

/// Where one part of a timeline is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// The hourly totals (per type, or per type and ids when filtered), summed over shards.
    Hours,
    /// The events themselves.
    Events,
}

impl Source {
    /// `select type, <bucket of time column>`'s time column, and the rest of the select list;
    /// `filtered`: the hours are read from the totals that hold the ids.
    fn columns(self, filtered: bool) -> (&'static str, &'static str) {
        match self {
            // sum() of bigint is numeric in PostgreSQL; the cast keeps it bigint on both.
            Self::Hours if filtered => (
                "hour_us",
                " as bucket, cast(sum(events) as bigint) as events, sum(cost_sum) as cost \
                 from event_groups where type in (",
            ),
            Self::Hours => (
                "hour_us",
                " as bucket, cast(sum(events) as bigint) as events, sum(cost_sum) as cost \
                 from event_hours where type in (",
            ),
            Self::Events => (
                "ts_us",
                " as bucket, count(*) as events, sum(cost) as cost from events where type in (",
            ),
        }
    }
}

impl Store {
    /// Events and cost per type and bucket of `plan`, for the events of `types` in its range;
    /// one type and bucket may come in several rows (whole hours and a partial one).
    /// Only events matching `filters` count (`q` is not read here).
    pub async fn timeline(
        &self,
        types: &[Vec<u8>],
        plan: &Plan,
        filters: &AuditFilters,
    ) -> Result<Vec<BucketRow>, StoreError> {
        let mut rows = Vec::new();
        let read = Read {
            types,
            plan,
            filters,
            dialect: self.dialect(),
        };
        for (source, range) in self.widened(&read, parts(&read)).await? {
            rows.extend(on_pool!(self, read, pool => {
                let mut query = QueryBuilder::new("");
                read.push_buckets(&mut query, source, range);
                query.build_query_as::<BucketRow>().fetch_all(pool).await?
            }));
        }
        Ok(rows)
    }

    /// The query plans of the statements `timeline` runs for `plan`, one line per step.
    pub async fn timeline_plan(
        &self,
        types: &[Vec<u8>],
        plan: &Plan,
    ) -> Result<Vec<String>, StoreError> {
        let mut lines = Vec::new();
        let filters = AuditFilters::default();
        let read = Read {
            types,
            plan,
            filters: &filters,
            dialect: self.dialect(),
        };
        for (source, range) in self.widened(&read, parts(&read)).await? {
            match self {
                Self::Sqlite { reader, .. } => {
                    let mut query = QueryBuilder::new("explain query plan ");
                    read.push_buckets(&mut query, source, range);
                    let steps: Vec<(i64, i64, i64, String)> =
                        query.build_query_as().fetch_all(reader).await?;
                    lines.extend(steps.into_iter().map(|step| step.3));
                }
                Self::Postgres { primary, replica } => {
                    let mut query = QueryBuilder::new("explain ");
                    read.push_buckets(&mut query, source, range);
                    let pool = replica.as_ref().unwrap_or(primary);
                    lines.extend(query.build_query_scalar::<String>().fetch_all(pool).await?);
                }
            }
        }
        Ok(lines)
    }

    /// The oldest and newest timestamps of the events of `types` matching `filters` in
    /// `range`, if there is one. Each type's oldest and newest are read on their own, one index
    /// seek each: a `min` and a `max` over several types at once read every event of the range
    /// (17 s for a month of a 10⁷-event SQLite log).
    pub async fn timestamp_span(
        &self,
        types: &[Vec<u8>],
        range: TimeRange,
        filters: &AuditFilters,
    ) -> Result<Option<(i64, i64)>, StoreError> {
        let dialect = self.dialect();
        if types.is_empty() {
            return Ok(None);
        }
        let span: (Option<i64>, Option<i64>) = on_pool!(self, read, pool => {
            let mut query = QueryBuilder::new("select min(oldest), max(newest) from (");
            for (n, event_type) in types.iter().enumerate() {
                query.push(if n == 0 { "select " } else { " union all select " });
                for (end, alias) in [("min", "oldest"), ("max", "newest")] {
                    query.push(format_args!("(select {end}(ts_us) from events where type = "));
                    query.push_bind(event_type.as_slice());
                    query.push(" and ts_us >= ").push_bind(range.since_us);
                    query.push(" and ts_us < ").push_bind(range.until_us);
                    audit_conditions::push_id_conditions(&mut query, filters);
                    audit_conditions::push_data_conditions(&mut query, filters, dialect);
                    query.push(format_args!(") as {alias}"));
                    if end == "min" {
                        query.push(", ");
                    }
                }
            }
            query.push(") as spans");
            query.build_query_as().fetch_one(pool).await?
        });
        Ok(span.0.zip(span.1))
    }
}

/// The parts a timeline is counted from: its whole hours from their totals, the partial hours
/// at either end from the events; none when there is nothing to count.
impl Store {
    /// `parts` with each partial hour read from the hourly totals instead of the events when
    /// the rest of its hour holds no event of `types`: the hour's row then counts exactly the
    /// events of the part. A timeline "until now" ends in such an hour (nothing is stored after
    /// now), and on a busy log that hour alone can hold millions of events: measured, 0.98 s for
    /// the last hour of a log that took 2 million events in five minutes.
    async fn widened(
        &self,
        read: &Read<'_>,
        parts: Vec<(Source, TimeRange)>,
    ) -> Result<Vec<(Source, TimeRange)>, sqlx::Error> {
        let mut widened = Vec::with_capacity(parts.len());
        for (source, range) in parts {
            let hour = hours::hour_of(range);
            let within_one_hour = range.until_us <= hour.until_us;
            let rest = hours::rest_of_hour(range);
            // A `data.` filter cannot be counted from the totals, which hold no bodies.
            let countable = source == Source::Events && read.filters.data.is_empty();
            if countable && within_one_hour && !self.any_event(read, &rest).await? {
                widened.push((Source::Hours, hour));
            } else {
                widened.push((source, range));
            }
        }
        Ok(widened)
    }

    /// Whether an event of the read's types and ids lies in one of `ranges` (one index probe
    /// per range).
    async fn any_event(&self, read: &Read<'_>, ranges: &[TimeRange]) -> Result<bool, sqlx::Error> {
        for range in ranges.iter().filter(|r| r.since_us < r.until_us) {
            let found: Option<i32> = on_pool!(self, read, pool => {
                let mut query = QueryBuilder::new(SELECT_ANY);
                let mut listed = query.separated(", ");
                for event_type in read.types {
                    listed.push_bind(event_type.as_slice());
                }
                query.push(") and ts_us >= ").push_bind(range.since_us);
                query.push(" and ts_us < ").push_bind(range.until_us);
                audit_conditions::push_id_conditions(&mut query, read.filters);
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

/// What one timeline reads: its types, buckets and audit filters.
struct Read<'r> {
    types: &'r [Vec<u8>],
    plan: &'r Plan,
    filters: &'r AuditFilters,
    dialect: Dialect,
}

fn parts(read: &Read<'_>) -> Vec<(Source, TimeRange)> {
    let plan = read.plan;
    if read.types.is_empty() || plan.count == 0 {
        return Vec::new();
    }
    if !read.filters.data.is_empty() {
        return vec![(Source::Events, plan.range)];
    }
    let split = rollup::split(plan.range, HOUR_US);
    let whole = split.whole.map(|hours| (Source::Hours, hours));
    let edges = split.edges.into_iter().map(|edge| (Source::Events, edge));
    whole.into_iter().chain(edges).collect()
}

impl<'r> Read<'r> {
    /// Appends the grouped count of `source` over `range` to `query`. A row's time minus the
    /// origin is never negative (the origin is the first bucket's start, on an hour boundary at
    /// or before `since`), so the integer division, which truncates towards zero in both
    /// databases, is the bucket's index; an hour row's start lies in the same bucket as all of
    /// its hour.
    fn push_buckets<'a, DB>(
        &self,
        query: &mut QueryBuilder<'a, DB>,
        source: Source,
        range: TimeRange,
    ) where
        DB: Database,
        i64: Encode<'a, DB> + Type<DB>,
        f64: Encode<'a, DB> + Type<DB>,
        bool: Encode<'a, DB> + Type<DB>,
        String: Encode<'a, DB> + Type<DB>,
        &'a str: Encode<'a, DB> + Type<DB>,
        &'a [u8]: Encode<'a, DB> + Type<DB>,
        'r: 'a,
    {
        let (time, rest) = source.columns(!self.filters.is_empty());
        query.push(format_args!("select type, ({time} - "));
        query
            .push_bind(self.plan.origin_us)
            .push(") / ")
            .push_bind(self.plan.width.micros());
        query.push(rest);
        let mut listed = query.separated(", ");
        for event_type in self.types {
            listed.push_bind(event_type.as_slice());
        }
        query
            .push(format_args!(") and {time} >= "))
            .push_bind(range.since_us);
        query
            .push(format_args!(" and {time} < "))
            .push_bind(range.until_us);
        audit_conditions::push_id_conditions(query, self.filters);
        if source == Source::Events {
            audit_conditions::push_data_conditions(query, self.filters, self.dialect);
        }
        query.push(" group by type, bucket");
    }
}

#[cfg(test)]
mod tests;
