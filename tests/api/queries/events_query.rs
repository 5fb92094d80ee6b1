//! `GET /events`: newest `timestamp` first with ties in a fixed order, the `type` filter (one type or
//! a comma-separated list), `since` inclusive and `until` exclusive down to the microsecond, `limit`
//! from 1 to 1000 defaulting to 100, and a 400 naming the parameter for anything unparseable.

use futures::stream::{self, StreamExt};
use serde_json::json;

use crate::backend::TestDb;
use crate::helpers::{Query, assert_error, event_at, ids_of};
use crate::support::app::App;

both_backends!(
    empty_log_lists_no_events_and_no_cursor,
    events_are_listed_newest_timestamp_first_with_ties_in_a_fixed_order,
    type_filter_selects_one_or_several_types,
    since_is_inclusive_and_until_exclusive_to_the_microsecond,
    limit_defaults_to_100_and_accepts_1_to_1000,
    bad_query_parameter_is_rejected_with_400_naming_it,
    hostile_query_parameters_are_answered_without_5xx,
);

async fn empty_log_lists_no_events_and_no_cursor(db: TestDb) {
    let app = App::start(&db).await;

    let page = app.get_json("/events").await;

    assert_eq!(page, json!({ "events": [], "nextCursor": null }));
}

async fn events_are_listed_newest_timestamp_first_with_ties_in_a_fixed_order(db: TestDb) {
    let app = App::start(&db).await;
    let events = [
        ("early", "2026-11-27T23:59:59.999999Z"),
        ("tie-a", "2026-11-28T11:00:00Z"),
        ("ten", "2026-11-28T10:00:00Z"),
        ("tie-c", "2026-11-28T13:00:00+02:00"),
        ("half-past", "2026-11-28T12:30:00+02:00"),
        ("tie-b", "2026-11-28T11:00:00.000Z"),
    ];
    for (id, timestamp) in events {
        app.store(&event_at(id, "agent:start", timestamp)).await;
    }

    let first = ids_of(&app.get_json("/events").await);
    let second = ids_of(&app.get_json("/events").await);

    let (ties, rest) = first.split_at(3);
    let mut tie_set = ties.to_vec();
    tie_set.sort_unstable();
    assert_eq!(
        tie_set,
        ["tie-a", "tie-b", "tie-c"],
        "the 11:00Z events first: {first:?}"
    );
    assert_eq!(
        rest,
        ["half-past", "ten", "early"],
        "then by timestamp: {first:?}"
    );
    assert_eq!(first, second, "ties are not in a fixed order");
    assert_eq!(ties, ["tie-c", "tie-b", "tie-a"], "ties by id, descending");
}

async fn type_filter_selects_one_or_several_types(db: TestDb) {
    let app = App::start(&db).await;
    let events = [
        ("s1", "agent:start"),
        ("s2", "agent:start"),
        ("c1", "agent:complete"),
        ("e1", "agent:error"),
        ("w1", "budget:warning"),
    ];
    for (id, event_type) in events {
        app.store(&event_at(id, event_type, "2026-11-28T10:00:00Z"))
            .await;
    }
    let cases = [
        ("agent:complete", vec!["c1"]),
        ("agent:complete,agent:error", vec!["c1", "e1"]),
        (
            "agent:start,budget:warning,not:stored",
            vec!["s1", "s2", "w1"],
        ),
        ("not:stored", vec![]),
    ];

    for (types, expected) in cases {
        let (status, page) = app.get_query("/events", &[("type", types)]).await;
        assert_eq!(status, 200, "type={types}: {page}");
        let mut ids = ids_of(&page);
        ids.sort_unstable();
        assert_eq!(ids, expected, "type={types}");
    }
}

async fn since_is_inclusive_and_until_exclusive_to_the_microsecond(db: TestDb) {
    let app = App::start(&db).await;
    let t0 = "2026-11-28T10:00:00Z";
    let t1 = "2026-11-28T10:00:00.000001Z";
    let t2 = "2026-11-28T10:00:00.000002Z";
    let t3 = "2026-11-28T11:00:00Z";
    for (id, timestamp) in [("t0", t0), ("t1", t1), ("t2", t2), ("t3", t3)] {
        app.store(&event_at(id, "agent:complete", timestamp)).await;
    }
    let cases: [(&str, Query, &[&str]); 9] = [
        (
            "since an event's instant",
            &[("since", t1)],
            &["t3", "t2", "t1"],
        ),
        ("until an event's instant", &[("until", t1)], &["t0"]),
        (
            "since and until one µs apart",
            &[("since", t1), ("until", t2)],
            &["t1"],
        ),
        ("since equal to until", &[("since", t1), ("until", t1)], &[]),
        ("until the newest", &[("until", t3)], &["t2", "t1", "t0"]),
        (
            "since just after the newest",
            &[("since", "2026-11-28T11:00:00.000001Z")],
            &[],
        ),
        (
            "since with an offset",
            &[("since", "2026-11-28T12:00:00.000001+02:00")],
            &["t3", "t2", "t1"],
        ),
        (
            "until with an offset",
            &[("until", "2026-11-28T05:00:00.000002-05:00")],
            &["t1", "t0"],
        ),
        (
            "type and since",
            &[("type", "agent:complete"), ("since", t2)],
            &["t3", "t2"],
        ),
    ];

    for (case, query, expected) in cases {
        let (status, page) = app.get_query("/events", query).await;
        assert_eq!(status, 200, "{case}: {page}");
        assert_eq!(ids_of(&page), expected, "{case}");
    }
}

async fn limit_defaults_to_100_and_accepts_1_to_1000(db: TestDb) {
    let app = App::start(&db).await;
    let deliveries = (0..101).map(|n| {
        let timestamp = format!("2026-11-28T10:{:02}:{:02}Z", n / 60, n % 60);
        event_at(&format!("event-{n:03}"), "agent:start", &timestamp)
    });
    stream::iter(deliveries)
        .for_each_concurrent(8, |event| {
            let app = &app;
            async move { app.store(&event).await }
        })
        .await;

    let default = app.get_json("/events").await;
    let (_, one) = app.get_query("/events", &[("limit", "1")]).await;
    let (_, all) = app.get_query("/events", &[("limit", "1000")]).await;

    assert_eq!(ids_of(&default).len(), 100);
    assert!(
        default["nextCursor"].is_string(),
        "{}",
        default["nextCursor"]
    );
    assert_eq!(ids_of(&one), ["event-100"]);
    assert_eq!(ids_of(&all).len(), 101);
    assert_eq!(
        all["nextCursor"],
        json!(null),
        "a partial last page has no cursor"
    );
}

async fn bad_query_parameter_is_rejected_with_400_naming_it(db: TestDb) {
    let app = App::start(&db).await;
    let cases = [
        ("since is a word", "since", "yesterday"),
        ("since has no zone", "since", "2026-11-28T10:00:00"),
        ("since is a date only", "since", "2026-11-28"),
        (
            "until is an impossible date",
            "until",
            "2026-13-01T00:00:00Z",
        ),
        ("until is epoch seconds", "until", "1732788000"),
        ("limit is 0", "limit", "0"),
        ("limit is 1001", "limit", "1001"),
        ("limit is negative", "limit", "-1"),
        ("limit is a word", "limit", "abc"),
        ("limit is a fraction", "limit", "1.5"),
        ("limit overflows", "limit", "99999999999999999999999"),
        ("cursor is garbage", "cursor", "garbage"),
        ("cursor has symbols", "cursor", "!!!***"),
        (
            "cursor is base64 of something else",
            "cursor",
            "eyJmb28iOiJiYXIifQ",
        ),
    ];

    for (case, parameter, value) in cases {
        let (status, body) = app.get_query("/events", &[(parameter, value)]).await;
        assert_error(case, status, &body, 400, Some(parameter));
    }
}

async fn hostile_query_parameters_are_answered_without_5xx(db: TestDb) {
    let app = App::start(&db).await;
    app.store(&event_at("stored", "agent:start", "2026-11-28T10:00:00Z"))
        .await;
    let long = "x".repeat(10_000);
    let cases: [(&str, &str); 12] = [
        ("type", "\u{0}"),
        ("type", "agent:\u{0}start,agent:start"),
        ("type", &long),
        ("type", ",,,"),
        ("type", "'; drop table events; --"),
        ("since", "2026-11-28T10:00:00Z\u{0}"),
        ("until", &long),
        ("limit", "\u{0}"),
        ("cursor", "\u{0}"),
        ("cursor", &long),
        ("cursor", "%%%"),
        ("since", "+999999-12-31T23:59:59Z"),
    ];

    let mut failures = Vec::new();
    for path in ["/events", "/stats"] {
        for (parameter, value) in cases {
            let (status, body) = app.get_query(path, &[(parameter, value)]).await;
            let shown: String = value.chars().take(40).collect();
            if status >= 500 {
                failures.push(format!(
                    "{path}?{parameter}={shown:?} answered {status}: {body}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "5xx answers:\n{}", failures.join("\n"));
    assert_eq!(
        db.count_events().await,
        1,
        "a query changed the stored events"
    );
}
