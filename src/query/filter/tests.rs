//! Unit tests for the audit filters' parsing and the window rule of `data.` filters.

use super::*;

const DAY_US: i64 = 24 * 3600 * 1_000_000;

fn parse(query: &str) -> Result<AuditFilters, BadParam> {
    AuditFilters::parse(Some(query), true)
}

fn data(query: &str) -> Vec<DataFilter> {
    parse(query).expect(query).data
}

fn assert_refused(query: &str, accepts_search: bool, name: &str) {
    let err = AuditFilters::parse(Some(query), accepts_search).expect_err(query);
    assert!(err.0.starts_with(name), "{query}: {:?}", err.0);
}

fn list(prefix: &str, count: usize) -> String {
    let values: Vec<String> = (0..count).map(|i| format!("{prefix}{i}")).collect();
    values.join(",")
}

#[test]
fn nothing_given_filters_nothing() {
    let filters = AuditFilters::parse(None, false).unwrap();
    assert!(filters.is_empty());
    assert_eq!(filters, AuditFilters::default());
    assert!(
        parse("type=a&since=2026-01-01T00:00:00Z&data=x")
            .unwrap()
            .is_empty()
    );
}

#[test]
fn named_filters_merge_lists_and_repeats_sorted_and_deduplicated() {
    let filters =
        parse("agentId=b,a&agentId=c,a&swarmId=s1&workflowId=w&instanceId=i2,i1&webhookId=wh_1")
            .unwrap();
    assert_eq!(filters.agent_ids, ["a", "b", "c"]);
    assert_eq!(filters.swarm_ids, ["s1"]);
    assert_eq!(filters.workflow_ids, ["w"]);
    assert_eq!(filters.instance_ids, ["i1", "i2"]);
    assert_eq!(filters.webhook_ids, ["wh_1"]);
    assert!(!filters.is_empty());
}

#[test]
fn named_filter_values_are_exact_text_unicode_included() {
    let filters =
        parse("agentId=%C3%A9t%C3%A9%20%F0%9F%A6%80&swarmId=a%3Ab%2Fc&agentId=+x+").unwrap();
    assert_eq!(filters.agent_ids, [" x ", "été 🦀"]);
    assert_eq!(filters.swarm_ids, ["a:b/c"]);
}

#[test]
fn empty_values_are_refused_naming_the_filter() {
    for name in [
        "agentId",
        "swarmId",
        "workflowId",
        "instanceId",
        "webhookId",
    ] {
        for value in ["", ",", "a,,b", "a,", ",a"] {
            assert_refused(&format!("{name}={value}"), true, name);
        }
    }
}

#[test]
fn twenty_values_are_accepted_and_twenty_one_refused() {
    for name in [
        "agentId",
        "swarmId",
        "workflowId",
        "instanceId",
        "webhookId",
    ] {
        assert!(
            parse(&format!("{name}={}", list("v", 20))).is_ok(),
            "{name}"
        );
        assert_refused(&format!("{name}={}", list("v", 21)), true, name);
        // Spread over repeats, the count is the same.
        let split = format!("{name}={}&{name}={}", list("a", 10), list("b", 11));
        assert_refused(&split, true, name);
    }
    // Duplicates count once.
    let repeated = format!("agentId={}&agentId={}", list("v", 20), list("v", 20));
    assert_eq!(parse(&repeated).unwrap().agent_ids.len(), 20);
}

#[test]
fn nul_is_refused_naming_the_parameter() {
    assert_refused("agentId=a%00b", true, "agentId");
    assert_refused("data.x=a%00", true, "data.x");
    assert_refused("data.x=%22a%5Cu0000%22", true, "data.x");
    assert_refused("q=a%00b", true, "q");
}

#[test]
fn data_fields_of_letters_digits_underscore_and_dash_are_accepted() {
    let field = "a".repeat(64);
    for name in ["x", "agent_id", "step-1", "Z9", field.as_str()] {
        let filters = data(&format!("data.{name}=1"));
        assert_eq!(filters[0].field, name);
    }
}

#[test]
fn bad_data_paths_are_refused_naming_the_given_parameter() {
    let too_long = format!("data.{}", "a".repeat(65));
    for key in [
        "data.",
        "data.a.b",
        "data.a%5B0%5D",
        "data.a%20b",
        "data.%C3%A9",
        "data.a%2Fb",
        "data.%24",
        too_long.as_str(),
    ] {
        let query = format!("{key}=1");
        let err = parse(&query).expect_err(&query);
        let decoded = form_urlencoded::parse(key.as_bytes()).next().unwrap().0;
        assert!(err.0.starts_with(&*decoded), "{query}: {:?}", err.0);
    }
}

#[test]
fn empty_data_values_are_refused() {
    assert_refused("data.x=", true, "data.x");
    assert_refused("data.x=1&data.y=", true, "data.y");
}

#[test]
fn data_values_are_typed_from_exact_json_literals() {
    let cases = [
        ("42", DataValue::Number(42.0)),
        ("-1.5e3", DataValue::Number(-1500.0)),
        ("0.1", DataValue::Number(0.1)),
        ("true", DataValue::Bool(true)),
        ("false", DataValue::Bool(false)),
        ("%2242%22", DataValue::String("42".into())),
        ("%22true%22", DataValue::String("true".into())),
        ("%22%22", DataValue::String(String::new())),
        ("%22%C3%A9%5Cn%22", DataValue::String("é\n".into())),
        ("agent-7", DataValue::String("agent-7".into())),
        ("null", DataValue::String("null".into())),
        ("%5B1%5D", DataValue::String("[1]".into())),
        ("%7B%7D", DataValue::String("{}".into())),
        ("01", DataValue::String("01".into())),
        ("1e999", DataValue::String("1e999".into())),
        ("NaN", DataValue::String("NaN".into())),
        ("True", DataValue::String("True".into())),
        ("%2042", DataValue::String(" 42".into())),
        ("42%20", DataValue::String("42 ".into())),
        ("%22open", DataValue::String("\"open".into())),
        ("a,b", DataValue::String("a,b".into())),
    ];
    for (text, value) in cases {
        assert_eq!(data(&format!("data.x={text}"))[0].values, [value], "{text}");
    }
}

#[test]
fn data_repeats_or_together_and_fields_are_sorted() {
    let filters = data("data.status=ok&data.cost=1&data.status=%22failed%22&data.status=ok");
    assert_eq!(filters.len(), 2);
    assert_eq!(filters[0].field, "cost");
    assert_eq!(filters[1].field, "status");
    assert_eq!(
        filters[1].values,
        [
            DataValue::String("ok".into()),
            DataValue::String("failed".into())
        ]
    );
    // A number and the string of its text are different values.
    assert_eq!(data("data.n=42&data.n=%2242%22")[0].values.len(), 2);
}

#[test]
fn twenty_data_values_in_all_are_accepted_and_twenty_one_refused() {
    let values = |count: usize, field: &str| -> Vec<String> {
        (0..count).map(|i| format!("data.{field}={i}")).collect()
    };
    let twenty = [values(10, "a"), values(10, "b")].concat().join("&");
    assert_eq!(data(&twenty).len(), 2);
    let twenty_one = format!("{twenty}&data.c=x");
    assert_refused(&twenty_one, true, "data.c");
    // Repeats of one value count once.
    assert!(parse(&format!("{twenty}&data.a=0")).is_ok());
}

#[test]
fn search_is_trimmed_and_bounded_in_characters() {
    assert_eq!(
        parse("q=+migration+").unwrap().search.as_deref(),
        Some("migration")
    );
    let two_hundred = "é".repeat(200);
    assert_eq!(
        parse(&format!("q={two_hundred}")).unwrap().search,
        Some(two_hundred.clone())
    );
    assert_refused(&format!("q={two_hundred}x"), true, "q");
    assert_eq!(
        parse(&format!("q=++{}++", "a".repeat(200)))
            .unwrap()
            .search
            .unwrap()
            .len(),
        200
    );
    for query in ["q=", "q=+++", "q=%09", "q=a&q=b"] {
        assert_refused(query, true, "q");
    }
    assert_eq!(parse("data.q=1").unwrap().search, None);
}

#[test]
fn search_is_refused_where_not_accepted() {
    for query in ["q=x", "q=", "agentId=a&q=x"] {
        let err = AuditFilters::parse(Some(query), false).expect_err(query);
        assert!(err.0.starts_with("q: not accepted"), "{query}: {:?}", err.0);
    }
}

#[test]
fn data_filters_need_since_and_a_window_of_31_days() {
    let filters = parse("data.x=1").unwrap();
    let now_us = 100 * DAY_US;
    let window = |since_us, until_us| TimeRange { since_us, until_us };
    let ok = [
        window(now_us - 31 * DAY_US, TimeRange::ALL.until_us),
        window(0, 31 * DAY_US),
        window(now_us + DAY_US, TimeRange::ALL.until_us),
        window(5 * DAY_US, DAY_US),
    ];
    for range in ok {
        assert_eq!(filters.check_window(&range, now_us), Ok(()), "{range:?}");
    }
    let refused = [
        TimeRange::ALL,
        window(TimeRange::ALL.since_us, now_us),
        window(now_us - 31 * DAY_US - 1, TimeRange::ALL.until_us),
        window(0, 31 * DAY_US + 1),
        window(-9 * DAY_US * 365 * 10_000, 0),
    ];
    for range in refused {
        let err = filters.check_window(&range, now_us).expect_err("refused");
        assert!(err.0.starts_with("since: data.x"), "{range:?}: {:?}", err.0);
    }
}

#[test]
fn without_data_filters_any_window_is_fine() {
    let filters = parse("agentId=a&q=x").unwrap();
    assert_eq!(filters.check_window(&TimeRange::ALL, 0), Ok(()));
}
