//! `GET /events/{id}`: the stored event, or 404 `{"error": …}`. Ids are Dash's strings, so the
//! path segment is percent-decoded and may hold colons, spaces, slashes, `%` and non-ASCII; no
//! path, however malformed, makes the service answer 500.

use serde_json::json;

use crate::backend::TestDb;
use crate::helpers::{assert_error, encode_segment, event, event_at, new_id, status_and_json};
use crate::support::app::App;

both_backends!(
    stored_event_is_found_by_id,
    unknown_id_is_answered_with_404,
    ids_with_reserved_characters_are_found_when_percent_encoded,
    malformed_paths_are_answered_without_500,
);

async fn stored_event_is_found_by_id(db: TestDb) {
    let app = App::start(&db).await;
    let id = new_id();
    let sent = event(&id);
    app.store(&sent).await;
    app.store(&event(&new_id())).await;

    let got = app.get_json(&format!("/events/{id}")).await;

    assert_eq!(got["id"], json!(id));
    assert_eq!(got["data"], sent["data"]);
}

async fn unknown_id_is_answered_with_404(db: TestDb) {
    let app = App::start(&db).await;
    app.store(&event("known")).await;

    for (case, path) in [
        ("an unknown uuid", format!("/events/{}", new_id())),
        ("a prefix of a stored id", "/events/know".to_owned()),
        ("a stored id in other case", "/events/KNOWN".to_owned()),
    ] {
        let (status, body) = status_and_json(app.get(&path).await).await;
        assert_error(case, status, &body, 404, None);
    }
}

async fn ids_with_reserved_characters_are_found_when_percent_encoded(db: TestDb) {
    let app = App::start(&db).await;
    let ids = [
        "test-event-1732788000000",
        "agent:complete:1",
        "with space",
        "100%real",
        "a/b",
        "query?x=1&y=2#frag",
        "plus+sign",
        "événement-ü-日本",
        "quote\"and'apostrophe",
        "semi;colon,comma",
    ];
    for id in ids {
        app.store(&event_at(id, "agent:start", "2026-11-28T10:00:00Z"))
            .await;
    }

    for id in ids {
        let path = format!("/events/{}", encode_segment(id));
        let (status, body) = status_and_json(app.get(&path).await).await;
        assert_eq!(status, 200, "id {id:?} at {path}: {body}");
        assert_eq!(body["id"], json!(id), "id {id:?}");
    }
}

async fn malformed_paths_are_answered_without_500(db: TestDb) {
    let app = App::start(&db).await;
    let long = "x".repeat(5000);
    let paths = [
        "/events/%ZZ".to_owned(),
        "/events/%".to_owned(),
        "/events/%FF%FE".to_owned(),
        "/events/%00".to_owned(),
        "/events/%0A".to_owned(),
        format!("/events/{long}"),
    ];

    let mut failures = Vec::new();
    for path in paths {
        let (status, body) = status_and_json(app.get(&path).await).await;
        if !(400..500).contains(&status) {
            let shown: String = path.chars().take(60).collect();
            failures.push(format!("{shown} answered {status}: {body}"));
        }
    }
    assert!(failures.is_empty(), "not a 4xx:\n{}", failures.join("\n"));
}
