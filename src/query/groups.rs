//! The parameters of `GET /stats/groups`: what to group by (`by`), the order (`sort`), the page
//! (`limit`, `cursor`) and the filters of `GET /stats/timeline` (`type`, `since`, `until`, the
//! audit filters but `q`). The cursor is the keyset after the last group of a page, made opaque
//! by the shared codec (`token`).

use super::{AuditFilters, BadParam, TimeRange, bad, pairs, parse_type_filter, whole_number_up_to};
use crate::token::{self, BadToken};

/// Most groups one page returns.
pub const MAX_GROUPS: u32 = 1000;
/// Groups per page when `limit` is absent.
pub const DEFAULT_GROUPS: u32 = 100;

/// What `GET /stats/groups` groups the events by (`by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// `data.agentId`.
    AgentId,
    /// `data.swarmId`.
    SwarmId,
    /// `data.workflowId`.
    WorkflowId,
    /// The top-level `instanceId`.
    InstanceId,
    /// The top-level `webhookId`.
    WebhookId,
    /// The event type.
    Type,
    /// The UTC day of the event's timestamp, keyed `YYYY-MM-DD`.
    Day,
}

/// The order of the groups (`sort`); each breaks ties by the other metric, then by key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupSort {
    /// Summed `cost` descending, then events descending.
    #[default]
    Cost,
    /// Events descending, then summed `cost` descending.
    Events,
}

/// The parameters of `GET /stats/groups`.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupParams {
    /// The grouping.
    pub by: GroupBy,
    /// The order of the groups.
    pub sort: GroupSort,
    /// Only these types; empty means all.
    pub types: Vec<String>,
    /// The window over the events' own timestamps.
    pub range: TimeRange,
    /// The audit filters (`q` is refused).
    pub filters: AuditFilters,
    /// Groups per page.
    pub limit: u32,
    /// Where the page starts, if not at the first group.
    pub cursor: Option<GroupCursor>,
}

/// The position after the last group of a page, in the page's order: its metrics and its key.
/// Both orders sort on the same three values, so one cursor shape serves both.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupCursor {
    /// The group's event count.
    pub events: i64,
    /// The group's summed `cost`; finite.
    pub cost: f64,
    /// The group's key; `None` for the events without the grouped field (sorted last).
    pub key: Option<String>,
}

impl GroupBy {
    /// Every grouping, in the order the documentation lists them.
    pub const ALL: [Self; 7] = [
        Self::AgentId,
        Self::SwarmId,
        Self::WorkflowId,
        Self::InstanceId,
        Self::WebhookId,
        Self::Type,
        Self::Day,
    ];

    /// The spelling of `by` (and of the answer's `by`).
    pub fn name(self) -> &'static str {
        match self {
            Self::AgentId => "agentId",
            Self::SwarmId => "swarmId",
            Self::WorkflowId => "workflowId",
            Self::InstanceId => "instanceId",
            Self::WebhookId => "webhookId",
            Self::Type => "type",
            Self::Day => "day",
        }
    }

    /// The grouping spelled `name`, if any (case-sensitive, like every parameter).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|by| by.name() == name)
    }
}

impl GroupSort {
    /// The spelling of `sort`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Cost => "cost",
            Self::Events => "events",
        }
    }

    /// The order spelled `name`, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Cost, Self::Events]
            .into_iter()
            .find(|sort| sort.name() == name)
    }
}

impl GroupParams {
    /// Parses the raw query string; `by` is required.
    pub fn parse(query: Option<&str>) -> Result<Self, BadParam> {
        let (mut by, mut sort, mut limit, mut cursor) = (None, GroupSort::default(), None, None);
        for (key, value) in pairs(query) {
            match key.as_str() {
                "by" => by = Some(GroupBy::from_name(&value).ok_or_else(bad_by)?),
                "sort" => {
                    sort = GroupSort::from_name(&value)
                        .ok_or_else(|| bad("sort: expected cost or events"))?;
                }
                "limit" => limit = Some(parse_limit(&value)?),
                "cursor" => cursor = Some(parse_cursor(&value)?),
                _ => {}
            }
        }
        Ok(Self {
            by: by.ok_or_else(bad_by)?,
            sort,
            types: parse_type_filter(query)?,
            range: TimeRange::parse(query)?,
            filters: AuditFilters::parse(query, false)?,
            limit: limit.unwrap_or(DEFAULT_GROUPS),
            cursor,
        })
    }
}

impl GroupCursor {
    /// The opaque text handed to clients: `<events>:<cost>:` then `n` for no key or `s<key>`.
    pub fn encode(&self) -> String {
        let key = match &self.key {
            None => "n".to_owned(),
            Some(key) => format!("s{key}"),
        };
        token::encode(format!("{}:{}:{key}", self.events, self.cost))
    }

    /// Reads back a cursor produced by `encode`; anything else is refused.
    pub fn decode(text: &str) -> Result<Self, BadToken> {
        let text = token::decode_text(text)?;
        // Neither number holds ':', so the first two end them; keys may hold ':'.
        let mut parts = text.splitn(3, ':');
        let (events, cost, key) = match (parts.next(), parts.next(), parts.next()) {
            (Some(events), Some(cost), Some(key)) => (events, cost, key),
            _ => return Err(BadToken),
        };
        Ok(Self {
            events: token::digits(events)?,
            cost: decode_cost(cost)?,
            key: decode_key(key)?,
        })
    }
}

/// A cost as `encode` writes it: Rust's shortest text that reads back as the same `f64`, so one
/// spelling per value; not-a-number and infinities are never written.
fn decode_cost(text: &str) -> Result<f64, BadToken> {
    let cost: f64 = text.parse().map_err(|_| BadToken)?;
    if !cost.is_finite() || cost.to_string() != text {
        return Err(BadToken);
    }
    Ok(cost)
}

fn decode_key(text: &str) -> Result<Option<String>, BadToken> {
    match text.split_at_checked(1) {
        Some(("n", "")) => Ok(None),
        // A key with NUL could not be stored (PostgreSQL text refuses it), nor bound to a query.
        Some(("s", key)) if !key.contains('\0') => Ok(Some(key.to_owned())),
        _ => Err(BadToken),
    }
}

fn bad_by() -> BadParam {
    let names: Vec<&str> = GroupBy::ALL.iter().map(|by| by.name()).collect();
    bad(format!("by: expected one of {}", names.join(", ")))
}

fn parse_limit(value: &str) -> Result<u32, BadParam> {
    whole_number_up_to(value, MAX_GROUPS).ok_or_else(|| {
        bad(format!(
            "limit: expected a whole number from 1 to {MAX_GROUPS}"
        ))
    })
}

fn parse_cursor(value: &str) -> Result<GroupCursor, BadParam> {
    GroupCursor::decode(value).map_err(|_| bad("cursor: not a cursor returned by this service"))
}

#[cfg(test)]
mod tests;
