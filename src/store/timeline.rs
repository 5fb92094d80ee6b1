//! The counting behind `GET /stats/timeline`: the whole hours of the range are summed from the
//! maintained hourly totals (`hours`, a few rows per type and hour), and only the partial hours
//! at either end are read from a range of the covering index `events_by_type_time` (type, time,
//! cost). A bucket (an hour or a day, from an origin on an hour boundary) is made of whole hours
//! plus at most one partial hour at either end; `Timeline::assemble` adds up its parts.

use super::StoreError;
use sqlx::{Database, Encode, QueryBuilder, Type};

use super::hours::{HOUR_US, floor_hour};
use super::{Store, on_pool, rollup};
use crate::query::TimeRange;
use crate::timeline::{BucketRow, Plan};

const SELECT_SPAN: &str = "select min(ts_us), max(ts_us) from events where type in (";
const SELECT_ANY: &str = "select 1 from events where type in (";

/// Where one part of a timeline is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// The hourly totals, summed over their shards.
    Hours,
    /// The events themselves.
    Events,
}

impl Source {
    /// `select type, <bucket of time column>`'s time column, and the rest of the select list.
    fn columns(self) -> (&'static str, &'static str) {
        match self {
            // sum() of bigint is numeric in PostgreSQL; the cast keeps it bigint on both.
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
    pub async fn timeline(
        &self,
        types: &[Vec<u8>],
        plan: &Plan,
    ) -> Result<Vec<BucketRow>, StoreError> {
        let mut rows = Vec::new();
        for (source, range) in self.widened(types, parts(types, plan)).await? {
            rows.extend(on_pool!(self, read, pool => {
                let mut query = QueryBuilder::new("");
                push_buckets(&mut query, source, types, plan, range);
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
        for (source, range) in self.widened(types, parts(types, plan)).await? {
            match self {
                Self::Sqlite { reader, .. } => {
                    let mut query = QueryBuilder::new("explain query plan ");
                    push_buckets(&mut query, source, types, plan, range);
                    let steps: Vec<(i64, i64, i64, String)> =
                        query.build_query_as().fetch_all(reader).await?;
                    lines.extend(steps.into_iter().map(|step| step.3));
                }
                Self::Postgres { primary, replica } => {
                    let mut query = QueryBuilder::new("explain ");
                    push_buckets(&mut query, source, types, plan, range);
                    let pool = replica.as_ref().unwrap_or(primary);
                    lines.extend(query.build_query_scalar::<String>().fetch_all(pool).await?);
                }
            }
        }
        Ok(lines)
    }

    /// The oldest and newest timestamps of the events of `types` in `range`, if there is one.
    pub async fn timestamp_span(
        &self,
        types: &[Vec<u8>],
        range: TimeRange,
    ) -> Result<Option<(i64, i64)>, StoreError> {
        if types.is_empty() {
            return Ok(None);
        }
        let span: (Option<i64>, Option<i64>) = on_pool!(self, read, pool => {
            let mut query = QueryBuilder::new(SELECT_SPAN);
            let mut listed = query.separated(", ");
            for event_type in types {
                listed.push_bind(event_type.as_slice());
            }
            query.push(") and ts_us >= ").push_bind(range.since_us);
            query.push(" and ts_us < ").push_bind(range.until_us);
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
        types: &[Vec<u8>],
        parts: Vec<(Source, TimeRange)>,
    ) -> Result<Vec<(Source, TimeRange)>, sqlx::Error> {
        let mut widened = Vec::with_capacity(parts.len());
        for (source, range) in parts {
            let hour = TimeRange {
                since_us: floor_hour(range.since_us),
                until_us: floor_hour(range.since_us).saturating_add(HOUR_US),
            };
            let within_one_hour = range.until_us <= hour.until_us;
            let rest = [
                TimeRange {
                    since_us: hour.since_us,
                    until_us: range.since_us,
                },
                TimeRange {
                    since_us: range.until_us,
                    until_us: hour.until_us,
                },
            ];
            if source == Source::Events && within_one_hour && !self.any_event(types, &rest).await? {
                widened.push((Source::Hours, hour));
            } else {
                widened.push((source, range));
            }
        }
        Ok(widened)
    }

    /// Whether an event of `types` lies in one of `ranges` (one index probe per range).
    async fn any_event(
        &self,
        types: &[Vec<u8>],
        ranges: &[TimeRange],
    ) -> Result<bool, sqlx::Error> {
        for range in ranges.iter().filter(|r| r.since_us < r.until_us) {
            let found: Option<i32> = on_pool!(self, read, pool => {
                let mut query = QueryBuilder::new(SELECT_ANY);
                let mut listed = query.separated(", ");
                for event_type in types {
                    listed.push_bind(event_type.as_slice());
                }
                query.push(") and ts_us >= ").push_bind(range.since_us);
                query.push(" and ts_us < ").push_bind(range.until_us);
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

fn parts(types: &[Vec<u8>], plan: &Plan) -> Vec<(Source, TimeRange)> {
    if types.is_empty() || plan.count == 0 {
        return Vec::new();
    }
    let split = rollup::split(plan.range, HOUR_US);
    let whole = split.whole.map(|hours| (Source::Hours, hours));
    let edges = split.edges.into_iter().map(|edge| (Source::Events, edge));
    whole.into_iter().chain(edges).collect()
}

/// Appends the grouped count of `source` over `range` to `query`. A row's time minus the origin
/// is never negative (the origin is the first bucket's start, on an hour boundary at or before
/// `since`), so the integer division, which truncates towards zero in both databases, is the
/// bucket's index; an hour row's start lies in the same bucket as all of its hour.
fn push_buckets<'a, DB>(
    query: &mut QueryBuilder<'a, DB>,
    source: Source,
    types: &'a [Vec<u8>],
    plan: &Plan,
    range: TimeRange,
) where
    DB: Database,
    i64: Encode<'a, DB> + Type<DB>,
    &'a [u8]: Encode<'a, DB> + Type<DB>,
{
    let (time, rest) = source.columns();
    query.push(format_args!("select type, ({time} - "));
    query
        .push_bind(plan.origin_us)
        .push(") / ")
        .push_bind(plan.width.micros());
    query.push(rest);
    let mut listed = query.separated(", ");
    for event_type in types {
        listed.push_bind(event_type.as_slice());
    }
    query
        .push(format_args!(") and {time} >= "))
        .push_bind(range.since_us);
    query
        .push(format_args!(" and {time} < "))
        .push_bind(range.until_us);
    query.push(" group by type, bucket");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::Width;

    fn plan(width: Width, since_us: i64, until_us: i64) -> Plan {
        Plan::new(width, TimeRange { since_us, until_us }).expect("a valid plan")
    }

    fn range(since_us: i64, until_us: i64) -> TimeRange {
        TimeRange { since_us, until_us }
    }

    #[test]
    fn whole_hours_come_from_the_totals_and_partial_ones_from_the_events() {
        let types = [b"a".to_vec()];
        let (since, until) = (HOUR_US / 2, 5 * HOUR_US + 7);
        assert_eq!(
            parts(&types, &plan(Width::Day, since, until)),
            [
                (Source::Hours, range(HOUR_US, 5 * HOUR_US)),
                (Source::Events, range(since, HOUR_US)),
                (Source::Events, range(5 * HOUR_US, until)),
            ]
        );
    }

    #[test]
    fn aligned_ranges_read_no_events_and_short_ones_no_totals() {
        let types = [b"a".to_vec()];
        let aligned = plan(Width::Hour, -3 * HOUR_US, 2 * HOUR_US);
        assert_eq!(
            parts(&types, &aligned),
            [(Source::Hours, range(-3 * HOUR_US, 2 * HOUR_US))]
        );
        let short = plan(Width::Hour, -10, 20);
        assert_eq!(parts(&types, &short), [(Source::Events, range(-10, 20))]);
        assert!(parts(&types, &plan(Width::Hour, 5, 5)).is_empty());
        assert!(parts(&[], &aligned).is_empty());
    }
}
