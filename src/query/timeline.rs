//! The parameters of `GET /stats/timeline`: the shared filters (`type`, `since`, `until`, the
//! audit filters but `q`) and the bucket width. What a width means and how a range is cut into buckets is `crate::timeline`'s.

use super::{AuditFilters, BadParam, TimeRange, bad, pairs, parse_type_filter};
use crate::timeline::Width;

/// The parameters of `GET /stats/timeline`.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineParams {
    /// Only these types; empty means all.
    pub types: Vec<String>,
    /// `since` / `until` as given; an absent bound is `TimeRange::ALL`'s.
    pub range: TimeRange,
    /// The audit filters (`q` is refused).
    pub filters: AuditFilters,
    /// The bucket width, `hour` unless given.
    pub width: Width,
}

impl TimelineParams {
    /// Parses the raw query string.
    pub fn parse(query: Option<&str>) -> Result<Self, BadParam> {
        let mut width = Width::Hour;
        for (key, value) in pairs(query) {
            if key == "bucket" {
                width = match value.as_str() {
                    "hour" => Width::Hour,
                    "day" => Width::Day,
                    _ => return Err(bad("bucket: expected hour or day")),
                };
            }
        }
        Ok(Self {
            types: parse_type_filter(query)?,
            range: TimeRange::parse(query)?,
            filters: AuditFilters::parse(query, false)?,
            width,
        })
    }

    /// Whether both bounds were given (otherwise they are read from the events).
    pub fn bounded(&self) -> bool {
        self.range.since_us != TimeRange::ALL.since_us
            && self.range.until_us != TimeRange::ALL.until_us
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_parse_and_bad_ones_are_named() {
        let params =
            TimelineParams::parse(Some("bucket=day&type=b,a&since=1970-01-01T00:00:00Z")).unwrap();
        assert_eq!(params.width, Width::Day);
        assert_eq!(params.types, ["a", "b"]);
        assert_eq!(params.range.since_us, 0);
        assert!(!params.bounded());
        assert_eq!(TimelineParams::parse(None).unwrap().width, Width::Hour);
        assert!(TimelineParams::parse(None).unwrap().filters.is_empty());
        let filtered = TimelineParams::parse(Some("swarmId=s&data.n=1")).unwrap();
        assert_eq!(filtered.filters.swarm_ids, ["s"]);
        for (query, name) in [
            ("bucket=week", "bucket"),
            ("bucket=", "bucket"),
            ("until=x", "until"),
            ("type=", "type"),
            ("instanceId=", "instanceId"),
            ("data.=1", "data."),
            ("q=x", "q"),
        ] {
            let err = TimelineParams::parse(Some(query)).unwrap_err();
            assert!(err.0.starts_with(name), "{query}: {}", err.0);
        }
    }
}
