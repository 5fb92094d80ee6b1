//! Query-string parameters, parsed by pure functions so that every bad value becomes a 400 that
//! names the parameter, never a 500. This module holds what every endpoint's parameters share —
//! the raw `key=value` pairs, the `type` filter (comma-separated, the parameter possibly
//! repeated), `since`/`until` as RFC 3339 times, whole-number limits and the `BadParam` error —
//! and its submodules read the rest with them: `filter` the audit filters every event-reading
//! endpoint takes (ids, `data.` fields, `q`), `list` the parameters of `GET /events`, its export
//! and `GET /events/stream`, `stats` those of `GET /stats`, `groups` those of `GET /stats/groups`,
//! `timeline` those of `GET /stats/timeline`, and `notifications` those of `GET /notifications`
//! (the last two only with the `server` feature, as they build the server's types).

mod filter;
mod groups;
mod list;
#[cfg(feature = "server")]
pub mod notifications;
mod stats;
#[cfg(feature = "server")]
mod timeline;

use crate::event::parse_timestamp;

pub use filter::{
    AuditFilters, DataFilter, DataValue, MAX_DATA_WINDOW_US, MAX_FILTER_VALUES, MAX_SEARCH_CHARS,
};
pub use groups::{DEFAULT_GROUPS, GroupBy, GroupCursor, GroupParams, GroupSort, MAX_GROUPS};
pub use list::{DEFAULT_LIMIT, EXPORT_PAGE, ListParams, MAX_LIMIT, StreamParams};
pub use stats::StatsParams;
#[cfg(feature = "server")]
pub use timeline::TimelineParams;

/// Most types one `type` filter may list; a bound keeps the SQL statement small.
pub const MAX_TYPES: usize = 50;

/// A time window over the events' own timestamps, in microseconds: `since <= t < until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// Inclusive lower bound.
    pub since_us: i64,
    /// Exclusive upper bound.
    pub until_us: i64,
}

/// A parameter with a bad value; the message names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadParam(pub String);

/// The `type` filter of a raw query string: every listed type (comma-separated, the parameter
/// possibly repeated), sorted and deduplicated; empty means all types.
pub fn parse_type_filter(query: Option<&str>) -> Result<Vec<String>, BadParam> {
    let mut types = Vec::new();
    for (key, value) in pairs(query) {
        if key == "type" {
            types.extend(parse_types(&value)?);
        }
    }
    types.sort();
    types.dedup();
    if types.len() > MAX_TYPES {
        return Err(bad(format!(
            "type: at most {MAX_TYPES} types may be listed"
        )));
    }
    Ok(types)
}

impl TimeRange {
    /// Everything.
    pub const ALL: Self = Self {
        since_us: i64::MIN,
        until_us: i64::MAX,
    };

    /// Parses `since` and `until` from a raw query string; other parameters are ignored.
    pub fn parse(query: Option<&str>) -> Result<Self, BadParam> {
        let mut range = Self::ALL;
        for (key, value) in pairs(query) {
            match key.as_str() {
                "since" => range.since_us = parse_instant("since", &value)?,
                "until" => range.until_us = parse_instant("until", &value)?,
                _ => {}
            }
        }
        Ok(range)
    }
}

/// The decoded `key=value` pairs of a raw query string, in order, repeats included.
pub(crate) fn pairs(query: Option<&str>) -> impl Iterator<Item = (String, String)> + '_ {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned()
}

/// The first of `names` present in a raw query string, for endpoints that refuse them.
fn first_of<'a>(query: Option<&str>, names: &[&'a str]) -> Option<&'a str> {
    pairs(query).find_map(|(key, _)| names.iter().find(|name| **name == key).copied())
}

/// A limit: a whole number from 1 to `max`, or `None` (the caller's message names the bounds).
fn whole_number_up_to(value: &str, max: u32) -> Option<u32> {
    value.parse().ok().filter(|limit| (1..=max).contains(limit))
}

fn parse_types(value: &str) -> Result<Vec<String>, BadParam> {
    let types: Vec<String> = value.split(',').map(str::to_owned).collect();
    if types.iter().any(String::is_empty) {
        return Err(bad("type: expected a comma-separated list of event types"));
    }
    Ok(types)
}

fn parse_instant(name: &str, value: &str) -> Result<i64, BadParam> {
    parse_timestamp(value)
        .map(|t| t.timestamp_micros())
        .ok_or_else(|| {
            bad(format!(
                "{name}: expected an RFC 3339 time with a time zone"
            ))
        })
}

pub(crate) fn bad(message: impl Into<String>) -> BadParam {
    BadParam(message.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_from_lists_and_repeats_are_merged() {
        let query = "type=agent:complete,agent:error&type=budget%3Awarning&type=agent:error";
        assert_eq!(
            parse_type_filter(Some(query)).unwrap(),
            ["agent:complete", "agent:error", "budget:warning"]
        );
    }

    #[test]
    fn times_are_parsed_with_offsets() {
        let query = "since=2026-11-28T12:00:00%2B02:00&until=2026-11-28T10:00:01Z";
        let range = TimeRange::parse(Some(query)).unwrap();
        assert_eq!(range.since_us, 1_795_860_000_000_000);
        assert_eq!(range.until_us, 1_795_860_001_000_000);
    }

    #[test]
    fn too_many_types_are_refused() {
        let list: Vec<String> = (0..=MAX_TYPES).map(|i| format!("t{i}")).collect();
        let query = format!("type={}", list.join(","));
        assert!(parse_type_filter(Some(&query)).is_err());
    }

    #[test]
    fn limits_and_refused_names() {
        assert_eq!(whole_number_up_to("1", 5), Some(1));
        assert_eq!(whole_number_up_to("5", 5), Some(5));
        for value in ["0", "6", "-1", "x", "", " 1"] {
            assert_eq!(whole_number_up_to(value, 5), None, "{value:?}");
        }
        let query = Some("a=1&cursor=x&limit=2");
        assert_eq!(first_of(query, &["limit", "cursor"]), Some("cursor"));
        assert_eq!(first_of(query, &["b"]), None);
    }
}
