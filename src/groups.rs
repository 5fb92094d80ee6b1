//! `GET /stats/groups`, its pure half: the store reads a window in parts (whole hours from the
//! hourly group totals, partial hours from the events) and answers one row per part and group;
//! here those rows are added up into groups, ordered, and a page is cut after a cursor. Groups
//! are computed whole for every page and then cut: their number is bounded by the ids' (or
//! types', or days') cardinality in the window, never by the number of events.

use std::cmp::Ordering;
use std::collections::HashMap;

use chrono::DateTime;

use crate::query::{GroupCursor, GroupSort};

/// The totals of one group, or of one part of one (a part of the window read in one statement).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GroupSums {
    /// Events.
    pub events: i64,
    /// Sum of `data.cost`.
    pub cost: f64,
    /// Sum of `data.totalCost`.
    pub total_cost: f64,
    /// Events with a `data.durationMs`.
    pub duration_count: i64,
    /// Sum of `data.durationMs`.
    pub duration_sum: f64,
    /// Largest `data.durationMs`.
    pub duration_max: Option<f64>,
}

impl GroupSums {
    fn add(&mut self, other: &Self) {
        self.events += other.events;
        self.cost += other.cost;
        self.total_cost += other.total_cost;
        self.duration_count += other.duration_count;
        self.duration_sum += other.duration_sum;
        self.duration_max = match (self.duration_max, other.duration_max) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

/// One group of the answer.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// The value grouped by (`YYYY-MM-DD` for `day`); null for the events without that field.
    pub key: Option<String>,
    /// Events in the group.
    pub events: i64,
    /// Sum of the numeric `data.cost` values (as `/stats` counts them).
    pub cost: f64,
    /// Sum of the numeric `data.totalCost` values (swarms report theirs there).
    pub total_cost: f64,
    /// Events with a numeric `data.durationMs`.
    pub duration_count: i64,
    /// Mean of those durations; null when there is none.
    pub duration_mean_ms: Option<f64>,
    /// Largest of those durations; null when there is none.
    pub duration_max_ms: Option<f64>,
}

/// The answer of `GET /stats/groups`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupPage {
    /// The grouping asked for (`by`).
    #[schema(pattern = "^(agentId|swarmId|workflowId|instanceId|webhookId|type|day)$")]
    pub by: &'static str,
    /// The groups of this page, in the order asked for.
    pub groups: Vec<Group>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

impl Group {
    fn of(key: Option<String>, sums: GroupSums) -> Self {
        let has_durations = sums.duration_count > 0;
        Self {
            key,
            events: sums.events,
            cost: sums.cost,
            total_cost: sums.total_cost,
            duration_count: sums.duration_count,
            duration_mean_ms: has_durations.then(|| sums.duration_sum / sums.duration_count as f64),
            duration_max_ms: sums.duration_max.filter(|_| has_durations),
        }
    }

    /// Where this group stands in the order: the position a cursor holds.
    fn position(&self) -> GroupCursor {
        GroupCursor {
            events: self.events,
            cost: ordering_cost(self.cost),
            key: self.key.clone(),
        }
    }
}

/// Adds up the rows of the parts into groups (by key), leaving out groups without events.
pub fn fold(parts: impl IntoIterator<Item = (Option<String>, GroupSums)>) -> Vec<Group> {
    let mut groups: HashMap<Option<String>, GroupSums> = HashMap::new();
    for (key, sums) in parts {
        groups.entry(key).or_default().add(&sums);
    }
    groups
        .into_iter()
        .filter(|(_, sums)| sums.events > 0)
        .map(|(key, sums)| Group::of(key, sums))
        .collect()
}

/// The page of `groups` after `cursor` (from the first group without one), in `sort`'s order,
/// with the cursor after its last group when more follow.
pub fn page(
    mut groups: Vec<Group>,
    sort: GroupSort,
    cursor: Option<&GroupCursor>,
    limit: usize,
) -> (Vec<Group>, Option<GroupCursor>) {
    groups.sort_by(|a, b| compare(sort, &a.position(), &b.position()));
    let start = cursor.map_or(0, |after| {
        groups.partition_point(|g| compare(sort, &g.position(), after) != Ordering::Greater)
    });
    let mut page: Vec<Group> = groups.into_iter().skip(start).collect();
    let more = page.len() > limit;
    page.truncate(limit);
    let next = page.last().filter(|_| more).map(Group::position);
    (page, next)
}

/// `sort=cost`: cost descending, then events descending; `sort=events`: the other way round;
/// then the key ascending, with the group without a key last.
fn compare(sort: GroupSort, a: &GroupCursor, b: &GroupCursor) -> Ordering {
    let by_cost = b.cost.partial_cmp(&a.cost).unwrap_or(Ordering::Equal);
    let by_events = b.events.cmp(&a.events);
    let metrics = match sort {
        GroupSort::Cost => by_cost.then(by_events),
        GroupSort::Events => by_events.then(by_cost),
    };
    let key = |c: &GroupCursor| (c.key.is_none(), c.key.clone());
    metrics.then_with(|| key(a).cmp(&key(b)))
}

/// The cost a group is ordered by: to 12 significant digits. A sum of floating-point numbers may
/// differ in its last bits between two reads (the order a database adds rows in is its own), and
/// a cursor compares exactly; so groups are ordered, and cursors hold, costs rounded well above
/// that noise and well below any cost that matters.
pub fn ordering_cost(cost: f64) -> f64 {
    let rounded: f64 = format!("{cost:.11e}").parse().unwrap_or(cost);
    // -0 and 0 are one position, and one spelling in a cursor.
    rounded + 0.0
}

/// The key of a UTC day, from its start: `YYYY-MM-DD`.
pub fn day_key(day_us: i64) -> String {
    DateTime::from_timestamp_micros(day_us)
        .map(|day| day.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| day_us.to_string())
}

#[cfg(test)]
mod tests;
