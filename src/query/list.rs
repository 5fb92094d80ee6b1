//! The parameters of `GET /events`, of its export (`GET /events/export`) and of the live stream
//! (`GET /events/stream`): the shared filters (`type`, `since`, `until`) and the page.

use super::{BadParam, TimeRange, bad, first_of, pairs, parse_type_filter, whole_number_up_to};
use crate::cursor::Cursor;
use crate::event::query_words;

/// Largest page `GET /events` returns.
pub const MAX_LIMIT: u32 = 1000;
/// Page size when `limit` is absent.
pub const DEFAULT_LIMIT: u32 = 100;
/// Longest `q`, in characters after trimming.
pub const MAX_SEARCH_CHARS: usize = 200;
/// Events per page the export reads from the store: small enough that a page in memory is a
/// few hundred kB, large enough that a page costs little more than its rows.
pub const EXPORT_PAGE: u32 = 250;

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
    /// `q`: only the events holding every word of this text (trimmed, 1 to `MAX_SEARCH_CHARS`
    /// characters, at least one word).
    pub search: Option<String>,
}

/// The filters of `GET /events/stream`: those of `GET /events`, without its paging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamParams {
    /// Only these types; empty means all.
    pub types: Vec<String>,
    /// The window over the events' own timestamps.
    pub range: TimeRange,
}

impl ListParams {
    /// Parses the raw query string of `GET /events`.
    pub fn parse(query: Option<&str>) -> Result<Self, BadParam> {
        let mut params = Self {
            types: parse_type_filter(query)?,
            range: TimeRange::parse(query)?,
            limit: DEFAULT_LIMIT,
            cursor: None,
            search: None,
        };
        for (key, value) in pairs(query) {
            match key.as_str() {
                "limit" => params.limit = parse_limit(&value)?,
                "cursor" => params.cursor = Some(parse_cursor(&value)?),
                "q" => params.search = Some(parse_search(&value)?),
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
}

impl StreamParams {
    /// Parses the raw query string of `GET /events/stream`: `type`, `since` and `until` exactly
    /// as `GET /events` does. A stream is not paged, so `limit` and `cursor` are refused rather
    /// than ignored (a client sending them expects something this endpoint does not do).
    pub fn parse(query: Option<&str>) -> Result<Self, BadParam> {
        if let Some(key) = first_of(query, &["limit", "cursor", "q"]) {
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

fn parse_limit(value: &str) -> Result<u32, BadParam> {
    whole_number_up_to(value, MAX_LIMIT).ok_or_else(|| {
        bad(format!(
            "limit: expected a whole number from 1 to {MAX_LIMIT}"
        ))
    })
}

/// `q`: trimmed, 1 to `MAX_SEARCH_CHARS` characters, with a word in it (a string of punctuation
/// alone would match every event, which is what leaving `q` out is for).
fn parse_search(value: &str) -> Result<String, BadParam> {
    let text = value.trim();
    let chars = text.chars().count();
    if chars == 0 || chars > MAX_SEARCH_CHARS {
        return Err(bad(format!(
            "q: expected 1 to {MAX_SEARCH_CHARS} characters of text to search for"
        )));
    }
    if query_words(text).is_empty() {
        return Err(bad("q: expected at least one word (letters or digits)"));
    }
    Ok(text.to_owned())
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
            ("q=", "q"),
            ("q=%20%20", "q"),
            ("q=!!!", "q"),
        ];
        for (query, name) in cases {
            let err = ListParams::parse(Some(query)).expect_err(query);
            assert!(err.0.starts_with(name), "{query}: {:?}", err.0);
        }
    }

    #[test]
    fn search_text_is_trimmed_and_bounded() {
        let params = ListParams::parse(Some("q=%20Migration%20failed%20")).unwrap();
        assert_eq!(params.search.as_deref(), Some("Migration failed"));
        let longest = format!("q={}", "x".repeat(MAX_SEARCH_CHARS));
        assert!(ListParams::parse(Some(&longest)).is_ok());
        let longer = format!("q={}", "x".repeat(MAX_SEARCH_CHARS + 1));
        let err = ListParams::parse(Some(&longer)).expect_err("over the bound");
        assert!(err.0.starts_with("q:"), "{}", err.0);
        let err = StreamParams::parse(Some("q=x")).expect_err("not on the stream");
        assert!(err.0.starts_with("q:"), "{}", err.0);
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
