//! The parameters of `GET /stats`: the window (`since`, `until`) and the audit filters but `q`.

use super::{AuditFilters, BadParam, TimeRange};

/// The parameters of `GET /stats`.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsParams {
    /// The window over the events' own timestamps.
    pub range: TimeRange,
    /// The audit filters (`q` is refused).
    pub filters: AuditFilters,
}

impl StatsParams {
    /// Parses the raw query string; other parameters are ignored, as they always were here.
    pub fn parse(query: Option<&str>) -> Result<Self, BadParam> {
        Ok(Self {
            range: TimeRange::parse(query)?,
            filters: AuditFilters::parse(query, false)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_and_filters_parse_and_bad_ones_are_named() {
        let params = StatsParams::parse(None).unwrap();
        assert_eq!(params.range, TimeRange::ALL);
        assert!(params.filters.is_empty());
        let query = "since=1970-01-01T00:00:00Z&workflowId=w&data.ok=true&type=x";
        let params = StatsParams::parse(Some(query)).unwrap();
        assert_eq!(params.range.since_us, 0);
        assert_eq!(params.filters.workflow_ids, ["w"]);
        for (query, name) in [
            ("since=x", "since"),
            ("workflowId=", "workflowId"),
            ("data.a[0]=1", "data.a[0]"),
            ("q=x", "q"),
        ] {
            let err = StatsParams::parse(Some(query)).unwrap_err();
            assert!(err.0.starts_with(name), "{query}: {}", err.0);
        }
    }
}
