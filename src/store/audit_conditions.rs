//! The audit filters (`AuditFilters`) as SQL conditions, for the statements behind `/stats`,
//! `/stats/timeline` and `/stats/groups`. The named ids are columns of both the events table and
//! the hourly group totals (`event_groups`), with the same names, so one condition serves both;
//! `data.<field>` filters read the stored body, so they apply to the events only. Every value
//! and every `data` field is bound; only the fixed column names are written into the statement.

use sqlx::{Database, Encode, QueryBuilder, Type};

use crate::query::{AuditFilters, DataFilter, DataValue};

/// How a backend reads a field of a stored body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `json_extract` on the body as text, guarded by `json_valid`.
    Sqlite,
    /// The `dash_events_json_*` functions of migration 0005, which answer NULL for a body
    /// PostgreSQL cannot read.
    Postgres,
}

/// The id columns and the values each must be one of; empty lists do not filter.
pub fn id_filters(filters: &AuditFilters) -> [(&'static str, &[String]); 5] {
    [
        ("agent_id", &filters.agent_ids),
        ("swarm_id", &filters.swarm_ids),
        ("workflow_id", &filters.workflow_ids),
        ("instance_id", &filters.instance_ids),
        ("webhook_id", &filters.webhook_ids),
    ]
}

/// Whether any named id filter is given.
pub fn has_id_filter(filters: &AuditFilters) -> bool {
    id_filters(filters).iter().any(|(_, ids)| !ids.is_empty())
}

/// Appends ` and <column> in (…)` for each named id filter given.
pub fn push_id_conditions<'a, DB>(query: &mut QueryBuilder<'a, DB>, filters: &'a AuditFilters)
where
    DB: Database,
    &'a str: Encode<'a, DB> + Type<DB>,
{
    for (column, ids) in id_filters(filters) {
        if ids.is_empty() {
            continue;
        }
        query.push(format_args!(" and {column} in ("));
        let mut listed = query.separated(", ");
        for id in ids {
            listed.push_bind(id.as_str());
        }
        query.push(")");
    }
}

/// Appends one ` and (…)` per `data.` filter: the field holds one of its values, of the same
/// JSON kind (the number 42 is not the string "42").
pub fn push_data_conditions<'a, DB>(
    query: &mut QueryBuilder<'a, DB>,
    filters: &'a AuditFilters,
    dialect: Dialect,
) where
    DB: Database,
    String: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
    f64: Encode<'a, DB> + Type<DB>,
    bool: Encode<'a, DB> + Type<DB>,
{
    for filter in &filters.data {
        query.push(" and (");
        match dialect {
            Dialect::Sqlite => push_sqlite_match(query, filter),
            Dialect::Postgres => push_postgres_match(query, filter),
        }
        query.push(")");
    }
}

/// The body as text: SQLite reads a blob argument as its binary JSONB format.
const SQLITE_BODY: &str = "cast(body as text)";

fn push_sqlite_match<'a, DB>(query: &mut QueryBuilder<'a, DB>, filter: &'a DataFilter)
where
    DB: Database,
    String: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
    f64: Encode<'a, DB> + Type<DB>,
{
    // A quoted label, so a field named like a number or holding '-' is one key of `data`.
    let path = format!("$.data.\"{}\"", filter.field);
    // `case` evaluates in order: json_extract never sees a body json_valid refused.
    query.push(format_args!("case when json_valid({SQLITE_BODY}) then "));
    let mut first = true;
    for (kinds, values) in kinds_and_values(filter) {
        query.push(if first { "(" } else { " or (" });
        first = false;
        query.push(format_args!("json_type({SQLITE_BODY}, "));
        query
            .push_bind(path.clone())
            .push(format_args!(") in ({kinds})"));
        if let Some(values) = values {
            query.push(format_args!(" and json_extract({SQLITE_BODY}, "));
            query.push_bind(path.clone()).push(") in (");
            push_values(query, values);
            query.push(")");
        }
        query.push(")");
    }
    query.push(" else 0 end");
}

fn push_postgres_match<'a, DB>(query: &mut QueryBuilder<'a, DB>, filter: &'a DataFilter)
where
    DB: Database,
    &'a str: Encode<'a, DB> + Type<DB>,
    f64: Encode<'a, DB> + Type<DB>,
    bool: Encode<'a, DB> + Type<DB>,
{
    let mut alternatives = query.separated(" or ");
    for value in &filter.values {
        let function = match value {
            DataValue::String(_) => "dash_events_json_string",
            DataValue::Number(_) => "dash_events_json_number",
            DataValue::Bool(_) => "dash_events_json_boolean",
        };
        alternatives.push(format_args!("{function}(body, array['data', "));
        alternatives.push_bind_unseparated(filter.field.as_str());
        alternatives.push_unseparated("::text]) = ");
        match value {
            DataValue::String(text) => alternatives.push_bind_unseparated(text.as_str()),
            DataValue::Number(number) => alternatives.push_bind_unseparated(*number),
            DataValue::Bool(flag) => alternatives.push_bind_unseparated(*flag),
        };
    }
}

/// A filter's values by the SQLite `json_type`s they match: strings and numbers compare their
/// values; `true` and `false` are types of their own.
fn kinds_and_values(filter: &DataFilter) -> Vec<(&'static str, Option<Vec<&DataValue>>)> {
    let of = |wanted: fn(&DataValue) -> bool| -> Vec<&DataValue> {
        filter.values.iter().filter(|v| wanted(v)).collect()
    };
    let strings = of(|v| matches!(v, DataValue::String(_)));
    let numbers = of(|v| matches!(v, DataValue::Number(_)));
    let mut kinds = Vec::new();
    if !strings.is_empty() {
        kinds.push(("'text'", Some(strings)));
    }
    if !numbers.is_empty() {
        kinds.push(("'integer', 'real'", Some(numbers)));
    }
    for (flag, kind) in [(true, "'true'"), (false, "'false'")] {
        if filter.values.contains(&DataValue::Bool(flag)) {
            kinds.push((kind, None));
        }
    }
    kinds
}

fn push_values<'a, DB>(query: &mut QueryBuilder<'a, DB>, values: Vec<&'a DataValue>)
where
    DB: Database,
    &'a str: Encode<'a, DB> + Type<DB>,
    f64: Encode<'a, DB> + Type<DB>,
{
    let mut listed = query.separated(", ");
    for value in values {
        match value {
            DataValue::String(text) => listed.push_bind(text.as_str()),
            DataValue::Number(number) => listed.push_bind(*number),
            DataValue::Bool(_) => &mut listed,
        };
    }
}
