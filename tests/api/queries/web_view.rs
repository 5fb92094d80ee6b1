//! The web page at `/`: served by the binary with its assets, public even when the query API
//! needs a token, each with its content type and a policy that lets it load nothing from
//! elsewhere; every asset it references exists, and none names another host (it works offline).
//! The page's behaviour in a browser is tested by `.ci/browser.sh`.

use reqwest::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE};

use crate::backend::TestDb;
use crate::helpers::{assert_error, status_and_json};
use crate::support::app::{App, api_token};

both_backends!(
    the_page_and_every_asset_it_references_are_served_without_a_token,
    unknown_assets_are_404,
);

/// `/assets/…` paths referenced by `text`: in HTML attributes and in JavaScript imports.
fn referenced_assets(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (at, _) in text.match_indices("/assets/") {
        let name: String = text[at + 8..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            .collect();
        found.push(format!("/assets/{name}"));
    }
    for (at, _) in text.match_indices("from './") {
        let name: String = text[at + 8..].chars().take_while(|c| *c != '\'').collect();
        found.push(format!("/assets/{name}"));
    }
    found
}

/// GETs `path` without any token; answers the content type and text after checking the status.
async fn fetch_public(app: &App, path: &str) -> (String, String, Option<String>) {
    let response = app.send(app.client.get(app.url(path))).await;
    assert_eq!(response.status(), 200, "{path} without a token");
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header(CONTENT_TYPE).unwrap_or_default();
    let policy = header(CONTENT_SECURITY_POLICY);
    (content_type, response.text().await.expect("text"), policy)
}

async fn the_page_and_every_asset_it_references_are_served_without_a_token(db: TestDb) {
    let app = App::start_with(&db, |config| api_token(config, "web-token")).await;

    let (content_type, html, policy) = fetch_public(&app, "/").await;
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(html.contains("<table"), "no events table in the page");
    let policy = policy.expect("a Content-Security-Policy on the page");
    assert!(
        policy.contains("default-src 'none'") && policy.contains("connect-src 'self'"),
        "{policy}"
    );

    let mut pending = referenced_assets(&html);
    let mut seen = Vec::new();
    // Follows imports from script to script; bounded by the handful of assets that exist.
    while let Some(path) = pending.pop() {
        if seen.contains(&path) {
            continue;
        }
        assert!(seen.len() < 20, "more assets than expected: {seen:?}");
        let (content_type, text, _) = fetch_public(&app, &path).await;
        let expected = if path.ends_with(".css") {
            "text/css"
        } else {
            "text/javascript"
        };
        assert!(content_type.starts_with(expected), "{path}: {content_type}");
        assert_no_other_host(&path, &text);
        pending.extend(referenced_assets(&text));
        seen.push(path);
    }
    assert_no_other_host("/", &html);
    for script in [
        "/assets/app.js",
        "/assets/sse.js",
        "/assets/charts.js",
        "/assets/app.css",
    ] {
        assert!(
            seen.iter().any(|s| s == script),
            "{script} is not reached from the page: {seen:?}"
        );
    }
}

/// No URL of another host: only the SVG namespace, which names a vocabulary and is not fetched.
fn assert_no_other_host(path: &str, text: &str) {
    let cleaned = text.replace("http://www.w3.org/2000/svg", "");
    for scheme in ["http://", "https://", "//cdn", "url(http"] {
        assert!(
            !cleaned.contains(scheme),
            "{path} names another host ({scheme})"
        );
    }
}

async fn unknown_assets_are_404(db: TestDb) {
    let app = App::start(&db).await;
    for path in [
        "/assets/nope.js",
        "/assets/..%2FCargo.toml",
        "/assets/",
        "/assets/app.js/x",
    ] {
        let (status, body) = status_and_json(app.get(path).await).await;
        assert_error(path, status, &body, 404, None);
    }
}
