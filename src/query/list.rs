//! The parameters of `GET /events`, of its export (`GET /events/export`) and of the live stream
//! (`GET /events/stream`): the shared filters (`type`, `since`, `until`, the audit filters) and
//! the page. Only the list and the export take the text search `q`.

use super::{
    AuditFilters, BadParam, TimeRange, bad, first_of, pairs, parse_type_filter, whole_number_up_to,
};
use crate::cursor::Cursor;

/// Largest page `GET /events` returns.
pub const MAX_LIMIT: u32 = 1000;
/// Page size when `limit` is absent.
pub const DEFAULT_LIMIT: u32 = 100;
/// Events per page the export reads from the store: small enough that a page in memory is a
/// few hundred kB, large enough that a page costs little more than its rows.
pub const EXPORT_PAGE: u32 = 250;

/// The filters and page of `GET /events`.
#[derive(Debug, Clone, PartialEq)]
pub struct ListParams {
    /// Only these types; empty means all.
    pub types: Vec<String>,
    /// The time window.
    pub range: TimeRange,
    /// The audit filters, `q` included.
    pub filters: AuditFilters,
    /// Page size.
    pub limit: u32,
    /// Where the page starts, if not at the newest event.
    pub cursor: Option<Cursor>,
}

/// The filters of `GET /events/stream`: those of `GET /events`, without its paging.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamParams {
    /// Only these types; empty means all.
    pub types: Vec<String>,
    /// The window over the events' own timestamps.
    pub range: TimeRange,
    /// The audit filters (never `q`: a stream does not search).
    pub filters: AuditFilters,
}

impl ListParams {
    /// Parses the raw query string of `GET /events`.
    pub fn parse(query: Option<&str>) -> Result<Self, BadParam> {
        Self::parse_searching(query, true)
    }

    /// `parse`, with `q` accepted or refused.
    fn parse_searching(query: Option<&str>, accepts_search: bool) -> Result<Self, BadParam> {
        let mut params = Self {
            types: parse_type_filter(query)?,
            range: TimeRange::parse(query)?,
            filters: AuditFilters::parse(query, accepts_search)?,
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

    /// Parses the raw query string of `GET /events/export`: the filters of `GET /events`, read
    /// the same way; `limit` and `cursor` are refused, since an export is every matching event.
    /// The page size is the one the export reads the store with.
    pub fn parse_export(query: Option<&str>) -> Result<Self, BadParam> {
        if let Some(key) = first_of(query, &["limit", "cursor"]) {
            return Err(bad(format!(
                "{key}: not accepted by the export, which returns every matching event"
            )));
        }
        Ok(Self {
            limit: EXPORT_PAGE,
            ..Self::parse(query)?
        })
    }

    /// The exclusive upper bound of this page's timestamps: the window's end, or just past the
    /// cursor's time when that comes first (the cursor's own time still holds events of smaller
    /// id). The store reads a page with this one bound: given the window's end and the cursor's
    /// time as two bounds, SQLite starts its index range at the window's end and checks the
    /// cursor per entry, so a page deep into a long window walked every newer event first.
    pub fn page_end_us(&self) -> i64 {
        match &self.cursor {
            Some(cursor) => self
                .range
                .until_us
                .min(cursor.timestamp_us.saturating_add(1)),
            None => self.range.until_us,
        }
    }
}

impl StreamParams {
    /// Parses the raw query string of `GET /events/stream`: the filters exactly as `GET /events`
    /// reads them, but for `q`, which is refused (a stream does not search). A stream is not paged, so `limit` and `cursor` are refused rather
    /// than ignored (a client sending them expects something this endpoint does not do).
    pub fn parse(query: Option<&str>) -> Result<Self, BadParam> {
        if let Some(key) = first_of(query, &["limit", "cursor"]) {
            return Err(bad(format!(
                "{key}: not accepted by /events/stream (it is not paged; resume with Last-Event-ID)"
            )));
        }
        let list = ListParams::parse_searching(query, false)?;
        Ok(Self {
            types: list.types,
            range: list.range,
            filters: list.filters,
        })
    }
}

fn parse_limit(value: &str) -> Result<u32, BadParam> {
    whole_number_up_to(value, MAX_LIMIT).ok_or_else(|| {
        bad(format!(
            "limit: expected a whole number from 1 to {MAX_LIMIT}"
        ))
    })
}

fn parse_cursor(value: &str) -> Result<Cursor, BadParam> {
    Cursor::decode(value).map_err(|_| bad("cursor: not a cursor returned by this service"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::MAX_TYPES;

    #[test]
    fn defaults_when_empty() {
        let params = ListParams::parse(None).unwrap();
        assert_eq!(params.limit, DEFAULT_LIMIT);
        assert_eq!(params.range, TimeRange::ALL);
        assert!(params.types.is_empty() && params.cursor.is_none());
        assert!(params.filters.is_empty());
    }

    #[test]
    fn audit_filters_are_read_and_only_the_list_and_export_search() {
        let query = "agentId=b,a&data.status=ok&q=migration&type=t";
        let filters = AuditFilters::parse(Some(query), true).unwrap();
        assert_eq!(ListParams::parse(Some(query)).unwrap().filters, filters);
        assert_eq!(
            ListParams::parse_export(Some(query)).unwrap().filters,
            filters
        );
        let err = StreamParams::parse(Some(query)).unwrap_err();
        assert!(err.0.starts_with("q: not accepted"), "{}", err.0);
        let stream = StreamParams::parse(Some("agentId=b,a&data.status=ok")).unwrap();
        assert_eq!(stream.filters.agent_ids, ["a", "b"]);
        assert_eq!(stream.filters.data, filters.data);
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
            ("agentId=", "agentId"),
            ("webhookId=a,,b", "webhookId"),
            ("data.a.b=1", "data.a.b"),
            ("data.x=", "data.x"),
            ("q=", "q"),
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
    fn a_page_ends_at_the_window_or_just_past_the_cursor_whichever_comes_first() {
        let mut params = ListParams::parse(Some("until=2026-11-28T10:00:00Z")).unwrap();
        let until_us = params.range.until_us;
        assert_eq!(
            params.page_end_us(),
            until_us,
            "no cursor: the window's end"
        );
        let cursor = |timestamp_us| {
            Some(Cursor {
                timestamp_us,
                id: "evt".into(),
            })
        };
        params.cursor = cursor(until_us - 10);
        assert_eq!(
            params.page_end_us(),
            until_us - 9,
            "the cursor's time is included"
        );
        params.cursor = cursor(until_us + 10);
        assert_eq!(params.page_end_us(), until_us, "a cursor past the window");
        params.range.until_us = i64::MAX;
        params.cursor = cursor(i64::MAX);
        assert_eq!(
            params.page_end_us(),
            i64::MAX,
            "no overflow at the end of time"
        );
    }

    #[test]
    fn too_many_types_are_refused() {
        let list: Vec<String> = (0..=MAX_TYPES).map(|i| format!("t{i}")).collect();
        let query = format!("type={}", list.join(","));
        assert!(ListParams::parse(Some(&query)).is_err());
    }
}
