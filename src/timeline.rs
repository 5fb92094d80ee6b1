//! `GET /stats/timeline`: events per type and cost per time bucket, for the web page's charts.
//! The bucket arithmetic and the assembly of the answer are pure; the parameters are read by
//! `query` (`TimelineParams`, re-exported here), and the counting itself is one grouped query in
//! the database (`store::timeline`).
//!
//! Buckets are whole UTC hours or days. The first starts at the hour (day) holding `since`, the
//! last holds the instant just before `until`, so the first and last may count only part of their
//! span. A bound that is not given is taken from the matching events themselves.

use std::collections::BTreeMap;

use crate::event::format_micros;
pub use crate::query::TimelineParams;
use crate::query::{BadParam, TimeRange, bad};

/// Most buckets one answer holds; a wider range must use a larger bucket or be narrowed.
pub const MAX_BUCKETS: i64 = 2000;

/// The width of a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    /// One UTC hour.
    Hour,
    /// One UTC day.
    Day,
}

impl Width {
    /// Its length in microseconds.
    pub fn micros(self) -> i64 {
        match self {
            Self::Hour => 3_600_000_000,
            Self::Day => 86_400_000_000,
        }
    }

    /// Its name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hour => "hour",
            Self::Day => "day",
        }
    }
}

/// The buckets of one answer: `count` buckets of `width`, the first starting at `origin_us`,
/// over the events in `range`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// The width of each bucket.
    pub width: Width,
    /// The events counted: `since <= t < until`.
    pub range: TimeRange,
    /// The start of the first bucket (`range.since` rounded down to the bucket).
    pub origin_us: i64,
    /// How many buckets.
    pub count: i64,
}

impl Plan {
    /// The buckets covering `range`, or a 400 naming `bucket` when there would be more than
    /// `MAX_BUCKETS`.
    pub fn new(width: Width, range: TimeRange) -> Result<Self, BadParam> {
        let step = i128::from(width.micros());
        let since = i128::from(range.since_us);
        let origin = since - since.rem_euclid(step);
        let span = (i128::from(range.until_us) - origin).max(0);
        let count = (span + step - 1) / step;
        if range.until_us <= range.since_us {
            return Ok(Self::empty(width, range));
        }
        if count > i128::from(MAX_BUCKETS) {
            return Err(bad(format!(
                "bucket: this range holds {count} buckets of one {}, at most {MAX_BUCKETS}; \
                 choose a larger bucket or a narrower since/until",
                width.as_str()
            )));
        }
        // Both fit: origin lies within a bucket below since, and count is at most MAX_BUCKETS.
        Ok(Self {
            width,
            range,
            origin_us: i64::try_from(origin).unwrap_or(range.since_us),
            count: i64::try_from(count).unwrap_or(0),
        })
    }

    /// No buckets at all (an empty range, or no event to take a missing bound from).
    pub fn empty(width: Width, range: TimeRange) -> Self {
        Self {
            width,
            range,
            origin_us: range.since_us,
            count: 0,
        }
    }
}

/// What the database answers: the events of one type in one bucket.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct BucketRow {
    /// The event type, as stored (UTF-8 bytes).
    #[sqlx(rename = "type")]
    pub event_type: Vec<u8>,
    /// The bucket's index from the plan's origin.
    pub bucket: i64,
    /// How many events.
    pub events: i64,
    /// Sum of their numeric `data.cost` (as `/stats` counts it), if any.
    pub cost: Option<f64>,
}

/// The answer of `GET /stats/timeline`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Timeline {
    /// `hour` or `day`.
    #[schema(pattern = "^(hour|day)$")]
    pub bucket: &'static str,
    /// The start of the events counted (given, or the oldest matching event); null when not
    /// given and no event matches.
    #[schema(format = DateTime)]
    pub since: Option<String>,
    /// The end (exclusive) of the events counted (given, or just after the newest matching
    /// event); null when not given and no event matches.
    #[schema(format = DateTime)]
    pub until: Option<String>,
    /// Every bucket of the range, oldest first, also the empty ones.
    pub buckets: Vec<TimelineBucket>,
}

/// One bucket of the timeline.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct TimelineBucket {
    /// The start of the bucket, a whole UTC hour or day.
    #[schema(format = DateTime)]
    pub start: String,
    /// Events per type in the bucket; types without events are left out.
    pub counts: BTreeMap<String, i64>,
    /// Sum of the numeric `data.cost` of the bucket's events.
    pub cost: f64,
}

impl Timeline {
    /// Every bucket of `plan`, filled from `rows`. An open bound (`TimeRange::ALL`'s, left when
    /// no event could supply it) is answered as null.
    pub fn assemble(plan: &Plan, rows: Vec<BucketRow>) -> Self {
        let width = plan.width.micros();
        let mut buckets: Vec<TimelineBucket> = (0..plan.count)
            .map(|n| TimelineBucket {
                start: format_micros(plan.origin_us.saturating_add(n.saturating_mul(width))),
                counts: BTreeMap::new(),
                cost: 0.0,
            })
            .collect();
        for row in rows {
            let Some(bucket) = usize::try_from(row.bucket)
                .ok()
                .and_then(|n| buckets.get_mut(n))
            else {
                continue;
            };
            let event_type = String::from_utf8_lossy(&row.event_type).into_owned();
            *bucket.counts.entry(event_type).or_insert(0) += row.events;
            bucket.cost += row.cost.unwrap_or(0.0);
        }
        let bound = |micros: i64, open: i64| (micros != open).then(|| format_micros(micros));
        Self {
            bucket: plan.width.as_str(),
            since: bound(plan.range.since_us, TimeRange::ALL.since_us),
            until: bound(plan.range.until_us, TimeRange::ALL.until_us),
            buckets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000_000;

    fn range(since_us: i64, until_us: i64) -> TimeRange {
        TimeRange { since_us, until_us }
    }

    #[test]
    fn buckets_align_to_whole_hours_and_cover_until() {
        let plan = Plan::new(Width::Hour, range(HOUR + 5, 3 * HOUR + 1)).unwrap();
        assert_eq!((plan.origin_us, plan.count), (HOUR, 3));
        let plan = Plan::new(Width::Hour, range(HOUR, 3 * HOUR)).unwrap();
        assert_eq!((plan.origin_us, plan.count), (HOUR, 2));
    }

    #[test]
    fn buckets_before_1970_floor_towards_the_past() {
        let plan = Plan::new(Width::Day, range(-1, 1)).unwrap();
        assert_eq!((plan.origin_us, plan.count), (-Width::Day.micros(), 2));
    }

    #[test]
    fn empty_and_inverted_ranges_have_no_buckets() {
        assert_eq!(Plan::new(Width::Hour, range(5, 5)).unwrap().count, 0);
        assert_eq!(Plan::new(Width::Hour, range(9, 5)).unwrap().count, 0);
    }

    #[test]
    fn too_many_buckets_name_the_bucket_parameter() {
        let err = Plan::new(Width::Hour, range(0, (MAX_BUCKETS + 1) * HOUR)).unwrap_err();
        assert!(err.0.starts_with("bucket:"), "{}", err.0);
        assert!(Plan::new(Width::Hour, range(0, MAX_BUCKETS * HOUR)).is_ok());
        assert!(Plan::new(Width::Day, TimeRange::ALL).is_err());
    }

    #[test]
    fn rows_fill_their_buckets_and_empty_buckets_stay() {
        let plan = Plan::new(Width::Hour, range(0, 3 * HOUR)).unwrap();
        let row = |t: &str, bucket, events, cost| BucketRow {
            event_type: t.as_bytes().to_vec(),
            bucket,
            events,
            cost,
        };
        let rows = vec![
            row("a", 0, 2, Some(0.5)),
            row("b", 0, 1, None),
            row("a", 2, 1, Some(0.25)),
        ];
        let timeline = Timeline::assemble(&plan, rows);
        assert_eq!(timeline.buckets.len(), 3);
        assert_eq!(timeline.buckets[0].start, "1970-01-01T00:00:00Z");
        assert_eq!(
            timeline.buckets[0].counts,
            BTreeMap::from([("a".into(), 2), ("b".into(), 1)])
        );
        assert_eq!(timeline.buckets[0].cost, 0.5);
        assert!(timeline.buckets[1].counts.is_empty());
        assert_eq!(
            (timeline.buckets[2].start.as_str(), timeline.buckets[2].cost),
            ("1970-01-01T02:00:00Z", 0.25)
        );
        assert_eq!(timeline.until.as_deref(), Some("1970-01-01T03:00:00Z"));
    }
}
