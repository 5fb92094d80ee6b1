//! Secrets never reach the logs: with the most verbose logging, after deliveries signed with the
//! current and previous secret, a bad signature, and queries with right and wrong bearer tokens,
//! nothing the server printed contains the webhook secrets or the API token.

use crate::backend::TestDb;
use crate::helpers::{event, new_id};
use crate::support::launch::Launch;

both_backends!(secrets_and_tokens_never_appear_in_trace_logs);

const PREVIOUS: &str = "previous-secret-f00dfeed";
const TOKEN: &str = "api-token-c0ffee42";

async fn secrets_and_tokens_never_appear_in_trace_logs(db: TestDb) {
    let app = Launch::new(&db)
        .api_token(TOKEN)
        .arg("--webhook-secret-previous")
        .arg(PREVIOUS)
        .env("RUST_LOG", "trace")
        .start()
        .await;
    assert_eq!(app.deliver(&event(&new_id())).await.0, 200);
    let body = serde_json::to_vec(&event(&new_id())).expect("serialize");
    let signed_with_previous = crate::helpers::sign(PREVIOUS, &body);
    let response = app
        .post_webhook(
            body,
            &[
                ("content-type", "application/json"),
                ("x-dash-signature", &signed_with_previous),
            ],
        )
        .await;
    assert_eq!(response.status(), 200);
    let response = app
        .post_webhook(
            b"{}".to_vec(),
            &[
                ("content-type", "application/json"),
                ("x-dash-signature", "sha256=00"),
            ],
        )
        .await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        app.get("/events").await.status(),
        200,
        "the client sends the right token"
    );
    let wrong = app
        .send(
            app.client
                .get(app.url("/stats"))
                .bearer_auth("wrong-token-123"),
        )
        .await;
    assert_eq!(wrong.status(), 401);

    let logs = app.stop().await.stderr;
    assert!(logs.contains("listening on"), "no logs captured: {logs}");
    for secret in [
        app_secret(&db),
        PREVIOUS.to_owned(),
        TOKEN.to_owned(),
        "wrong-token-123".to_owned(),
    ] {
        assert!(!logs.contains(&secret), "{secret:?} appears in the logs");
    }
}

fn app_secret(db: &TestDb) -> String {
    Launch::new(db).secret().to_owned()
}
