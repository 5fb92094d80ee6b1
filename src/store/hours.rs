//! The hourly totals behind `/stats/timeline`, kept exactly like the daily totals of `rollup`:
//! a batch adds the events it inserted to their hour's row (in its `shard`, in the same
//! transaction), a prune subtracts the events it deleted (in shard 0) and drops the rows of an
//! hour left without events. A timeline sums whole hours from these rows and reads only the
//! partial hours at either end of its range from the events themselves.

use std::collections::BTreeMap;

use sqlx::{Database, Encode, QueryBuilder, Type};

use super::rollup::floor_to;
use crate::event::NewEvent;
use crate::query::TimeRange;

/// One hour in microseconds.
pub const HOUR_US: i64 = 3_600_000_000;

const UPSERT_HOURS: &str = "insert into event_hours (type, hour_us, shard, events, cost_sum) ";
const UPSERT_HOURS_CONFLICT: &str = " on conflict (type, hour_us, shard) do update set \
    events = event_hours.events + excluded.events, \
    cost_sum = event_hours.cost_sum + excluded.cost_sum";
// An hour's rows go only once no event of the type is left in it; the shards of an hour whose
// events were all pruned add up to zero events, but would still list the type in a bucket.
const DROP_EMPTY_HOURS: &str = "delete from event_hours where type = ";
const NO_EVENT_LEFT: &str = " and not exists (select 1 from events where type = ";
const IN_THE_HOUR: &str = " and ts_us >= event_hours.hour_us \
    and ts_us < event_hours.hour_us + 3600000000)";

/// The events and cost sum one statement adds to (or, negative, removes from) one hour.
pub type HourTotals = (i64, f64);

/// The start of the hour holding `micros` (towards the past, also before 1970).
pub fn floor_hour(micros: i64) -> i64 {
    floor_to(micros, HOUR_US)
}

/// The hour holding the start of `part`.
pub fn hour_of(part: TimeRange) -> TimeRange {
    let since_us = floor_hour(part.since_us);
    TimeRange {
        since_us,
        until_us: since_us.saturating_add(HOUR_US),
    }
}

/// What the hour of `part` (a range within one hour) holds besides `part`: the time before it
/// and the time after it, either of them possibly empty.
pub fn rest_of_hour(part: TimeRange) -> [TimeRange; 2] {
    let hour = hour_of(part);
    [
        TimeRange {
            since_us: hour.since_us,
            until_us: part.since_us,
        },
        TimeRange {
            since_us: part.until_us,
            until_us: hour.until_us,
        },
    ]
}

/// Totals per `(type, hour)` of `inserted`, sorted by that key (the order rows are locked in).
pub fn inserted_hours<'a>(
    inserted: impl IntoIterator<Item = &'a NewEvent>,
) -> BTreeMap<(&'a [u8], i64), HourTotals> {
    let mut hours: BTreeMap<(&[u8], i64), HourTotals> = BTreeMap::new();
    for event in inserted {
        let key = (event.event_type.as_bytes(), floor_hour(event.timestamp_us));
        let totals = hours.entry(key).or_default();
        totals.0 += 1;
        totals.1 += event.cost.unwrap_or(0.0);
    }
    hours
}

/// The upsert adding `hours` to their rows in `shard`.
pub fn upsert_hours<'a, DB>(
    hours: impl IntoIterator<Item = ((&'a [u8], i64), HourTotals)>,
    shard: i32,
) -> QueryBuilder<'a, DB>
where
    DB: Database,
    i32: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
    f64: Encode<'a, DB> + Type<DB>,
    &'a [u8]: Encode<'a, DB> + Type<DB>,
{
    let mut upsert = QueryBuilder::new(UPSERT_HOURS);
    upsert.push_values(hours, |mut row, ((event_type, hour_us), totals)| {
        row.push_bind(event_type)
            .push_bind(hour_us)
            .push_bind(shard)
            .push_bind(totals.0)
            .push_bind(totals.1);
    });
    upsert.push(UPSERT_HOURS_CONFLICT);
    upsert
}

/// The delete of the rows of those of `hours` (of `event_type`) that hold no event any more.
pub fn drop_empty_hours<'a, DB>(event_type: &'a [u8], hours: &[i64]) -> QueryBuilder<'a, DB>
where
    DB: Database,
    i64: Encode<'a, DB> + Type<DB>,
    &'a [u8]: Encode<'a, DB> + Type<DB>,
{
    let mut delete = QueryBuilder::new(DROP_EMPTY_HOURS);
    delete.push_bind(event_type).push(" and hour_us in (");
    let mut listed = delete.separated(", ");
    for hour_us in hours {
        listed.push_bind(*hour_us);
    }
    delete.push(")").push(NO_EVENT_LEFT).push_bind(event_type);
    delete.push(IN_THE_HOUR);
    delete
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn event(event_type: &str, timestamp_us: i64, cost: Option<f64>) -> NewEvent {
        NewEvent {
            id: String::new(),
            event_type: event_type.into(),
            timestamp_us,
            content_hash: Vec::new(),
            cost,
            duration_ms: None,
            body: Bytes::new(),
            signature: None,
            audit: Default::default(),
        }
    }

    #[test]
    fn events_are_summed_per_type_and_hour_in_key_order() {
        let events = [
            event("b", 20, None),
            event("a", HOUR_US, None),
            event("a", 10, Some(1.0)),
            event("a", HOUR_US - 1, Some(0.5)),
        ];
        let hours: Vec<_> = inserted_hours(&events).into_iter().collect();
        assert_eq!(
            hours,
            [
                ((&b"a"[..], 0), (2, 1.5)),
                ((&b"a"[..], HOUR_US), (1, 0.0)),
                ((&b"b"[..], 0), (1, 0.0)),
            ]
        );
    }

    #[test]
    fn the_rest_of_an_hour_lies_on_either_side_of_the_part() {
        let part = TimeRange {
            since_us: 5 * HOUR_US + 600,
            until_us: 5 * HOUR_US + 900,
        };
        assert_eq!(
            hour_of(part),
            TimeRange {
                since_us: 5 * HOUR_US,
                until_us: 6 * HOUR_US
            }
        );
        let [before, after] = rest_of_hour(part);
        assert_eq!(
            (before.since_us, before.until_us),
            (5 * HOUR_US, part.since_us)
        );
        assert_eq!(
            (after.since_us, after.until_us),
            (part.until_us, 6 * HOUR_US)
        );
        let to_the_end = TimeRange {
            since_us: part.since_us,
            until_us: 6 * HOUR_US,
        };
        let [_, after] = rest_of_hour(to_the_end);
        assert_eq!(
            after.since_us, after.until_us,
            "nothing after a part to the hour's end"
        );
    }

    #[test]
    fn hours_floor_towards_the_past_also_before_1970() {
        assert_eq!(floor_hour(0), 0);
        assert_eq!(floor_hour(HOUR_US + 5), HOUR_US);
        assert_eq!(floor_hour(-1), -HOUR_US);
        assert_eq!(floor_hour(-HOUR_US), -HOUR_US);
    }
}
