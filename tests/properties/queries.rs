//! Cursor and query-parameter properties: cursors round-trip and any text decodes or is refused
//! without a panic; any query string parses or is refused, and a parsed limit stays in 1..=1000.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dash_events::cursor::Cursor;
use dash_events::query::{ListParams, MAX_LIMIT, TimeRange};
use proptest::prelude::*;

use crate::config;
use crate::strategies::query_string;

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn cursors_round_trip(timestamp_us in any::<i64>(), id in prop_oneof!["[^\\p{Cc}]{1,80}", "[0-9:-]{1,8}"]) {
        let cursor = Cursor { timestamp_us, id };
        let text = cursor.encode();
        prop_assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        prop_assert_eq!(Cursor::decode(&text), Ok(cursor));
    }

    #[test]
    fn decoding_any_text_as_a_cursor_never_panics(text in any::<String>(), inner in "[-+0-9]{0,3}:?.{0,8}") {
        for text in [text, URL_SAFE_NO_PAD.encode(inner)] {
            if let Ok(cursor) = Cursor::decode(&text) {
                prop_assert_eq!(Cursor::decode(&cursor.encode()), Ok(cursor));
            }
        }
    }

    #[test]
    fn any_query_string_parses_or_is_refused_and_limits_stay_in_range(query in query_string()) {
        if let Ok(params) = ListParams::parse(Some(&query)) {
            prop_assert!((1..=MAX_LIMIT).contains(&params.limit), "limit {}", params.limit);
            prop_assert_eq!(TimeRange::parse(Some(&query)), Ok(params.range));
        }
    }

    #[test]
    fn limit_is_accepted_exactly_from_1_to_1000(limit in any::<i64>()) {
        let parsed = ListParams::parse(Some(&format!("limit={limit}"))).map(|p| i64::from(p.limit));
        prop_assert_eq!(parsed.ok(), Some(limit).filter(|l| (1..=1000).contains(l)));
    }
}
