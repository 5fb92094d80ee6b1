//! The audit filters (`agentId` …, `data.<field>`) as SQL, for the reads that list events: a page
//! of `GET /events` and its export, and the live stream.
//!
//! A page is read by ONE index, its *driver*: the partial index of the first id filter given, in
//! the order agent, swarm, workflow, instance, webhook (`events_by_agent` …), else the type index
//! as before these filters. It reads one keyset range per value of the driver; every other filter
//! (the types, the other ids, the `data.` fields) is a residual condition on the rows of those
//! ranges. The stream reads by stream position, so there every filter is residual.
//!
//! Values reach SQL only as bound values; the column names pushed as text come from the fixed
//! list in `IdFilter`, and the `data.` field is bound inside its JSON path.

use sqlx::{Database, Encode, Postgres, QueryBuilder, Sqlite, Type};

use crate::query::{AuditFilters, DataFilter, DataValue};

/// A named id filter, in the order a page picks its driving index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdFilter {
    /// `agentId` (`data.agentId`).
    Agent,
    /// `swarmId` (`data.swarmId`).
    Swarm,
    /// `workflowId` (`data.workflowId`).
    Workflow,
    /// `instanceId` (top level).
    Instance,
    /// `webhookId` (top level).
    Webhook,
}

impl IdFilter {
    /// Every id filter, the preferred driver first: the more specific ids first, since the
    /// fewer events a value has, the fewer rows the residual conditions must reject.
    pub const ALL: [Self; 5] = [
        Self::Agent,
        Self::Swarm,
        Self::Workflow,
        Self::Instance,
        Self::Webhook,
    ];

    /// The column of `events` (migration 0005) the id is copied into.
    pub fn column(self) -> &'static str {
        match self {
            Self::Agent => "agent_id",
            Self::Swarm => "swarm_id",
            Self::Workflow => "workflow_id",
            Self::Instance => "instance_id",
            Self::Webhook => "webhook_id",
        }
    }

    /// The values asked for (empty: not filtered).
    pub fn values(self, filters: &AuditFilters) -> &[String] {
        match self {
            Self::Agent => &filters.agent_ids,
            Self::Swarm => &filters.swarm_ids,
            Self::Workflow => &filters.workflow_ids,
            Self::Instance => &filters.instance_ids,
            Self::Webhook => &filters.webhook_ids,
        }
    }

    /// The values asked for, to change (the export reads one value per run).
    pub fn values_mut(self, filters: &mut AuditFilters) -> &mut Vec<String> {
        match self {
            Self::Agent => &mut filters.agent_ids,
            Self::Swarm => &mut filters.swarm_ids,
            Self::Workflow => &mut filters.workflow_ids,
            Self::Instance => &mut filters.instance_ids,
            Self::Webhook => &mut filters.webhook_ids,
        }
    }

    /// The id filter whose index drives a page of `filters`, if any is given.
    pub fn driver(filters: &AuditFilters) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|id| !id.values(filters).is_empty())
    }
}

/// The value of a driving range: a type (bytes, as stored) or an id.
#[derive(Debug, Clone, Copy)]
pub(super) enum RangeKey<'a> {
    /// A range of `events_by_type_time`.
    Type(&'a [u8]),
    /// A range of the driving id's partial index.
    Id(&'a str),
}

/// The driving index of a page and its ranges, one per value.
#[derive(Debug, Clone)]
pub(super) struct Driver<'a> {
    /// The column the ranges are equal on: `type`, or an id's column.
    pub(super) column: &'static str,
    /// One range per value.
    pub(super) keys: Vec<RangeKey<'a>>,
}

impl<'a> Driver<'a> {
    /// The driver of a page filtered by `filters`: its first id filter, else `types` (the types
    /// asked for, or every type stored).
    pub(super) fn of(filters: &'a AuditFilters, types: &'a [Vec<u8>]) -> Self {
        match IdFilter::driver(filters) {
            Some(id) => Self {
                column: id.column(),
                keys: id.values(filters).iter().map(|v| RangeKey::Id(v)).collect(),
            },
            None => Self {
                column: "type",
                keys: types.iter().map(|t| RangeKey::Type(t)).collect(),
            },
        }
    }

    /// Whether the page is driven by the type index (the types were then read from the store
    /// when none was asked for).
    pub(super) fn by_type(filters: &AuditFilters) -> bool {
        IdFilter::driver(filters).is_none()
    }
}

/// What the two backends write differently in a filter.
pub(super) trait FilterSql: Database {
    /// Pushes `column` as a residual condition reads it. SQLite plans without statistics and
    /// takes any index an equality can use, so for `agentId=…&webhookId=…` it may read a
    /// webhook's range (a fifth of the log) for one agent's page: there the residual columns
    /// are hidden from its planner. PostgreSQL plans with statistics: it keeps the driver, or
    /// serves the page from another filter's index when its statistics say that one is more
    /// selective (hiding the column would cost it those statistics, and it then misjudged a
    /// fifth of the log as 0.5 % and sorted a sequential scan instead).
    fn push_residual_column(query: &mut QueryBuilder<'_, Self>, column: &'static str);

    /// Pushes ` and (<the field equals one of the values>)`: an unindexed check on the stored
    /// body that never fails the statement, whatever the body holds.
    fn push_data_filter<'a>(query: &mut QueryBuilder<'a, Self>, filter: &'a DataFilter);
}

impl FilterSql for Sqlite {
    /// SQLite's documented way: a unary `+` keeps a term from using an index.
    fn push_residual_column(query: &mut QueryBuilder<'_, Self>, column: &'static str) {
        query.push(format_args!("+{column}"));
    }

    /// `json_extract` on the body as text, typed by `json_type` (the number 42 is not the string
    /// "42"), inside `json_valid` so that a body SQLite cannot parse is no match rather than an
    /// error. The whole JSON path is bound.
    fn push_data_filter<'a>(query: &mut QueryBuilder<'a, Self>, filter: &'a DataFilter) {
        const BODY: &str = "cast(body as text)";
        let path = format!("$.data.\"{}\"", filter.field);
        query.push(format_args!(" and (case when json_valid({BODY}) then ("));
        for (n, value) in filter.values.iter().enumerate() {
            if n > 0 {
                query.push(" or ");
            }
            query.push(format_args!("json_type({BODY}, "));
            query.push_bind(path.clone());
            match value {
                DataValue::String(text) => {
                    query.push(format_args!(") = 'text' and json_extract({BODY}, "));
                    query.push_bind(path.clone()).push(") = ");
                    query.push_bind(text.as_str());
                }
                DataValue::Number(number) => {
                    query.push(format_args!(
                        ") in ('integer', 'real') and json_extract({BODY}, "
                    ));
                    query.push_bind(path.clone()).push(") = ");
                    query.push_bind(*number);
                }
                DataValue::Bool(flag) => {
                    query
                        .push(") = ")
                        .push_bind(if *flag { "true" } else { "false" });
                }
            }
        }
        query.push(") end)");
    }
}

impl FilterSql for Postgres {
    fn push_residual_column(query: &mut QueryBuilder<'_, Self>, column: &'static str) {
        query.push(column);
    }

    /// The functions of migration 0005, which answer NULL for a field of another JSON type and
    /// for a body PostgreSQL's json cannot read. The path is bound as a `text[]`.
    fn push_data_filter<'a>(query: &mut QueryBuilder<'a, Self>, filter: &'a DataFilter) {
        let path = vec!["data".to_owned(), filter.field.clone()];
        query.push(" and (");
        for (n, value) in filter.values.iter().enumerate() {
            if n > 0 {
                query.push(" or ");
            }
            let function = match value {
                DataValue::String(_) => "dash_events_json_string",
                DataValue::Number(_) => "dash_events_json_number",
                DataValue::Bool(_) => "dash_events_json_boolean",
            };
            query.push(format_args!("{function}(body, "));
            query.push_bind(path.clone()).push(") = ");
            match value {
                DataValue::String(text) => query.push_bind(text.as_str()),
                DataValue::Number(number) => query.push_bind(*number),
                DataValue::Bool(flag) => query.push_bind(*flag),
            };
        }
        query.push(")");
    }
}

/// Pushes the filters a range of `driver_column` does not apply itself, each as
/// ` and <condition>` that no index can serve: the types (unless the range is of the type
/// index), every id filter but the driver, and the `data.` filters. `driver_column` is `None`
/// where the read is by stream position (the stream), so every filter is pushed.
pub(super) fn push_residual<'a, DB>(
    query: &mut QueryBuilder<'a, DB>,
    types: &'a [String],
    filters: &'a AuditFilters,
    driver_column: Option<&str>,
) where
    DB: FilterSql,
    &'a str: Encode<'a, DB> + Type<DB>,
    &'a [u8]: Encode<'a, DB> + Type<DB>,
{
    if !types.is_empty() && driver_column != Some("type") {
        query.push(" and ");
        DB::push_residual_column(query, "type");
        query.push(" in (");
        let mut listed = query.separated(", ");
        for event_type in types {
            listed.push_bind(event_type.as_bytes());
        }
        query.push(")");
    }
    for id in IdFilter::ALL {
        let values = id.values(filters);
        if values.is_empty() || driver_column == Some(id.column()) {
            continue;
        }
        query.push(" and ");
        DB::push_residual_column(query, id.column());
        query.push(" in (");
        let mut listed = query.separated(", ");
        for value in values {
            listed.push_bind(value.as_str());
        }
        query.push(")");
    }
    for filter in &filters.data {
        DB::push_data_filter(query, filter);
    }
}

#[cfg(test)]
mod tests;
