//! `POST /events/export/links`: a link to one export that works without the bearer token for
//! 60 s (what the web view's "Download CSV" follows). The link opens exactly the export it was
//! made for: a changed parameter, another path or an expired link is a 401; making one needs the
//! token and parameters the export accepts.

use dash_events::clock::Clock;
use reqwest::Method;
use serde_json::Value;

use crate::backend::TestDb;
use crate::helpers::{assert_error, event_at, new_id, status_and_json};
use crate::queries::export::export_raw;
use crate::support::app::{App, api_token};

both_backends!(
    a_download_link_opens_its_export_without_the_token,
    a_changed_or_expired_download_link_is_refused,
    download_links_need_the_token_and_valid_parameters,
);

async fn a_download_link_opens_its_export_without_the_token(db: TestDb) {
    let app = App::start_with(&db, |config| api_token(config, "link-token")).await;
    for (n, event_type) in ["agent:error", "agent:complete", "agent:error"]
        .iter()
        .enumerate()
    {
        let at = format!("2026-11-28T10:0{n}:00Z");
        app.store(&event_at(&new_id(), event_type, &at)).await;
    }
    let query = [("format", "csv"), ("type", "agent:error")];

    let link = make_link(&app, &query).await;
    let followed = app
        .send(app.client.get(app.url(link["url"].as_str().unwrap())))
        .await;

    assert_eq!(followed.status(), 200);
    assert!(
        followed.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let body = followed.bytes().await.unwrap();
    let (_, _, with_token) = export_raw(&app, &app.client, &query).await;
    assert_eq!(
        &body[..],
        &with_token[..],
        "the same export as with the token"
    );
    assert_eq!(
        body.split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count(),
        3
    );
    let expires = chrono::DateTime::parse_from_rfc3339(link["expiresAt"].as_str().unwrap());
    let left = expires.unwrap().signed_duration_since(chrono::Utc::now());
    assert!((0..=60).contains(&left.num_seconds()), "{left:?}");
}

async fn a_changed_or_expired_download_link_is_refused(db: TestDb) {
    let clock = Clock::system();
    let app = App::start_with(&db, |config| {
        api_token(config, "link-token");
        config.clock = clock.clone();
    })
    .await;
    let link = make_link(&app, &[("format", "csv"), ("type", "agent:error")]).await;
    let url = link["url"].as_str().unwrap().to_owned();
    let query = url.split_once('?').unwrap().1;
    let changed = [
        url.replace("agent%3Aerror", "agent%3Acomplete"),
        url.replace("format=csv&", ""),
        format!("/events?{query}"),
        format!("/events/export/links?{query}"),
    ];
    for path in &changed {
        let method = if path.contains("links") {
            Method::POST
        } else {
            Method::GET
        };
        let (status, body) =
            status_and_json(app.send(app.client.request(method, app.url(path))).await).await;
        assert_error(path, status, &body, 401, None);
    }

    clock.step(61_000_000);
    let (status, body) = status_and_json(app.send(app.client.get(app.url(&url))).await).await;
    assert_error("61 s later", status, &body, 401, None);
}

async fn download_links_need_the_token_and_valid_parameters(db: TestDb) {
    let app = App::start_with(&db, |config| api_token(config, "link-token")).await;
    let anonymous = app.client.post(app.url("/events/export/links?format=csv"));
    let (status, body) = status_and_json(app.send(anonymous).await).await;
    assert_error("no token", status, &body, 401, None);
    for (query, word) in [
        ("format=xml", "format"),
        ("limit=5", "limit"),
        ("since=yesterday", "since"),
        ("data.model=gpt", "since"),
        ("signature=abc", "signature"),
        ("format=csv&expires=1", "expires"),
    ] {
        let request = app.request(Method::POST, &format!("/events/export/links?{query}"));
        let (status, body) = status_and_json(app.send(request).await).await;
        assert_error(query, status, &body, 400, Some(word));
    }
}

/// A link made with the bearer token for the export of `query`.
async fn make_link(app: &App, query: &[(&str, &str)]) -> Value {
    let request = app
        .request(Method::POST, "/events/export/links")
        .query(query);
    let (status, link) = status_and_json(app.send(request).await).await;
    assert_eq!(status, 200, "{link}");
    link
}
