//! Text search (`q=` on `GET /events` and the export) with the search index on: the words of
//! task, result, error, reason and name match in any case, every word must be there, pages
//! follow the cursor of `/events` and give each match once, `type`/`since`/`until` narrow it, a
//! prune takes the words out of the index with the events; with the index off `q=` is a 400
//! that says how to turn it on, and `dash-events search-index build` indexes what was stored
//! before (resuming where an interrupted build stopped).

mod build;
mod plan;

use serde_json::{Value, json};

use crate::backend::{Backend, TestDb};
use crate::helpers::{assert_error, ids_of, instant};
use crate::support::app::App;
use dash_events::store::{Durability, SearchIndex, Store};

both_backends!(
    words_of_the_searched_fields_match_in_any_case,
    every_word_must_match_and_filters_narrow_it,
    pages_of_a_search_give_each_match_once_newest_first,
    the_export_streams_every_match,
    a_prune_removes_the_words_with_the_events,
    bad_search_text_is_rejected_with_400_naming_q,
);

/// A query string's pairs.
type Query<'a> = &'a [(&'a str, &'a str)];

/// Serves `db` with the search index on.
pub(crate) async fn start_searching(db: &TestDb) -> App {
    App::start_with(db, |config| config.search_index = SearchIndex::On).await
}

/// An event of `event_type` at `timestamp` with `data`.
pub(crate) fn event_with(id: &str, event_type: &str, timestamp: &str, data: Value) -> Value {
    json!({"id": id, "type": event_type, "timestamp": timestamp, "data": data})
}

/// The ids `GET /events?q=…&…` answers on its first page.
async fn found(app: &App, query: &[(&str, &str)]) -> Vec<String> {
    let (status, page) = app.get_query("/events", query).await;
    assert_eq!(status, 200, "{query:?}: {page}");
    ids_of(&page)
}

async fn words_of_the_searched_fields_match_in_any_case(db: TestDb) {
    let app = start_searching(&db).await;
    let at = "2026-11-28T10:00:00Z";
    let events = [
        ("in-task", json!({"task": "Run the nightly Migration"})),
        (
            "in-result",
            json!({"result": "copied 42 rows to warehouse"}),
        ),
        (
            "in-error",
            json!({"error": "ConnectionRefused: db.example.com"}),
        ),
        ("in-reason", json!({"reason": "budget exhausted"})),
        ("in-name", json!({"name": "Überprüfung"})),
        (
            "elsewhere",
            json!({"prompt": "migration warehouse budget", "cost": 42}),
        ),
    ];
    for (id, data) in events {
        app.store(&event_with(id, "agent:complete", at, data)).await;
    }

    let cases = [
        ("migration", vec!["in-task"]),
        ("MIGRATION", vec!["in-task"]),
        ("Warehouse", vec!["in-result"]),
        ("42", vec!["in-result"]),
        ("connectionrefused", vec!["in-error"]),
        ("EXAMPLE", vec!["in-error"]),
        ("budget", vec!["in-reason"]),
        ("überprüfung", vec!["in-name"]),
        ("absent", vec![]),
        ("prompt", vec![]),
    ];
    for (q, expected) in cases {
        assert_eq!(found(&app, &[("q", q)]).await, expected, "q={q}");
    }
    app.stop().await;
}

async fn every_word_must_match_and_filters_narrow_it(db: TestDb) {
    let app = start_searching(&db).await;
    let events = [
        (
            "a",
            "agent:error",
            "2026-11-28T10:00:00Z",
            "deploy failed: disk full",
        ),
        (
            "b",
            "agent:error",
            "2026-11-28T11:00:00Z",
            "deploy succeeded",
        ),
        (
            "c",
            "workflow:complete",
            "2026-11-28T12:00:00Z",
            "disk full during deploy",
        ),
        (
            "d",
            "agent:error",
            "2026-11-29T10:00:00Z",
            "Deploy: DISK full",
        ),
    ];
    for (id, event_type, at, text) in events {
        // "c" is another agent's, with a model: the audit filters narrow a search too.
        let data = match id {
            "c" => json!({"error": text, "agentId": "agent-8", "model": "m-1"}),
            _ => json!({"error": text, "agentId": "agent-7"}),
        };
        app.store(&event_with(id, event_type, at, data)).await;
    }

    let cases: [(Query, Vec<&str>); 9] = [
        (&[("q", "deploy")], vec!["d", "c", "b", "a"]),
        (&[("q", "disk deploy")], vec!["d", "c", "a"]),
        (&[("q", "full, disk!")], vec!["d", "c", "a"]),
        (&[("q", "disk succeeded")], vec![]),
        (&[("q", "disk"), ("type", "agent:error")], vec!["d", "a"]),
        (&[("q", "disk"), ("agentId", "agent-7")], vec!["d", "a"]),
        (
            &[("q", "deploy"), ("agentId", "agent-8,agent-9")],
            vec!["c"],
        ),
        (
            &[
                ("q", "deploy"),
                ("data.model", "m-1"),
                ("since", "2026-11-28T00:00:00Z"),
            ],
            vec!["c"],
        ),
        (
            &[
                ("q", "deploy agent"),
                ("since", "2026-11-28T10:30:00Z"),
                ("until", "2026-11-29T00:00:00Z"),
            ],
            vec!["c", "b"],
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(found(&app, query).await, expected, "{query:?}");
    }
    app.stop().await;
}

async fn pages_of_a_search_give_each_match_once_newest_first(db: TestDb) {
    let app = start_searching(&db).await;
    let mut expected = Vec::new();
    for n in 0..40 {
        let id = format!("evt-{n:02}");
        // Pairs of events share a timestamp, so pages also cut between ties.
        let at = format!("2026-11-28T10:{:02}:00Z", n / 2);
        let text = if n % 3 == 0 {
            "noise only"
        } else {
            "needle in the haystack"
        };
        app.store(&event_with(
            &id,
            "agent:complete",
            &at,
            json!({"result": text}),
        ))
        .await;
        if n % 3 != 0 {
            expected.push(id);
        }
    }
    expected.reverse();

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = vec![("q", "NEEDLE"), ("limit", "4")];
        if let Some(cursor) = &cursor {
            query.push(("cursor", cursor.as_str()));
        }
        let (status, page) = app.get_query("/events", &query).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(ids_of(&page));
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, expected, "each match once, newest first");
    app.stop().await;
}

async fn the_export_streams_every_match(db: TestDb) {
    let app = start_searching(&db).await;
    for n in 0..300 {
        let text = if n % 2 == 0 { "even step" } else { "odd step" };
        let at = format!("2026-11-28T10:00:{:02}.{n:03}Z", n % 60);
        let data = json!({"stepId": format!("s-{n}"), "status": text});
        app.store(&event_with(
            &format!("e{n:03}"),
            "workflow:step:complete",
            &at,
            data,
        ))
        .await;
    }

    let response = app.get("/events/export?q=even%20STEP").await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("the export's body");
    let events: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON event per line"))
        .collect();
    assert_eq!(events.len(), 150);
    assert!(events.iter().all(|e| e["data"]["status"] == "even step"));
    let times: Vec<_> = events.iter().map(|e| instant(&e["timestamp"])).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    app.stop().await;
}

async fn a_prune_removes_the_words_with_the_events(db: TestDb) {
    let app = start_searching(&db).await;
    for (id, at) in [
        ("old", "2020-01-01T00:00:00Z"),
        ("new", "2026-11-28T10:00:00Z"),
    ] {
        app.store(&event_with(
            id,
            "agent:complete",
            at,
            json!({"task": "vacuum the cache"}),
        ))
        .await;
    }
    assert_eq!(indexed(&db, "vacuum").await, 2);

    let store = Store::connect(db.url(), Durability::Normal)
        .await
        .expect("connect");
    let cutoff_us = 1_700_000_000_000_000;
    assert_eq!(store.prune_older_than(cutoff_us).await.expect("prune"), 1);
    store.close().await;

    assert_eq!(
        indexed(&db, "vacuum").await,
        1,
        "the pruned event's words are gone"
    );
    assert_eq!(found(&app, &[("q", "vacuum")]).await, ["new"]);
    app.stop().await;
}

async fn bad_search_text_is_rejected_with_400_naming_q(db: TestDb) {
    let app = start_searching(&db).await;
    let long = "x".repeat(201);
    let cases = [
        ("/events", vec![("q", "")]),
        ("/events", vec![("q", "   ")]),
        ("/events", vec![("q", long.as_str())]),
        ("/events/export", vec![("q", long.as_str())]),
        ("/events/stream", vec![("q", "word")]),
    ];
    for (path, query) in cases {
        let (status, body) = app.get_query(path, &query).await;
        assert_error(&format!("{path} {query:?}"), status, &body, 400, Some("q"));
    }
    let (status, _) = app
        .get_query("/events", &[("q", &"y".repeat(200)), ("limit", "1")])
        .await;
    assert_eq!(status, 200, "200 characters are accepted");
    let (status, page) = app.get_query("/events", &[("q", "?!-")]).await;
    assert_eq!(
        (status, ids_of(&page).len()),
        (200, 0),
        "no word matches nothing"
    );
    app.stop().await;
}

/// How many events the index holds `word` for, read from the index itself (not through the
/// events, which would hide entries left behind).
pub(crate) async fn indexed(db: &TestDb, word: &str) -> i64 {
    match db.backend() {
        Backend::Sqlite => {
            let mut conn = db.sqlite().await;
            sqlx::query_scalar("select count(*) from event_words where event_words match $1")
                .bind(format!("\"{word}\""))
                .fetch_one(&mut conn)
                .await
                .expect("count the index's matches")
        }
        Backend::Postgres => {
            let mut conn = db.postgres().await;
            sqlx::query_scalar("select count(*) from event_words where words @@ $1::tsquery")
                .bind(format!("'{word}'"))
                .fetch_one(&mut conn)
                .await
                .expect("count the index's matches")
        }
    }
}
