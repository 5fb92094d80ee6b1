//! The `format` of an export: NDJSON (the default) or CSV, each with its media type and file
//! name extension.

use crate::query::{BadParam, bad, pairs};

/// How an export's events are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// One JSON event per line.
    #[default]
    Ndjson,
    /// A header row, then one row per event (see `export::csv`).
    Csv,
}

impl Format {
    /// The `format` parameter of a raw query string: `ndjson` (also when absent) or `csv`. Given
    /// twice, or with another value, it is refused.
    pub fn parse(query: Option<&str>) -> Result<Self, BadParam> {
        let mut values = pairs(query).filter(|(key, _)| key == "format");
        let Some((_, value)) = values.next() else {
            return Ok(Self::default());
        };
        if values.next().is_some() {
            return Err(bad("format: given more than once"));
        }
        Self::named(&value).ok_or_else(|| bad("format: expected ndjson or csv"))
    }

    /// The format of this name (as `format` takes it, and `--format` on the command line).
    pub fn named(name: &str) -> Option<Self> {
        match name {
            "ndjson" => Some(Self::Ndjson),
            "csv" => Some(Self::Csv),
            _ => None,
        }
    }

    /// The `Content-Type` of an export in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Ndjson => "application/x-ndjson",
            Self::Csv => super::csv::CONTENT_TYPE,
        }
    }

    /// The file name extension of an export in this format.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Ndjson => "ndjson",
            Self::Csv => "csv",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndjson_unless_csv_is_asked_for() {
        assert_eq!(Format::parse(None), Ok(Format::Ndjson));
        assert_eq!(Format::parse(Some("type=a")), Ok(Format::Ndjson));
        assert_eq!(Format::parse(Some("format=ndjson")), Ok(Format::Ndjson));
        assert_eq!(Format::parse(Some("type=a&format=csv")), Ok(Format::Csv));
    }

    #[test]
    fn other_values_and_repeats_are_refused_naming_format() {
        for query in [
            "format=",
            "format=CSV",
            "format=json",
            "format=csv&format=csv",
        ] {
            let err = Format::parse(Some(query)).expect_err(query);
            assert!(err.0.starts_with("format: "), "{query}: {}", err.0);
        }
    }
}
