//! The totals behind `/stats/groups` (table `event_groups`): per hour and combination of type and
//! ids, the events, summed costs and durations, and the largest duration. A batch adds the events
//! it inserted (in its `shard`, in the same transaction, as `hours` does); a prune takes away the
//! events it deleted. Counts and sums are subtracted; a largest duration cannot be, so when a
//! prune removes an event whose duration equals its key's largest, that key's hour is recomputed
//! from the events left (through the index of its id, or of its type). A key left without
//! events loses its rows. Absent ids are '' in this table (see migration 0005).

use std::collections::BTreeMap;

use sqlx::{Database, Encode, QueryBuilder, Type};

use super::hours::{HOUR_US, floor_hour};
use crate::event::NewEvent;

const INSERT_GROUPS: &str = "insert into event_groups (hour_us, type, agent_id, swarm_id, \
    workflow_id, instance_id, webhook_id, shard, events, cost_sum, total_cost_sum, \
    duration_count, duration_sum, duration_max) ";
// A portable "greatest, ignoring NULL": SQLite's max() of a NULL is NULL.
const UPSERT_GROUPS_CONFLICT: &str = " on conflict (hour_us, type, agent_id, swarm_id, \
    workflow_id, instance_id, webhook_id, shard) do update set \
    events = event_groups.events + excluded.events, \
    cost_sum = event_groups.cost_sum + excluded.cost_sum, \
    total_cost_sum = event_groups.total_cost_sum + excluded.total_cost_sum, \
    duration_count = event_groups.duration_count + excluded.duration_count, \
    duration_sum = event_groups.duration_sum + excluded.duration_sum, \
    duration_max = case when excluded.duration_max is null then event_groups.duration_max \
        when event_groups.duration_max is null \
            or excluded.duration_max > event_groups.duration_max then excluded.duration_max \
        else event_groups.duration_max end";
/// Folds the shards of the hours that ended before `$1` into shard 0 (PostgreSQL), as
/// `planner` folds the hourly totals: each batch adds to one of 16 shards of its rows, so a
/// grown log held up to 16 rows per key and hour (2.25 million rows at 10⁷ events, a month
/// grouped by agent in 2.4 s). One statement deletes the other shards and adds exactly what it
/// deleted to shard 0, so no total changes, also with several receivers folding at once.
pub(super) static FOLD_SHARDS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "with moved as (delete from event_groups where hour_us < $1 and shard <> 0 \
            returning hour_us, type, agent_id, swarm_id, workflow_id, instance_id, webhook_id, \
            events, cost_sum, total_cost_sum, duration_count, duration_sum, duration_max) \
        {INSERT_GROUPS} select hour_us, type, agent_id, swarm_id, workflow_id, instance_id, \
            webhook_id, 0, sum(events), sum(cost_sum), sum(total_cost_sum), sum(duration_count), \
            sum(duration_sum), max(duration_max) from moved \
        group by hour_us, type, agent_id, swarm_id, workflow_id, instance_id, webhook_id \
        {UPSERT_GROUPS_CONFLICT}"
    )
});
// PostgreSQL sums bigints as numeric: cast back.
const SELECT_CURRENT: &str = "select hour_us, agent_id, swarm_id, workflow_id, instance_id, \
    webhook_id, cast(sum(events) as bigint) as events, max(duration_max) as duration_max \
    from event_groups where type = ";
const DELETE_KEY: &str = "delete from event_groups where type = ";
const RECOMPUTE_FROM_EVENTS: &str = "count(*), coalesce(sum(cost), 0), \
    coalesce(sum(total_cost), 0), count(duration_ms), coalesce(sum(duration_ms), 0), \
    max(duration_ms) from events where type = ";

/// A row of the table without its type and shard: an hour and the ids ('' when absent).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, sqlx::FromRow)]
pub struct GroupKey {
    /// The start of the hour.
    pub hour_us: i64,
    /// `data.agentId`, or ''.
    pub agent_id: String,
    /// `data.swarmId`, or ''.
    pub swarm_id: String,
    /// `data.workflowId`, or ''.
    pub workflow_id: String,
    /// `instanceId`, or ''.
    pub instance_id: String,
    /// `webhookId`, or ''.
    pub webhook_id: String,
}

/// What a set of events adds to (or, negated, takes from) one row.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GroupTotals {
    /// Events.
    pub events: i64,
    /// Sum of `data.cost`.
    pub cost_sum: f64,
    /// Sum of `data.totalCost`.
    pub total_cost_sum: f64,
    /// Events with a `data.durationMs`.
    pub duration_count: i64,
    /// Sum of `data.durationMs`.
    pub duration_sum: f64,
    /// Largest `data.durationMs`.
    pub duration_max: Option<f64>,
}

/// The columns of an event the totals are made of.
#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow)]
pub struct GroupedEvent {
    /// The event's own time.
    pub ts_us: i64,
    /// `data.cost`.
    pub cost: Option<f64>,
    /// `data.totalCost`.
    pub total_cost: Option<f64>,
    /// `data.durationMs`.
    pub duration_ms: Option<f64>,
    /// The ids, NULL when absent.
    pub agent_id: Option<String>,
    /// See `agent_id`.
    pub swarm_id: Option<String>,
    /// See `agent_id`.
    pub workflow_id: Option<String>,
    /// See `agent_id`.
    pub instance_id: Option<String>,
    /// See `agent_id`.
    pub webhook_id: Option<String>,
}

impl GroupedEvent {
    /// The columns of a new event.
    pub fn of(event: &NewEvent) -> Self {
        let audit = &event.audit;
        Self {
            ts_us: event.timestamp_us,
            cost: event.cost,
            total_cost: audit.total_cost,
            duration_ms: event.duration_ms,
            agent_id: audit.agent_id.clone(),
            swarm_id: audit.swarm_id.clone(),
            workflow_id: audit.workflow_id.clone(),
            instance_id: audit.instance_id.clone(),
            webhook_id: audit.webhook_id.clone(),
        }
    }

    fn key(&self) -> GroupKey {
        let id = |field: &Option<String>| field.clone().unwrap_or_default();
        GroupKey {
            hour_us: floor_hour(self.ts_us),
            agent_id: id(&self.agent_id),
            swarm_id: id(&self.swarm_id),
            workflow_id: id(&self.workflow_id),
            instance_id: id(&self.instance_id),
            webhook_id: id(&self.webhook_id),
        }
    }
}

impl GroupTotals {
    fn add(&mut self, event: &GroupedEvent) {
        self.events += 1;
        self.cost_sum += event.cost.unwrap_or(0.0);
        self.total_cost_sum += event.total_cost.unwrap_or(0.0);
        if let Some(duration) = event.duration_ms {
            self.duration_count += 1;
            self.duration_sum += duration;
            self.duration_max = Some(self.duration_max.map_or(duration, |max| max.max(duration)));
        }
    }

    /// The totals to add to take these away; a largest duration cannot be taken away (see
    /// `PruneStep::Recompute`), so it is left out.
    fn negated(self) -> Self {
        Self {
            events: -self.events,
            cost_sum: -self.cost_sum,
            total_cost_sum: -self.total_cost_sum,
            duration_count: -self.duration_count,
            duration_sum: -self.duration_sum,
            duration_max: None,
        }
    }
}

/// Totals per `(type, key)` of `inserted`, sorted by that key (the order rows are locked in).
pub fn inserted_groups<'a>(
    inserted: impl IntoIterator<Item = &'a NewEvent>,
) -> BTreeMap<(&'a [u8], GroupKey), GroupTotals> {
    let mut groups: BTreeMap<(&[u8], GroupKey), GroupTotals> = BTreeMap::new();
    for event in inserted {
        let grouped = GroupedEvent::of(event);
        let key = (event.event_type.as_bytes(), grouped.key());
        groups.entry(key).or_default().add(&grouped);
    }
    groups
}

/// Totals per key of events of one type, sorted by key.
pub fn totals_by_key<'a>(
    events: impl IntoIterator<Item = &'a GroupedEvent>,
) -> BTreeMap<GroupKey, GroupTotals> {
    let mut groups: BTreeMap<GroupKey, GroupTotals> = BTreeMap::new();
    for event in events {
        groups.entry(event.key()).or_default().add(event);
    }
    groups
}

/// The upsert adding `groups` to their rows in `shard`.
pub fn upsert_groups<'a, DB>(
    groups: impl IntoIterator<Item = (&'a [u8], GroupKey, GroupTotals)>,
    shard: i32,
) -> QueryBuilder<'a, DB>
where
    DB: Database,
    i32: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
    f64: Encode<'a, DB> + Type<DB>,
    Option<f64>: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
    &'a [u8]: Encode<'a, DB> + Type<DB>,
{
    let mut upsert = QueryBuilder::new(INSERT_GROUPS);
    upsert.push_values(groups, |mut row, (event_type, key, totals)| {
        row.push_bind(key.hour_us)
            .push_bind(event_type)
            .push_bind(key.agent_id)
            .push_bind(key.swarm_id)
            .push_bind(key.workflow_id)
            .push_bind(key.instance_id)
            .push_bind(key.webhook_id)
            .push_bind(shard)
            .push_bind(totals.events)
            .push_bind(totals.cost_sum)
            .push_bind(totals.total_cost_sum)
            .push_bind(totals.duration_count)
            .push_bind(totals.duration_sum)
            .push_bind(totals.duration_max);
    });
    upsert.push(UPSERT_GROUPS_CONFLICT);
    upsert
}

/// What a key's rows hold now, all shards together.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CurrentTotals {
    /// The key.
    #[sqlx(flatten)]
    pub key: GroupKey,
    /// Its events.
    pub events: i64,
    /// Its largest duration.
    pub duration_max: Option<f64>,
}

/// What a prune does to one key's rows.
#[derive(Debug, Clone, PartialEq)]
pub enum PruneStep {
    /// Nothing of the key is left: its rows go.
    Drop(GroupKey),
    /// The largest duration may have gone: the rows are rebuilt from the events left.
    Recompute(GroupKey),
    /// Subtract these (negative) totals in shard 0.
    Subtract(GroupKey, GroupTotals),
}

/// Decides, per key a prune removed events of, what to do with its rows, given what the rows
/// hold now (`current`: events and largest duration per key, all shards together).
pub fn prune_steps(
    removed: BTreeMap<GroupKey, GroupTotals>,
    current: Vec<CurrentTotals>,
) -> Vec<PruneStep> {
    let current: BTreeMap<GroupKey, (i64, Option<f64>)> = current
        .into_iter()
        .map(|row| (row.key, (row.events, row.duration_max)))
        .collect();
    removed
        .into_iter()
        .map(|(key, gone)| {
            let (events, max) = current.get(&key).copied().unwrap_or_default();
            if events <= gone.events {
                PruneStep::Drop(key)
            } else if matches!((gone.duration_max, max), (Some(g), Some(m)) if g >= m) {
                PruneStep::Recompute(key)
            } else {
                PruneStep::Subtract(key, gone.negated())
            }
        })
        .collect()
}

/// The statements that carry out `step` on the rows of `event_type`.
pub fn prune_statements<'a, DB>(
    event_type: &'a [u8],
    step: &'a PruneStep,
) -> Vec<QueryBuilder<'a, DB>>
where
    DB: Database,
    i32: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
    f64: Encode<'a, DB> + Type<DB>,
    Option<f64>: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
    &'a [u8]: Encode<'a, DB> + Type<DB>,
{
    match step {
        PruneStep::Drop(key) => vec![delete_key(event_type, key)],
        PruneStep::Recompute(key) => {
            vec![delete_key(event_type, key), recompute_key(event_type, key)]
        }
        // Shard 0 takes the negative totals, as in the daily and hourly totals.
        PruneStep::Subtract(key, totals) => {
            vec![upsert_groups([(event_type, key.clone(), *totals)], 0)]
        }
    }
}

/// `select` of the current events and largest duration per key of `event_type` in `hours`.
pub fn select_current<'a, DB>(event_type: &'a [u8], hours: &[i64]) -> QueryBuilder<'a, DB>
where
    DB: Database,
    i64: Encode<'a, DB> + Type<DB>,
    &'a [u8]: Encode<'a, DB> + Type<DB>,
{
    let mut select = QueryBuilder::new(SELECT_CURRENT);
    select.push_bind(event_type).push(" and hour_us in (");
    let mut listed = select.separated(", ");
    for hour_us in hours {
        listed.push_bind(*hour_us);
    }
    select.push(") group by hour_us, agent_id, swarm_id, workflow_id, instance_id, webhook_id");
    select
}

/// The delete of every shard's row of `key`.
pub fn delete_key<'a, DB>(event_type: &'a [u8], key: &'a GroupKey) -> QueryBuilder<'a, DB>
where
    DB: Database,
    i64: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
    &'a [u8]: Encode<'a, DB> + Type<DB>,
{
    let mut delete = QueryBuilder::new(DELETE_KEY);
    delete.push_bind(event_type);
    delete.push(" and hour_us = ").push_bind(key.hour_us);
    for (column, value) in key_columns(key) {
        delete
            .push(format_args!(" and {column} = "))
            .push_bind(value);
    }
    delete
}

/// The insert of `key`'s one row rebuilt from the events of its hour (none when none is left;
/// run after `delete_key`).
pub fn recompute_key<'a, DB>(event_type: &'a [u8], key: &'a GroupKey) -> QueryBuilder<'a, DB>
where
    DB: Database,
    i64: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
    &'a [u8]: Encode<'a, DB> + Type<DB>,
{
    let mut insert = QueryBuilder::new(INSERT_GROUPS);
    insert.push("select ").push_bind(key.hour_us);
    insert.push(", ").push_bind(event_type);
    for (_, value) in key_columns(key) {
        insert.push(", ").push_bind(value);
    }
    insert
        .push(", 0, ")
        .push(RECOMPUTE_FROM_EVENTS)
        .push_bind(event_type);
    insert.push(" and ts_us >= ").push_bind(key.hour_us);
    insert
        .push(" and ts_us < ")
        .push_bind(key.hour_us.saturating_add(HOUR_US));
    // '' is NULL in the events table; `is null` (not coalesce) keeps the id's index usable.
    for (column, value) in key_columns(key) {
        if value.is_empty() {
            insert.push(format_args!(" and {column} is null"));
        } else {
            insert
                .push(format_args!(" and {column} = "))
                .push_bind(value);
        }
    }
    insert.push(" having count(*) > 0");
    insert
}

/// The id columns of `key`, by name (fixed names, never input).
fn key_columns(key: &GroupKey) -> [(&'static str, &str); 5] {
    [
        ("agent_id", key.agent_id.as_str()),
        ("swarm_id", key.swarm_id.as_str()),
        ("workflow_id", key.workflow_id.as_str()),
        ("instance_id", key.instance_id.as_str()),
        ("webhook_id", key.webhook_id.as_str()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(ts_us: i64, agent: Option<&str>, duration_ms: Option<f64>) -> GroupedEvent {
        GroupedEvent {
            ts_us,
            cost: Some(0.5),
            duration_ms,
            agent_id: agent.map(str::to_owned),
            ..GroupedEvent::default()
        }
    }

    fn key(hour_us: i64, agent: &str) -> GroupKey {
        GroupKey {
            hour_us,
            agent_id: agent.into(),
            ..GroupKey::default()
        }
    }

    #[test]
    fn events_are_totalled_per_hour_and_ids_with_absent_ids_as_empty() {
        let events = [
            event(5, Some("a"), Some(10.0)),
            event(HOUR_US - 1, Some("a"), Some(30.0)),
            event(7, None, None),
            event(HOUR_US, Some("a"), None),
        ];
        let totals: Vec<_> = totals_by_key(&events).into_iter().collect();
        assert_eq!(totals.len(), 3);
        assert_eq!(totals[0].0, key(0, ""));
        assert_eq!(totals[0].1.duration_max, None);
        assert_eq!(totals[1].0, key(0, "a"));
        let a = totals[1].1;
        assert_eq!((a.events, a.duration_count, a.duration_sum), (2, 2, 40.0));
        assert_eq!((a.cost_sum, a.duration_max), (1.0, Some(30.0)));
        assert_eq!(totals[2].0, key(HOUR_US, "a"));
    }

    #[test]
    fn a_prune_drops_emptied_keys_recomputes_lost_maxima_and_subtracts_the_rest() {
        let removed = totals_by_key(&[
            event(0, Some("gone"), Some(5.0)),
            event(0, Some("max"), Some(9.0)),
            event(0, Some("small"), Some(1.0)),
            event(0, Some("none"), None),
        ]);
        let current = [
            ("gone", 1, 5.0),
            ("max", 3, 9.0),
            ("small", 3, 9.0),
            ("none", 2, 4.0),
        ]
        .map(|(agent, events, max)| CurrentTotals {
            key: key(0, agent),
            events,
            duration_max: Some(max),
        });
        let steps = prune_steps(removed, current.to_vec());
        assert_eq!(steps[0], PruneStep::Drop(key(0, "gone")));
        assert_eq!(steps[1], PruneStep::Recompute(key(0, "max")));
        let PruneStep::Subtract(_, none) = &steps[2] else {
            panic!("{:?}", steps[2])
        };
        assert_eq!((none.events, none.duration_count), (-1, 0));
        let PruneStep::Subtract(small_key, small) = &steps[3] else {
            panic!("{:?}", steps[3])
        };
        assert_eq!(*small_key, key(0, "small"));
        assert_eq!(
            (small.events, small.duration_sum, small.duration_max),
            (-1, -1.0, None)
        );
    }
}
