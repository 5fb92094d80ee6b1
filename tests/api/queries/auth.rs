//! The bearer token on the query API: with `--api-token`, `/events`, `/events/{id}`,
//! `/events/{id}/body`, `/stats` and `/stats/timeline` answer 401 `{"error": …}` to a missing or wrong token and 200 to the right one, while the
//! webhook and the operations endpoints never ask for it. Without a token, on loopback, queries
//! are open and the server warns about it in its log.

use reqwest::header::AUTHORIZATION;

use crate::backend::TestDb;
use crate::helpers::{assert_error, event, status_and_json};
use crate::support::app::{App, api_token};
use crate::support::server::ServeProcess;

const TOKEN: &str = "s3cret-token";
const QUERY_PATHS: [&str; 5] = [
    "/events",
    "/events/known",
    "/events/known/body",
    "/stats",
    "/stats/timeline",
];

both_backends!(
    query_api_without_the_right_bearer_token_is_rejected_with_401,
    query_api_with_the_right_bearer_token_answers_200,
    webhook_and_operations_endpoints_need_no_token,
    without_a_token_on_loopback_queries_are_open_and_a_warning_is_logged,
);

async fn query_api_without_the_right_bearer_token_is_rejected_with_401(db: TestDb) {
    let app = App::start_with(&db, |config| api_token(config, TOKEN)).await;
    app.store(&event("known")).await;
    let wrong_headers: [(&str, Option<String>); 7] = [
        ("no Authorization header", None),
        ("a wrong token", Some("Bearer not-the-token".to_owned())),
        ("the token with a suffix", Some(format!("Bearer {TOKEN}x"))),
        (
            "a prefix of the token",
            Some(format!("Bearer {}", &TOKEN[..4])),
        ),
        ("the token without Bearer", Some(TOKEN.to_owned())),
        (
            "the token as Basic credentials",
            Some(format!("Basic {TOKEN}")),
        ),
        ("Bearer with nothing after it", Some("Bearer ".to_owned())),
    ];

    for path in QUERY_PATHS {
        for (case, header) in &wrong_headers {
            let mut request = app.client.get(app.url(path));
            if let Some(value) = header {
                request = request.header(AUTHORIZATION, value);
            }
            let response = app.send(request).await;
            let (status, body) = status_and_json(response).await;
            assert_error(&format!("{path} with {case}"), status, &body, 401, None);
        }
    }
}

async fn query_api_with_the_right_bearer_token_answers_200(db: TestDb) {
    let app = App::start_with(&db, |config| api_token(config, TOKEN)).await;
    app.store(&event("known")).await;

    for path in QUERY_PATHS {
        let response = app
            .send(
                app.client
                    .get(app.url(path))
                    .header(AUTHORIZATION, format!("Bearer {TOKEN}")),
            )
            .await;
        let (status, body) = status_and_json(response).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
}

async fn webhook_and_operations_endpoints_need_no_token(db: TestDb) {
    let app = App::start_with(&db, |config| api_token(config, TOKEN)).await;

    let (status, body) = app.deliver(&event("open-webhook")).await;
    assert_eq!(status, 200, "webhook without a token: {body}");
    for path in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        let status = app.send(app.client.get(app.url(path))).await.status();
        assert_eq!(status, 200, "{path} without a token");
    }
}

async fn without_a_token_on_loopback_queries_are_open_and_a_warning_is_logged(db: TestDb) {
    // A process: the warning is in its log.
    let app = ServeProcess::start(&db).await;
    app.store(&event("known")).await;

    for path in QUERY_PATHS {
        let status = app.send(app.client.get(app.url(path))).await.status();
        assert_eq!(status, 200, "{path} with no token configured");
    }
    let log = app.stderr();
    assert!(
        log.lines()
            .any(|line| line.contains("API_TOKEN") && line.to_lowercase().contains("warn")),
        "no warning naming API_TOKEN in the log:\n{log}"
    );
}
