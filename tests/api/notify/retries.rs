//! Failing endpoints: a notification is retried with backoff until the endpoint recovers and is
//! then sent once; one that keeps failing is dead after `NOTIFY_MAX_ATTEMPTS`, shows in
//! `GET /notifications?state=dead` and in `/metrics`, and an operator's retry sends it once the
//! endpoint is back. Retrying what is not dead answers 409, an unknown id 404.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::backend::TestDb;
use crate::helpers::{event_at, eventually, new_id, status_and_json};
use crate::support::app::App;
use crate::support::capture::{
    Answer, Capture, fence, notifications, notifications_of, rule, start_notifying, wait_for_state,
};

both_backends!(
    an_endpoint_failing_three_times_then_recovering_gets_the_notification_once,
    an_endpoint_always_failing_makes_the_notification_dead_until_an_operator_retries,
);

const WAIT: Duration = Duration::from_secs(30);

async fn metrics(app: &App) -> String {
    app.get("/metrics")
        .await
        .text()
        .await
        .expect("metrics text")
}

async fn retry(app: &App, id: &str) -> (u16, Value) {
    let path = format!("/notifications/{id}/retry");
    status_and_json(app.send(app.request(Method::POST, &path)).await).await
}

async fn an_endpoint_failing_three_times_then_recovering_gets_the_notification_once(db: TestDb) {
    let script = [Answer::Status(500); 3];
    let endpoint = Capture::start(&script, Answer::Status(200)).await;
    let app = start_notifying(
        &db,
        &[rule("ops", &["*"], "webhook", &endpoint.url("/"))],
        8,
    )
    .await;
    let id = new_id();
    app.store(&event_at(&id, "agent:complete", "2026-11-28T10:00:00Z"))
        .await;

    assert!(
        wait_for_state(&app, "sent", 1, WAIT).await,
        "not sent: {:?}",
        endpoint.requests()
    );

    let listed = notifications(&app, &[]).await;
    assert_eq!(
        (listed[0]["state"].as_str(), listed[0]["attempts"].as_i64()),
        (Some("sent"), Some(4))
    );
    assert_eq!(listed[0]["lastError"], Value::Null);
    let lines = [
        r#"dash_events_notifications_total{outcome="failed",rule="ops"} 3"#,
        r#"dash_events_notifications_total{outcome="sent",rule="ops"} 1"#,
        "dash_events_notifications_pending 0",
        "dash_events_notifications_dead 0",
    ];
    // The gauges are refreshed right after the round that recorded the result.
    let counted = eventually(Duration::from_secs(5), || async {
        let text = metrics(&app).await;
        lines.iter().all(|line| text.contains(line))
    });
    assert!(
        counted.await,
        "not all of {lines:?} in\n{}",
        metrics(&app).await
    );

    // A later round of the worker has run: a resend of the sent notification would show by now.
    fence(&app, WAIT)
        .await
        .expect("the fence event was not sent");
    let statuses: Vec<u16> = endpoint
        .requests_for(&id)
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(
        statuses,
        [500, 500, 500, 200],
        "delivered once after three failures"
    );
    let listed = notifications_of(&app, &id).await;
    assert_eq!(
        (listed[0]["state"].as_str(), listed[0]["attempts"].as_i64()),
        (Some("sent"), Some(4)),
        "claimed again after it was sent"
    );
}

async fn an_endpoint_always_failing_makes_the_notification_dead_until_an_operator_retries(
    db: TestDb,
) {
    let endpoint = Capture::start(&[], Answer::Status(503)).await;
    let app = start_notifying(
        &db,
        &[rule("ops", &["*"], "webhook", &endpoint.url("/"))],
        3,
    )
    .await;
    let id = new_id();
    app.store(&event_at(&id, "agent:error", "2026-11-28T10:00:00Z"))
        .await;

    assert!(
        wait_for_state(&app, "dead", 1, WAIT).await,
        "not dead: {:?}",
        endpoint.requests()
    );
    let dead = notifications(&app, &[("state", "dead")]).await;
    assert_eq!(dead[0]["attempts"], 3);
    assert_eq!(dead[0]["lastError"], "HTTP 503");
    assert_eq!(dead[0]["eventId"], id.as_str());
    assert!(dead[0]["nextAttemptAt"].is_null());
    assert_eq!(endpoint.requests().len(), 3);
    assert!(
        notifications(&app, &[("state", "pending")])
            .await
            .is_empty()
    );
    let lines = [
        r#"dash_events_notifications_total{outcome="failed",rule="ops"} 2"#,
        r#"dash_events_notifications_total{outcome="dead",rule="ops"} 1"#,
        "dash_events_notifications_dead 1",
    ];
    // The gauges are refreshed right after the round that recorded the result.
    let counted = eventually(Duration::from_secs(5), || async {
        let text = metrics(&app).await;
        lines.iter().all(|line| text.contains(line))
    });
    assert!(
        counted.await,
        "not all of {lines:?} in\n{}",
        metrics(&app).await
    );

    endpoint.answer_from_now(Answer::Status(200));
    let notification_id = dead[0]["id"].to_string();
    let (status, revived) = retry(&app, &notification_id).await;
    assert_eq!(status, 200, "{revived}");
    assert_eq!(
        (revived["state"].as_str(), revived["attempts"].as_i64()),
        (Some("pending"), Some(0))
    );

    assert!(
        wait_for_state(&app, "sent", 1, WAIT).await,
        "not sent after the retry"
    );
    assert_eq!(endpoint.requests().len(), 4);
    assert_eq!(notifications(&app, &[]).await[0]["attempts"], 1);
    let (status, body) = retry(&app, &notification_id).await;
    assert_eq!(status, 409, "retrying a sent notification: {body}");
    for unknown in ["999999", "0", "-1", "abc"] {
        let (status, body) = retry(&app, unknown).await;
        assert_eq!(status, 404, "{unknown}: {body}");
    }
    let (status, _) = app.get_query("/notifications", &[("state", "gone")]).await;
    assert_eq!(status, 400);
}
