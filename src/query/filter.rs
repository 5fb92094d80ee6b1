//! The audit filters every event-reading endpoint shares (issue 15): the named ids (`agentId`,
//! `swarmId`, `workflowId` from `data`; `instanceId`, `webhookId` from the top level), equality on
//! any top-level `data` field (`data.<field>=<value>`) and the text search `q`. Parsing is pure:
//! every bad value is a `BadParam` naming the parameter. What the filters select is the store's.

use super::{BadParam, TimeRange, bad, pairs};

/// Most values one named filter may list, and most `data.` values in all: a bound keeps the SQL
/// statement (one bound value each) small.
pub const MAX_FILTER_VALUES: usize = 20;
/// Longest `q`, in characters after trimming.
pub const MAX_SEARCH_CHARS: usize = 20 * 10;
/// Longest window a `data.` filter may scan: it has no index, so it reads every event of the
/// window, and the bound keeps that read a month at most.
pub const MAX_DATA_WINDOW_US: i64 = 31 * 24 * 3600 * 1_000_000;
/// Longest `data.` field name.
const MAX_FIELD_CHARS: usize = 64;

/// A value a `data.` filter compares a field with, typed from its text.
#[derive(Debug, Clone, PartialEq)]
pub enum DataValue {
    /// A JSON string literal (`"42"`), or any text that is not a JSON number or boolean.
    String(String),
    /// A JSON number, compared as a number (`42` matches `42.0`). Always finite.
    Number(f64),
    /// `true` or `false`.
    Bool(bool),
}

/// `data.<field>=<value>`, the parameter possibly repeated: the field equals one of the values.
#[derive(Debug, Clone, PartialEq)]
pub struct DataFilter {
    /// A top-level field of `data`: 1 to 64 ASCII letters, digits, `_` or `-`.
    pub field: String,
    /// The values, OR'd, deduplicated, in the order first given.
    pub values: Vec<DataValue>,
}

/// The audit filters of one request. Each list is sorted and deduplicated; an empty list does
/// not filter. Values of one filter are OR'd; different filters AND together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilters {
    /// `agentId`: `data.agentId` is one of these.
    pub agent_ids: Vec<String>,
    /// `swarmId`: `data.swarmId` is one of these.
    pub swarm_ids: Vec<String>,
    /// `workflowId`: `data.workflowId` is one of these.
    pub workflow_ids: Vec<String>,
    /// `instanceId`: the top-level `instanceId` is one of these.
    pub instance_ids: Vec<String>,
    /// `webhookId`: the top-level `webhookId` is one of these.
    pub webhook_ids: Vec<String>,
    /// The `data.` filters, sorted by field.
    pub data: Vec<DataFilter>,
    /// `q`, trimmed: 1 to 200 characters.
    pub search: Option<String>,
}

impl AuditFilters {
    /// Parses the filters from a raw query string; other parameters are ignored. `q` is refused
    /// unless `accepts_search` (only `/events` and its export search).
    pub fn parse(query: Option<&str>, accepts_search: bool) -> Result<Self, BadParam> {
        let mut filters = Self::default();
        let mut data_values = 0;
        for (key, value) in pairs(query) {
            if let Some(ids) = filters.ids_mut(&key) {
                ids.extend(parse_ids(&key, &value)?);
            } else if let Some(field) = key.strip_prefix("data.") {
                filters.push_data(&key, field, &value)?;
                data_values = filters.data.iter().map(|f| f.values.len()).sum();
            } else if key == "q" {
                filters.set_search(&value, accepts_search)?;
            }
            if data_values > MAX_FILTER_VALUES {
                return Err(bad(format!(
                    "{key}: at most {MAX_FILTER_VALUES} data. values may be given in all"
                )));
            }
        }
        filters.finish()?;
        Ok(filters)
    }

    /// Whether no filter is given (the request reads as it did before these filters).
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The rule of `data.` filters, which have no index: they need `since`, and a window (to
    /// `until`, or to `now_us` when it is absent) of at most 31 days. Without one, `Ok`.
    pub fn check_window(&self, range: &TimeRange, now_us: i64) -> Result<(), BadParam> {
        let Some(first) = self.data.first() else {
            return Ok(());
        };
        let until_us = if range.until_us == TimeRange::ALL.until_us {
            now_us
        } else {
            range.until_us
        };
        let since_given = range.since_us != TimeRange::ALL.since_us;
        if since_given && until_us.saturating_sub(range.since_us) <= MAX_DATA_WINDOW_US {
            return Ok(());
        }
        Err(bad(format!(
            "since: data.{} filters read every event of the window, so they need since and a \
             window (to until, or now) of at most 31 days",
            first.field
        )))
    }

    /// The list a named filter fills, by its parameter name.
    fn ids_mut(&mut self, name: &str) -> Option<&mut Vec<String>> {
        match name {
            "agentId" => Some(&mut self.agent_ids),
            "swarmId" => Some(&mut self.swarm_ids),
            "workflowId" => Some(&mut self.workflow_ids),
            "instanceId" => Some(&mut self.instance_ids),
            "webhookId" => Some(&mut self.webhook_ids),
            _ => None,
        }
    }

    fn push_data(&mut self, key: &str, field: &str, value: &str) -> Result<(), BadParam> {
        check_field(key, field)?;
        let value = parse_data_value(key, value)?;
        match self.data.iter_mut().find(|filter| filter.field == field) {
            Some(filter) if filter.values.contains(&value) => {}
            Some(filter) => filter.values.push(value),
            None => self.data.push(DataFilter {
                field: field.to_owned(),
                values: vec![value],
            }),
        }
        Ok(())
    }

    fn set_search(&mut self, value: &str, accepts_search: bool) -> Result<(), BadParam> {
        if !accepts_search {
            return Err(bad(
                "q: not accepted by this endpoint (text search is on /events and /events/export)",
            ));
        }
        if self.search.is_some() {
            return Err(bad("q: give one search, not several"));
        }
        let text = value.trim();
        let chars = text.chars().count();
        if chars == 0 || chars > MAX_SEARCH_CHARS {
            return Err(bad(format!(
                "q: expected 1 to {MAX_SEARCH_CHARS} characters (spaces around are trimmed)"
            )));
        }
        self.search = Some(no_nul("q", text)?.to_owned());
        Ok(())
    }

    /// Sorts and deduplicates the named lists, then bounds each.
    fn finish(&mut self) -> Result<(), BadParam> {
        for name in [
            "agentId",
            "swarmId",
            "workflowId",
            "instanceId",
            "webhookId",
        ] {
            let ids = self.ids_mut(name).expect("every name has a list");
            ids.sort();
            ids.dedup();
            if ids.len() > MAX_FILTER_VALUES {
                return Err(bad(format!(
                    "{name}: at most {MAX_FILTER_VALUES} values may be listed"
                )));
            }
        }
        self.data.sort_by(|a, b| a.field.cmp(&b.field));
        Ok(())
    }
}

/// One named filter's values: comma-separated, none empty.
fn parse_ids(name: &str, value: &str) -> Result<Vec<String>, BadParam> {
    value
        .split(',')
        .map(|id| match id {
            "" => Err(bad(format!(
                "{name}: expected a comma-separated list of ids, none empty"
            ))),
            id => no_nul(name, id).map(str::to_owned),
        })
        .collect()
}

/// A `data.` field: what a top-level key of `data` can be named for this filter.
fn check_field(key: &str, field: &str) -> Result<(), BadParam> {
    let valid = (1..=MAX_FIELD_CHARS).contains(&field.len())
        && field
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        return Ok(());
    }
    Err(bad(format!(
        "{key}: expected data.<field>, the field 1 to {MAX_FIELD_CHARS} letters, digits, _ or - \
         (a top-level field of data)"
    )))
}

/// A `data.` value: an exact JSON number or boolean is typed; an exact JSON string literal is
/// its string; any other text (spaces around included) is that text.
fn parse_data_value(key: &str, text: &str) -> Result<DataValue, BadParam> {
    if text.is_empty() {
        return Err(bad(format!("{key}: expected a value")));
    }
    let typed = match serde_json::from_str(text) {
        // serde_json accepts spaces around a literal; typing only the exact literal keeps one
        // spelling per typed value (` 42` stays the text " 42").
        _ if text.trim() != text => None,
        Ok(serde_json::Value::Number(number)) => number.as_f64().map(DataValue::Number),
        Ok(serde_json::Value::Bool(boolean)) => Some(DataValue::Bool(boolean)),
        Ok(serde_json::Value::String(string)) => Some(DataValue::String(string)),
        _ => None,
    };
    let value = typed.unwrap_or_else(|| DataValue::String(text.to_owned()));
    if let DataValue::String(string) = &value {
        no_nul(key, string)?;
    }
    Ok(value)
}

/// PostgreSQL text cannot hold NUL (binding one fails the query), and no stored id holds one,
/// so a value with NUL is refused rather than sent to the database.
fn no_nul<'a>(name: &str, value: &'a str) -> Result<&'a str, BadParam> {
    if value.contains('\0') {
        return Err(bad(format!("{name}: a value may not hold a NUL character")));
    }
    Ok(value)
}

#[cfg(test)]
mod tests;
