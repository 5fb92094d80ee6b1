//! Cursor and query-parameter properties: cursors round-trip and any text decodes or is refused
//! without a panic; any query string parses or is refused, and a parsed limit stays in 1..=1000.
//! The audit filters of any query string are refused or sorted, deduplicated and bounded, and the
//! `/stats/groups` cursor round-trips any position.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dash_events::cursor::Cursor;
use dash_events::query::{
    AuditFilters, GroupCursor, ListParams, MAX_FILTER_VALUES, MAX_LIMIT, TimeRange,
};
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

    #[test]
    fn audit_filters_parse_sorted_deduplicated_and_bounded_or_are_refused(query in filter_query()) {
        if let Ok(filters) = AuditFilters::parse(Some(&query), true) {
            for ids in [&filters.agent_ids, &filters.swarm_ids, &filters.workflow_ids,
                &filters.instance_ids, &filters.webhook_ids] {
                prop_assert!(ids.len() <= MAX_FILTER_VALUES);
                prop_assert!(ids.windows(2).all(|w| w[0] < w[1]), "sorted, no repeats");
                prop_assert!(ids.iter().all(|id| !id.is_empty() && !id.contains('\0')));
            }
            let values: usize = filters.data.iter().map(|f| f.values.len()).sum();
            prop_assert!(values <= MAX_FILTER_VALUES);
            prop_assert!(filters.data.windows(2).all(|w| w[0].field < w[1].field));
            let search = filters.search.unwrap_or_else(|| "x".into());
            prop_assert!((1..=200).contains(&search.chars().count()));
            prop_assert_eq!(search.trim(), search.as_str());
        }
    }

    #[test]
    fn group_cursors_round_trip(events in 0..=i64::MAX, cost in any::<f64>(), key in proptest::option::of("[^\0]{0,20}")) {
        let position = GroupCursor { events, cost: if cost.is_finite() { cost } else { 0.0 }, key };
        prop_assert_eq!(GroupCursor::decode(&position.encode()), Ok(position));
    }

    #[test]
    fn decoding_any_text_as_a_group_cursor_never_panics(text in any::<String>(), inner in "[-+0-9.e]{0,5}:[-+0-9.eNa]{0,5}:?.{0,8}") {
        for text in [text, URL_SAFE_NO_PAD.encode(inner)] {
            if let Ok(position) = GroupCursor::decode(&text) {
                prop_assert_eq!(GroupCursor::decode(&position.encode()), Ok(position));
            }
        }
    }
}

/// Query strings of audit filters: named ids, `data.` paths good and bad, `q`, any value.
fn filter_query() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        "agentId",
        "swarmId",
        "workflowId",
        "instanceId",
        "webhookId",
        "q",
        "data\\.[a-z_.\\[\\]0-9 -]{0,6}",
        "[a-z]{1,4}"
    ];
    let value = prop_oneof![
        any::<String>(),
        "[a-c,]{0,8}",
        "-?[0-9.e]{1,5}",
        "\"[a-z]{0,3}\"?",
        "true|false|null"
    ];
    proptest::collection::vec((key, value), 0..12).prop_map(|pairs| {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    })
}
