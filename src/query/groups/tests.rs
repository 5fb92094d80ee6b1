//! Unit tests for the parameters of `GET /stats/groups` and its cursor.

use super::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

fn cursor(events: i64, cost: f64, key: Option<&str>) -> GroupCursor {
    GroupCursor {
        events,
        cost,
        key: key.map(str::to_owned),
    }
}

#[test]
fn by_is_required_and_every_grouping_parses() {
    for by in GroupBy::ALL {
        let params = GroupParams::parse(Some(&format!("by={}", by.name()))).unwrap();
        assert_eq!(params.by, by);
        assert_eq!(params.sort, GroupSort::Cost);
        assert_eq!(params.limit, DEFAULT_GROUPS);
        assert_eq!(params.range, TimeRange::ALL);
        assert!(params.types.is_empty() && params.filters.is_empty() && params.cursor.is_none());
    }
    let names: Vec<&str> = GroupBy::ALL.iter().map(|by| by.name()).collect();
    assert_eq!(
        names,
        [
            "agentId",
            "swarmId",
            "workflowId",
            "instanceId",
            "webhookId",
            "type",
            "day"
        ]
    );
}

#[test]
fn sort_limit_filters_and_cursor_are_read() {
    let next = cursor(3, 0.5, Some("agent-1")).encode();
    let query = format!(
        "by=day&sort=events&limit=1000&type=b,a&since=1970-01-01T00:00:00Z&agentId=x&data.n=1&cursor={next}"
    );
    let params = GroupParams::parse(Some(&query)).unwrap();
    assert_eq!(
        (params.by, params.sort, params.limit),
        (GroupBy::Day, GroupSort::Events, 1000)
    );
    assert_eq!(params.types, ["a", "b"]);
    assert_eq!(params.range.since_us, 0);
    assert_eq!(params.filters.agent_ids, ["x"]);
    assert_eq!(params.filters.data.len(), 1);
    assert_eq!(params.cursor, Some(cursor(3, 0.5, Some("agent-1"))));
    assert_eq!(
        GroupParams::parse(Some("by=type&limit=1")).unwrap().limit,
        1
    );
    assert_eq!(
        GroupParams::parse(Some("by=type&sort=cost")).unwrap().sort,
        GroupSort::Cost
    );
}

#[test]
fn bad_values_name_the_parameter() {
    let cases = [
        ("", "by"),
        ("sort=cost", "by"),
        ("by=", "by"),
        ("by=agent", "by"),
        ("by=AgentId", "by"),
        ("by=agentId,type", "by"),
        ("by=type&sort=", "sort"),
        ("by=type&sort=duration", "sort"),
        ("by=type&limit=0", "limit"),
        ("by=type&limit=1001", "limit"),
        ("by=type&limit=x", "limit"),
        ("by=type&cursor=", "cursor"),
        ("by=type&cursor=%%%", "cursor"),
        ("by=type&type=", "type"),
        ("by=type&until=x", "until"),
        ("by=type&swarmId=", "swarmId"),
        ("by=type&data.a.b=1", "data.a.b"),
        ("by=type&q=x", "q"),
    ];
    for (query, name) in cases {
        let err = GroupParams::parse(Some(query)).expect_err(query);
        assert!(err.0.starts_with(name), "{query}: {:?}", err.0);
    }
    let err = GroupParams::parse(Some("by=x")).unwrap_err();
    assert!(
        err.0
            .contains("agentId, swarmId, workflowId, instanceId, webhookId, type, day")
    );
}

#[test]
fn cursors_round_trip_costs_exactly_and_keys_of_any_text() {
    let costs = [
        0.0,
        -0.0,
        0.5,
        0.1 + 0.2,
        1e300,
        -2.5e-300,
        f64::MAX,
        f64::MIN_POSITIVE,
    ];
    for cost in costs {
        let position = cursor(7, cost, Some("a"));
        let decoded = GroupCursor::decode(&position.encode()).unwrap();
        assert_eq!(decoded.cost.to_bits(), cost.to_bits(), "{cost}");
    }
    for key in [
        None,
        Some(""),
        Some("n"),
        Some("a:b:c"),
        Some("été 🦀"),
        Some("2026-11-28"),
    ] {
        for events in [0, 1, i64::MAX] {
            let position = cursor(events, 1.25, key);
            assert_eq!(GroupCursor::decode(&position.encode()), Ok(position));
        }
    }
}

#[test]
fn encoded_cursor_is_url_safe() {
    let text = cursor(1, 2.0, Some(&"??>>~~".repeat(10))).encode();
    assert!(
        text.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
}

#[test]
fn garbage_is_refused() {
    let raw = |text: &str| URL_SAFE_NO_PAD.encode(text);
    let cases = [
        "".to_owned(),
        "!!!".to_owned(),
        raw("1:0.5"),
        raw("1:0.5:"),
        raw("1:0.5:x"),
        raw("1:0.5:nx"),
        raw("-1:0.5:n"),
        raw("+1:0.5:n"),
        raw(":0.5:n"),
        raw("1::n"),
        raw("1:NaN:n"),
        raw("1:inf:n"),
        raw("1:1e3:n"),
        raw("1:0.50:n"),
        raw("1: 0.5:n"),
        raw("1:0.5:sa\0b"),
        URL_SAFE_NO_PAD.encode([b'1', b':', b'1', b':', b's', 0xff]),
    ];
    for text in &cases {
        assert_eq!(GroupCursor::decode(text), Err(BadToken), "{text:?}");
    }
}

/// The cursor's text is part of what clients hold between requests: pin it.
#[test]
fn known_cursors_are_pinned() {
    for (position, text) in [
        (
            cursor(12, 0.5, Some("agent-101")),
            "MTI6MC41OnNhZ2VudC0xMDE",
        ),
        (cursor(3, 0.0, None), "MzowOm4"),
    ] {
        assert_eq!(position.encode(), text);
        assert_eq!(GroupCursor::decode(text), Ok(position));
    }
}
