//! Query-string parameters of `GET /events` and `GET /stats`, parsed by pure functions so that
//! every bad value becomes a 400 that names the parameter, never a 500.

use crate::cursor::Cursor;
use crate::event::parse_timestamp;

/// Largest page `GET /events` returns.
pub const MAX_LIMIT: u32 = 1000;
/// Page size when `limit` is absent.
pub const DEFAULT_LIMIT: u32 = 100;
/// Events per page the export reads from the store: small enough that a page in memory is a
/// few hundred kB, large enough that a page costs little more than its rows.
pub const EXPORT_PAGE: u32 = 250;
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

/// The filters and page of `GET /events`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListParams {
    /// Only these types; empty means all.
    pub types: Vec<String>,
    /// The time window.
    pub range: TimeRange,
    /// Page size.
    pub limit: u32,
    /// Where the page starts, if not at the newest event.
    pub cursor: Option<Cursor>,
}

/// The filters of `GET /events/stream`: those of `GET /events`, without its paging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamParams {
    /// Only these types; empty means all.
    pub types: Vec<String>,
    /// The window over the events' own timestamps.
    pub range: TimeRange,
}

/// A parameter with a bad value; the message names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadParam(pub String);

impl ListParams {
    /// Parses the raw query string of `GET /events`.
    pub fn parse(query: Option<&str>) -> Result<Self, BadParam> {
        let mut params = Self {
            types: parse_type_filter(query)?,
            range: TimeRange::parse(query)?,
            limit: DEFAULT_LIMIT,
            cursor: None,
        };
        for (key, value) in pairs(query) {
            match key.as_str() {
                "limit" => params.limit = parse_limit(&value)?,
                "cursor" => params.cursor = Some(parse_cursor(&value)?),
                _ => {}
            }
        }
        Ok(params)
    }
}

impl StreamParams {
    /// Parses the raw query string of `GET /events/stream`: `type`, `since` and `until` exactly
    /// as `GET /events` does. A stream is not paged, so `limit` and `cursor` are refused rather
    /// than ignored (a client sending them expects something this endpoint does not do).
    pub fn parse(query: Option<&str>) -> Result<Self, BadParam> {
        if let Some((key, _)) = pairs(query).find(|(key, _)| key == "limit" || key == "cursor") {
            return Err(bad(format!(
                "{key}: not accepted by /events/stream (it is not paged; resume with Last-Event-ID)"
            )));
        }
        let list = ListParams::parse(query)?;
        Ok(Self {
            types: list.types,
            range: list.range,
        })
    }
}

impl ListParams {
    /// Parses the raw query string of `GET /events/export`: the filters of `GET /events`, read
    /// the same way; `limit` and `cursor` are refused, since an export is every matching event.
    /// The page size is the one the export reads the store with.
    pub fn parse_export(query: Option<&str>) -> Result<Self, BadParam> {
        if let Some((key, _)) = pairs(query).find(|(key, _)| key == "limit" || key == "cursor") {
            return Err(bad(format!(
                "{key}: not accepted by the export, which returns every matching event"
            )));
        }
        Ok(Self {
            limit: EXPORT_PAGE,
            ..Self::parse(query)?
        })
    }
}

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

pub(crate) fn pairs(query: Option<&str>) -> impl Iterator<Item = (String, String)> + '_ {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned()
}

fn parse_types(value: &str) -> Result<Vec<String>, BadParam> {
    let types: Vec<String> = value.split(',').map(str::to_owned).collect();
    if types.iter().any(String::is_empty) {
        return Err(bad("type: expected a comma-separated list of event types"));
    }
    Ok(types)
}

fn parse_limit(value: &str) -> Result<u32, BadParam> {
    value
        .parse()
        .ok()
        .filter(|limit| (1..=MAX_LIMIT).contains(limit))
        .ok_or_else(|| {
            bad(format!(
                "limit: expected a whole number from 1 to {MAX_LIMIT}"
            ))
        })
}

fn parse_cursor(value: &str) -> Result<Cursor, BadParam> {
    Cursor::decode(value).map_err(|_| bad("cursor: not a cursor returned by this service"))
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
    fn defaults_when_empty() {
        let params = ListParams::parse(None).unwrap();
        assert_eq!(params.limit, DEFAULT_LIMIT);
        assert_eq!(params.range, TimeRange::ALL);
        assert!(params.types.is_empty() && params.cursor.is_none());
    }

    #[test]
    fn types_from_lists_and_repeats_are_merged() {
        let query = "type=agent:complete,agent:error&type=budget%3Awarning&type=agent:error";
        let params = ListParams::parse(Some(query)).unwrap();
        assert_eq!(
            params.types,
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
    fn bad_values_name_the_parameter() {
        let cases = [
            ("limit=0", "limit"),
            ("limit=1001", "limit"),
            ("limit=abc", "limit"),
            ("limit=-1", "limit"),
            ("since=yesterday", "since"),
            ("until=2026-11-28T10:00:00", "until"),
            ("cursor=%%%", "cursor"),
            ("cursor=", "cursor"),
            ("type=", "type"),
            ("type=a,,b", "type"),
        ];
        for (query, name) in cases {
            let err = ListParams::parse(Some(query)).expect_err(query);
            assert!(err.0.starts_with(name), "{query}: {:?}", err.0);
        }
    }

    #[test]
    fn limit_bounds_are_inclusive() {
        assert_eq!(ListParams::parse(Some("limit=1")).unwrap().limit, 1);
        assert_eq!(ListParams::parse(Some("limit=1000")).unwrap().limit, 1000);
    }

    #[test]
    fn stream_filters_parse_like_the_list_and_refuse_paging() {
        let query = "type=b,a&since=2026-11-28T10:00:00Z&other=x";
        let params = StreamParams::parse(Some(query)).unwrap();
        let list = ListParams::parse(Some(query)).unwrap();
        assert_eq!((params.types, params.range), (list.types, list.range));
        for (query, name) in [
            ("limit=10", "limit"),
            ("cursor=x", "cursor"),
            ("type=", "type"),
        ] {
            let err = StreamParams::parse(Some(query)).expect_err(query);
            assert!(err.0.starts_with(name), "{query}: {:?}", err.0);
        }
    }

    #[test]
    fn export_takes_the_filters_and_refuses_paging() {
        let query = "type=a,b&since=2026-11-28T10:00:00Z";
        let params = ListParams::parse_export(Some(query)).unwrap();
        assert_eq!(params.types, ["a", "b"]);
        assert_eq!(params.limit, EXPORT_PAGE);
        assert_eq!(params.range, TimeRange::parse(Some(query)).unwrap());
        for (query, name) in [
            ("limit=5", "limit"),
            ("cursor=x", "cursor"),
            ("since=x", "since"),
        ] {
            let err = ListParams::parse_export(Some(query)).expect_err(query);
            assert!(err.0.starts_with(name), "{query}: {:?}", err.0);
        }
    }

    #[test]
    fn too_many_types_are_refused() {
        let list: Vec<String> = (0..=MAX_TYPES).map(|i| format!("t{i}")).collect();
        let query = format!("type={}", list.join(","));
        assert!(ListParams::parse(Some(&query)).is_err());
    }
}
