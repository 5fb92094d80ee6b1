//! The counting behind `GET /stats/timeline`: one grouped query over a range of the covering
//! index `events_by_type_time` (type, time, cost), so neither the table nor the bodies are read.

use sqlx::QueryBuilder;

use super::{Store, on_pool};
use crate::query::TimeRange;
use crate::timeline::{BucketRow, Plan};

// `ts_us - origin` is never negative (the origin is the first bucket's start), so the integer
// division, which truncates towards zero in both databases, is the bucket's index.
const SELECT_BUCKETS: &str = "select type, (ts_us - ";
const SELECT_SPAN: &str = "select min(ts_us), max(ts_us) from events where type in (";

impl Store {
    /// Events and cost per type and bucket of `plan`, for the events of `types` in its range.
    pub async fn timeline(
        &self,
        types: &[Vec<u8>],
        plan: &Plan,
    ) -> Result<Vec<BucketRow>, sqlx::Error> {
        if types.is_empty() || plan.count == 0 {
            return Ok(Vec::new());
        }
        on_pool!(self, read, pool => {
            let mut query = QueryBuilder::new(SELECT_BUCKETS);
            query.push_bind(plan.origin_us).push(") / ").push_bind(plan.width.micros());
            query.push(" as bucket, count(*) as events, sum(cost) as cost from events where type in (");
            let mut listed = query.separated(", ");
            for event_type in types {
                listed.push_bind(event_type.as_slice());
            }
            query.push(") and ts_us >= ").push_bind(plan.range.since_us);
            query.push(" and ts_us < ").push_bind(plan.range.until_us);
            query.push(" group by type, bucket");
            query.build_query_as().fetch_all(pool).await
        })
    }

    /// The oldest and newest timestamps of the events of `types` in `range`, if there is one.
    pub async fn timestamp_span(
        &self,
        types: &[Vec<u8>],
        range: TimeRange,
    ) -> Result<Option<(i64, i64)>, sqlx::Error> {
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
