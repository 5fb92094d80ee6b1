//! The operations endpoints: `/healthz` and `/readyz` answer 200 while the process and its
//! database are up, `/metrics` counts received deliveries by type and outcome and rejected ones by
//! reason next to a request-duration histogram, and `/openapi.json` describes every endpoint.

use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

use crate::backend::TestDb;
use crate::helpers::{event, event_at, new_id, sign, status_and_json};
use crate::support::app::App;
use crate::support::http::SECRET;
use crate::support::metrics::sample;

both_backends!(
    healthz_and_readyz_answer_200_while_up,
    metrics_count_deliveries_by_type_and_outcome,
    metrics_count_rejections_by_reason,
    metrics_expose_a_request_duration_histogram,
    openapi_document_describes_every_endpoint,
);

type Headers<'a> = Vec<(&'a str, &'a str)>;

async fn metrics_text(app: &App) -> String {
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain"),
        "Content-Type {content_type}"
    );
    response.text().await.unwrap()
}

async fn healthz_and_readyz_answer_200_while_up(db: TestDb) {
    let app = App::start(&db).await;

    for path in ["/healthz", "/readyz"] {
        assert_eq!(app.get(path).await.status(), 200, "{path}");
    }
}

async fn metrics_count_deliveries_by_type_and_outcome(db: TestDb) {
    let app = App::start(&db).await;
    let sent = event(&new_id());
    app.store(&sent).await;
    app.deliver(&sent).await;
    let mut conflicting = sent.clone();
    conflicting["data"] = json!({});
    assert_eq!(app.deliver(&conflicting).await.0, 409);
    app.store(&event_at(
        &new_id(),
        "dash:not-documented",
        "2026-11-28T10:00:00Z",
    ))
    .await;

    let metrics = metrics_text(&app).await;

    let received = "dash_events_received_total";
    for (outcome, event_type, count) in [
        ("stored", "agent:complete", 1.0),
        ("duplicate", "agent:complete", 1.0),
        ("conflict", "agent:complete", 1.0),
        ("stored", "other", 1.0),
    ] {
        let labels = [("outcome", outcome), ("type", event_type)];
        assert_eq!(
            sample(&metrics, received, &labels),
            count,
            "{labels:?} in\n{metrics}"
        );
    }
    assert!(
        !metrics.contains("dash:not-documented"),
        "unbounded type label:\n{metrics}"
    );
}

async fn metrics_count_rejections_by_reason(db: TestDb) {
    let app = App::start_with(&db, |config| config.max_body_bytes = 4096).await;
    let body = serde_json::to_vec(&event(&new_id())).unwrap();
    let signature = sign(SECRET, &body);
    let json = ("content-type", "application/json");
    let signed = ("x-dash-signature", signature.as_str());
    let not_an_event = b"[1]".to_vec();
    let signed_not_an_event = sign(SECRET, &not_an_event);
    let deliveries: [(Vec<u8>, Headers); 5] = [
        (vec![b' '; 5000], vec![json, signed]),
        (body.clone(), vec![("content-type", "text/plain"), signed]),
        (body.clone(), vec![json]),
        (body.clone(), vec![json, ("x-dash-signature", "sha256=00")]),
        (
            not_an_event,
            vec![json, ("x-dash-signature", &signed_not_an_event)],
        ),
    ];
    for (body, headers) in deliveries {
        let (status, answer) = status_and_json(app.post_webhook(body, &headers).await).await;
        assert!(
            (400..500).contains(&status),
            "{headers:?}: {status} {answer}"
        );
    }

    let metrics = metrics_text(&app).await;

    for reason in [
        "body_too_large",
        "unsupported_media_type",
        "missing_signature",
        "invalid_signature",
        "invalid_payload",
    ] {
        let count = sample(
            &metrics,
            "dash_events_rejected_total",
            &[("reason", reason)],
        );
        assert_eq!(count, 1.0, "rejections for {reason} in\n{metrics}");
    }
}

async fn metrics_expose_a_request_duration_histogram(db: TestDb) {
    let app = App::start(&db).await;
    app.store(&event(&new_id())).await;

    let metrics = metrics_text(&app).await;

    let name = "dash_events_http_request_duration_seconds";
    assert!(
        metrics.contains(&format!("# TYPE {name} histogram")),
        "{metrics}"
    );
    assert!(sample(&metrics, &format!("{name}_bucket"), &[("le", "+Inf")]) >= 1.0);
    assert!(
        sample(&metrics, &format!("{name}_count"), &[]) >= 1.0,
        "{metrics}"
    );
}

async fn openapi_document_describes_every_endpoint(db: TestDb) {
    let app = App::start(&db).await;

    let document = app.get_json("/openapi.json").await;

    let version = document["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3."), "not OpenAPI 3: {version:?}");
    assert!(document["info"]["title"].is_string(), "no info.title");
    let operations = [
        ("/webhooks/dash", "post"),
        ("/events", "get"),
        ("/events/{id}", "get"),
        ("/stats", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
        ("/openapi.json", "get"),
    ];
    for (path, method) in operations {
        let operation = &document["paths"][path][method];
        assert!(
            operation.is_object(),
            "no {method} {path} in paths: {}",
            document["paths"]
        );
    }
    let declared: Vec<&Value> = document["paths"]["/events"]["get"]["parameters"]
        .as_array()
        .map(|p| p.iter().map(|p| &p["name"]).collect())
        .unwrap_or_default();
    for parameter in ["type", "since", "until", "limit", "cursor"] {
        assert!(
            declared.contains(&&json!(parameter)),
            "GET /events lacks `{parameter}`"
        );
    }
}
