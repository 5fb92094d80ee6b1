//! One statement of a grouped read (`groups`): the sums of the events or of the hourly group
//! totals over one part of a window, grouped by one dimension, with the types, ids and `data.`
//! fields filtered. Both sources answer the same columns, so each part decodes alike.

use sqlx::{Database, Encode, QueryBuilder, Type};

use super::audit_conditions::{self, Dialect};
use super::groups::Scope;
use super::{hours, rollup};
use crate::groups::GroupSums;
use crate::query::{GroupBy, TimeRange};

/// Where one part of a window is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The hourly group totals, over the hours starting in the range.
    Totals,
    /// The events themselves.
    Events,
    /// A partial hour as its hour's totals less the events of the rest of that hour, in one
    /// statement (so both sides read the same snapshot). Only for `Measures::Stats`, whose sums
    /// can be subtracted (a maximum cannot).
    TotalsLessRest,
}

/// What a statement sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measures {
    /// Everything `/stats/groups` answers.
    All,
    /// What `/stats` answers: counts, cost and durations. The type index carries these columns,
    /// so a partial hour is read from that index alone, without a row lookup per event (the
    /// rows of an hour lie scattered over the table when the log is backfilled).
    Stats,
}

/// The types a statement is limited to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Types {
    /// No condition: an id filter leads to the events through that id's index.
    Any,
    /// `type in (…)`: given, or every stored type (so the type index leads).
    Listed(Vec<Vec<u8>>),
}

/// The sums of one part, with the key as each grouping stores it.
#[derive(sqlx::FromRow)]
pub struct PartRow<K> {
    group_key: Option<K>,
    events: i64,
    cost: Option<f64>,
    total_cost: Option<f64>,
    duration_count: i64,
    duration_sum: Option<f64>,
    duration_max: Option<f64>,
}

impl<K> PartRow<K> {
    /// The group's key (made by `key` from the stored one; none when absent) and its sums.
    pub fn into_part(self, key: impl FnOnce(K) -> Option<String>) -> (Option<String>, GroupSums) {
        let sums = GroupSums {
            events: self.events,
            cost: self.cost.unwrap_or(0.0),
            total_cost: self.total_cost.unwrap_or(0.0),
            duration_count: self.duration_count,
            duration_sum: self.duration_sum.unwrap_or(0.0),
            duration_max: self.duration_max,
        };
        (self.group_key.and_then(key), sums)
    }
}

/// One statement of a grouped read.
pub struct Part<'s> {
    /// The grouping.
    pub by: GroupBy,
    /// Where it reads.
    pub source: Source,
    /// The types it is limited to.
    pub types: &'s Types,
    /// The filters (its window is `range`).
    pub scope: Scope<'s>,
    /// The part of the window it reads: whole hours for the totals.
    pub range: TimeRange,
}

/// The totals' and the events' sums, under the same names.
const TOTALS_SUMS: &str = "cast(sum(events) as bigint) as events, sum(cost_sum) as cost, \
    sum(total_cost_sum) as total_cost, cast(sum(duration_count) as bigint) as duration_count, \
    sum(duration_sum) as duration_sum, max(duration_max) as duration_max from event_groups where ";
const EVENTS_SUMS: &str = "count(*) as events, sum(cost) as cost, sum(total_cost) as total_cost, \
    count(duration_ms) as duration_count, sum(duration_ms) as duration_sum, \
    max(duration_ms) as duration_max from events where ";
/// `EVENTS_SUMS` for `Measures::Stats`: the columns `/stats` does not answer are null.
const EVENTS_STATS_SUMS: &str = "count(*) as events, sum(cost) as cost, \
    cast(null as double precision) as total_cost, count(duration_ms) as duration_count, \
    sum(duration_ms) as duration_sum, cast(null as double precision) as duration_max \
    from events where ";
/// `EVENTS_STATS_SUMS` negated: what the rest of an hour takes off the hour's totals.
const EVENTS_STATS_LESS: &str = "-count(*) as events, -sum(cost) as cost, \
    cast(null as double precision) as total_cost, -count(duration_ms) as duration_count, \
    -sum(duration_ms) as duration_sum, cast(null as double precision) as duration_max \
    from events where ";

impl Part<'_> {
    /// Appends the statement to `query`.
    pub fn push<'a, DB>(&self, query: &mut QueryBuilder<'a, DB>, dialect: Dialect)
    where
        DB: Database,
        i64: Encode<'a, DB> + Type<DB>,
        f64: Encode<'a, DB> + Type<DB>,
        bool: Encode<'a, DB> + Type<DB>,
        String: Encode<'a, DB> + Type<DB>,
        &'a str: Encode<'a, DB> + Type<DB>,
        Vec<u8>: Encode<'a, DB> + Type<DB>,
        Self: 'a,
    {
        let events_sums = match self.scope.measures {
            Measures::All => EVENTS_SUMS,
            Measures::Stats => EVENTS_STATS_SUMS,
        };
        match self.source {
            Source::Totals => self.push_select(query, dialect, Leg::Totals, self.range),
            Source::Events => {
                self.push_select(query, dialect, Leg::Events(events_sums), self.range)
            }
            Source::TotalsLessRest => {
                debug_assert_eq!(self.scope.measures, Measures::Stats);
                self.push_select(query, dialect, Leg::Totals, hours::hour_of(self.range));
                let rest = hours::rest_of_hour(self.range);
                for side in rest.into_iter().filter(|r| r.since_us < r.until_us) {
                    query.push(" union all ");
                    self.push_select(query, dialect, Leg::Events(EVENTS_STATS_LESS), side);
                }
            }
        }
    }

    /// Appends one `select … group by` of `leg` over `range`.
    fn push_select<'a, DB>(
        &self,
        query: &mut QueryBuilder<'a, DB>,
        dialect: Dialect,
        leg: Leg,
        range: TimeRange,
    ) where
        DB: Database,
        i64: Encode<'a, DB> + Type<DB>,
        f64: Encode<'a, DB> + Type<DB>,
        bool: Encode<'a, DB> + Type<DB>,
        String: Encode<'a, DB> + Type<DB>,
        &'a str: Encode<'a, DB> + Type<DB>,
        Vec<u8>: Encode<'a, DB> + Type<DB>,
        Self: 'a,
    {
        let (time, sums) = match leg {
            Leg::Totals => ("hour_us", TOTALS_SUMS),
            Leg::Events(sums) => ("ts_us", sums),
        };
        query.push(format_args!(
            "select {} as group_key, {sums}",
            key_column(self.by, time)
        ));
        push_window(query, time, range);
        push_types(query, self.types);
        audit_conditions::push_id_conditions(query, self.scope.filters);
        if let Leg::Events(_) = leg {
            audit_conditions::push_data_conditions(query, self.scope.filters, dialect);
        }
        query.push(" group by 1");
    }
}

/// One `select` of a statement: the hourly group totals, or the events with these sums.
#[derive(Clone, Copy)]
enum Leg {
    Totals,
    Events(&'static str),
}

/// The grouped column (fixed names, never input); a day is the UTC day holding the hour or the
/// event (`%` truncates towards zero in both databases, so the remainder is made non-negative).
fn key_column(by: GroupBy, time: &str) -> String {
    let column = match by {
        GroupBy::AgentId => "agent_id",
        GroupBy::SwarmId => "swarm_id",
        GroupBy::WorkflowId => "workflow_id",
        GroupBy::InstanceId => "instance_id",
        GroupBy::WebhookId => "webhook_id",
        GroupBy::Type => "type",
        GroupBy::Day => {
            let day = rollup::DAY_US;
            return format!("{time} - ((({time} % {day}) + {day}) % {day})");
        }
    };
    column.to_owned()
}

/// `<time> >= since and <time> < until`.
pub fn push_window<'a, DB>(query: &mut QueryBuilder<'a, DB>, time: &str, range: TimeRange)
where
    DB: Database,
    i64: Encode<'a, DB> + Type<DB>,
{
    query
        .push(format_args!("{time} >= "))
        .push_bind(range.since_us);
    query
        .push(format_args!(" and {time} < "))
        .push_bind(range.until_us);
}

/// ` and type in (…)` when the types are listed.
pub fn push_types<'a, DB>(query: &mut QueryBuilder<'a, DB>, types: &Types)
where
    DB: Database,
    Vec<u8>: Encode<'a, DB> + Type<DB>,
{
    let Types::Listed(types) = types else { return };
    query.push(" and type in (");
    let mut listed = query.separated(", ");
    for event_type in types {
        listed.push_bind(event_type.clone());
    }
    query.push(")");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_computed_from_the_time_column_of_the_source() {
        let day = key_column(GroupBy::Day, "hour_us");
        assert!(
            day.starts_with("hour_us - (((hour_us % 86400000000)"),
            "{day}"
        );
        assert_eq!(key_column(GroupBy::AgentId, "ts_us"), "agent_id");
        assert_eq!(key_column(GroupBy::Type, "ts_us"), "type");
    }
}
