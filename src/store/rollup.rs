//! The daily totals behind `/stats`. A batch adds the events it inserted to their day's row
//! (in the same transaction); a query sums whole days from those rows and reads only the
//! partial days at either end of its window from the events themselves. The hourly totals
//! behind `/stats/timeline` (see `hours`) split their windows the same way, by the hour.

use std::collections::BTreeMap;

use crate::event::NewEvent;
use crate::query::TimeRange;

/// One day in microseconds.
pub const DAY_US: i64 = 86_400_000_000;

/// The totals one batch adds to one `(type, day)` row.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket<'a> {
    /// The event type, as stored.
    pub event_type: &'a [u8],
    /// The start of the day, µs since the epoch.
    pub day_us: i64,
    /// Events added.
    pub events: i64,
    /// Sum of their numeric costs.
    pub cost_sum: f64,
    /// Sum of their numeric durations.
    pub duration_sum: f64,
    /// How many had a numeric duration.
    pub duration_count: i64,
}

/// Totals per `(type, day)` of `inserted`, sorted by that key (the order rows are locked in).
pub fn buckets<'a>(inserted: impl IntoIterator<Item = &'a NewEvent>) -> Vec<Bucket<'a>> {
    let mut by_key: BTreeMap<(&[u8], i64), Bucket<'a>> = BTreeMap::new();
    for event in inserted {
        let key = (event.event_type.as_bytes(), floor_day(event.timestamp_us));
        let bucket = by_key.entry(key).or_insert_with(|| Bucket {
            event_type: key.0,
            day_us: key.1,
            events: 0,
            cost_sum: 0.0,
            duration_sum: 0.0,
            duration_count: 0,
        });
        bucket.events += 1;
        bucket.cost_sum += event.cost.unwrap_or(0.0);
        if let Some(duration) = event.duration_ms {
            bucket.duration_sum += duration;
            bucket.duration_count += 1;
        }
    }
    by_key.into_values().collect()
}

/// How a window splits: whole units (days or hours) read from the totals, the rest from the
/// events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Whole units `[since, until)`, both on unit boundaries; `None` when there is none.
    pub whole: Option<TimeRange>,
    /// Partial ranges read from the events table.
    pub edges: Vec<TimeRange>,
}

/// Splits `range` into whole units of `unit_us` µs (a day or an hour) and the partial units
/// around them.
pub fn split(range: TimeRange, unit_us: i64) -> Split {
    let first = ceil_to(range.since_us, unit_us);
    let last = floor_to(range.until_us, unit_us);
    if first >= last {
        return Split {
            whole: None,
            edges: vec![range],
        };
    }
    let edges = [
        TimeRange {
            since_us: range.since_us,
            until_us: first,
        },
        TimeRange {
            since_us: last,
            until_us: range.until_us,
        },
    ];
    Split {
        whole: Some(TimeRange {
            since_us: first,
            until_us: last,
        }),
        edges: edges
            .into_iter()
            .filter(|e| e.since_us < e.until_us)
            .collect(),
    }
}

/// The start of the day holding `micros`.
pub fn floor_day(micros: i64) -> i64 {
    floor_to(micros, DAY_US)
}

/// The start of the unit of `unit_us` µs (counted from the epoch) holding `micros`.
pub fn floor_to(micros: i64, unit_us: i64) -> i64 {
    // Saturates at i64::MIN, the "no lower bound" of an open window.
    micros.saturating_sub(micros.rem_euclid(unit_us))
}

fn ceil_to(micros: i64, unit_us: i64) -> i64 {
    let floor = floor_to(micros, unit_us);
    if floor == micros {
        micros
    } else {
        floor.saturating_add(unit_us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn event(
        event_type: &str,
        timestamp_us: i64,
        cost: Option<f64>,
        duration_ms: Option<f64>,
    ) -> NewEvent {
        NewEvent {
            id: String::new(),
            event_type: event_type.into(),
            timestamp_us,
            content_hash: Vec::new(),
            cost,
            duration_ms,
            body: Bytes::new(),
            signature: None,
            audit: Default::default(),
        }
    }

    #[test]
    fn events_are_summed_per_type_and_day() {
        let events = [
            event("a", 10, Some(1.0), Some(100.0)),
            event("a", DAY_US - 1, Some(0.5), None),
            event("a", DAY_US, None, Some(300.0)),
            event("b", 20, None, None),
        ];
        let result = buckets(&events);
        assert_eq!(result.len(), 3);
        assert_eq!(
            (result[0].event_type, result[0].day_us, result[0].events),
            (&b"a"[..], 0, 2)
        );
        assert_eq!(
            (
                result[0].cost_sum,
                result[0].duration_sum,
                result[0].duration_count
            ),
            (1.5, 100.0, 1)
        );
        assert_eq!((result[1].day_us, result[1].duration_count), (DAY_US, 1));
        assert_eq!(result[2].event_type, b"b");
    }

    #[test]
    fn days_floor_towards_the_past_also_before_1970() {
        assert_eq!(floor_day(0), 0);
        assert_eq!(floor_day(DAY_US + 5), DAY_US);
        assert_eq!(floor_day(-1), -DAY_US);
    }

    #[test]
    fn a_window_splits_into_whole_days_and_edges() {
        let range = TimeRange {
            since_us: DAY_US / 2,
            until_us: 3 * DAY_US + 7,
        };
        let result = split(range, DAY_US);
        assert_eq!(
            result.whole,
            Some(TimeRange {
                since_us: DAY_US,
                until_us: 3 * DAY_US
            })
        );
        assert_eq!(
            result.edges,
            [
                TimeRange {
                    since_us: DAY_US / 2,
                    until_us: DAY_US
                },
                TimeRange {
                    since_us: 3 * DAY_US,
                    until_us: 3 * DAY_US + 7
                },
            ]
        );
    }

    #[test]
    fn aligned_and_unbounded_windows_have_no_empty_edges() {
        let aligned = split(
            TimeRange {
                since_us: DAY_US,
                until_us: 2 * DAY_US,
            },
            DAY_US,
        );
        assert!(aligned.edges.is_empty());
        let all = split(TimeRange::ALL, DAY_US);
        assert!(all.whole.is_some());
        for edge in all.edges {
            assert!(edge.since_us < edge.until_us);
        }
    }

    #[test]
    fn a_window_inside_one_day_is_read_from_the_events() {
        let range = TimeRange {
            since_us: 10,
            until_us: 20,
        };
        assert_eq!(
            split(range, DAY_US),
            Split {
                whole: None,
                edges: vec![range]
            }
        );
    }
}
