//! Notification rules end to end: a Slack rule receives a Block Kit message per matching event
//! (read by a local server standing in for Slack), a webhook rule the signed body unchanged, a
//! redelivered event is notified once, and invalid rules keep `serve` from starting.

use std::time::Duration;

use serde_json::{Value, json};

use crate::backend::TestDb;
use crate::helpers::{event_at, new_id};
use crate::support::capture::{
    Answer, Capture, fence, launch_notifying, notifications, notifications_of, rule,
    start_notifying, wait_for_state,
};
use crate::support::launch::Launch;

both_backends!(
    slack_messages_arrive_with_the_expected_blocks,
    a_webhook_rule_gets_the_signed_body_and_other_types_are_not_sent,
    a_redelivered_event_is_notified_once,
    invalid_rules_keep_serve_from_starting_without_showing_the_url,
);

const WAIT: Duration = Duration::from_secs(20);

/// The header, the field texts and the context of a Slack message.
fn read_message(message: &Value) -> (String, Vec<String>, String) {
    let blocks = message["blocks"].as_array().expect("blocks");
    let header = blocks[0]["text"]["text"]
        .as_str()
        .expect("a header")
        .to_owned();
    let fields = blocks
        .iter()
        .filter_map(|b| b["fields"].as_array())
        .flatten()
        .map(|f| f["text"].as_str().unwrap().to_owned())
        .collect();
    let context = blocks.last().unwrap()["elements"][0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    (header, fields, context)
}

async fn slack_messages_arrive_with_the_expected_blocks(db: TestDb) {
    let slack = Capture::start(&[], Answer::Status(200)).await;
    let url = slack.url("/services/T0/B0/XXXXSECRET");
    let app = launch_notifying(&db, &[rule("slack", &["*"], "slack", &url)], 3)
        .start()
        .await;
    let cases = [
        (
            "agent:complete",
            json!({"agentId": "agent-1", "task": "Write <docs>", "durationMs": 83_400, "cost": 0.0123}),
            "✅ Agent completed",
            vec![
                "*Task*\nWrite &lt;docs&gt;",
                "*Duration*\n1 m 23 s",
                "*Cost*\n$0.0123",
                "*Agent*\nagent-1",
            ],
        ),
        (
            "budget:warning",
            json!({"current": 42.5, "limit": 50, "percentage": 85}),
            "⚠️ Budget warning",
            vec!["*Usage*\n85 %", "*Spent*\n$42.50 of $50.00"],
        ),
        (
            "agent:error",
            json!({"agentId": "agent-2", "error": "boom & bust"}),
            "❌ Agent error",
            vec!["*Agent*\nagent-2"],
        ),
        (
            "swarm:complete",
            json!({"swarmId": "swarm-9", "totalCost": 2.5}),
            "Dash event swarm:complete",
            vec!["*Swarm*\nswarm-9", "*Cost*\n$2.50"],
        ),
    ];
    let mut ids = Vec::new();
    for (event_type, data, ..) in &cases {
        let id = new_id();
        let mut event = event_at(&id, event_type, "2026-11-28T10:00:00Z");
        event["data"] = data.clone();
        app.store(&event).await;
        ids.push(id);
    }

    assert!(
        slack.wait_for(cases.len(), WAIT).await,
        "{} Slack messages",
        slack.requests().len()
    );

    let requests = slack.requests();
    for ((event_type, _, header, fields), id) in cases.iter().zip(&ids) {
        let request = requests
            .iter()
            .find(|r| r.json()["blocks"].to_string().contains(id.as_str()))
            .unwrap_or_else(|| panic!("no message for {event_type} {id}"));
        assert_eq!(request.path, "/services/T0/B0/XXXXSECRET");
        assert_eq!(request.header("content-type"), Some("application/json"));
        let message = request.json();
        assert!(
            message["text"]
                .as_str()
                .is_some_and(|t| t.starts_with(header)),
            "{message}"
        );
        let (got_header, got_fields, context) = read_message(&message);
        assert_eq!(&got_header, header, "{event_type}: {message}");
        assert_eq!(&got_fields, fields, "{event_type}: {message}");
        assert_eq!(
            context,
            format!("Event `{id}` · Instance `inst_1` · 2026-11-28T10:00:00Z")
        );
        if *event_type == "agent:error" {
            assert_eq!(
                message["blocks"][1]["text"]["text"],
                "```boom &amp; bust```"
            );
        }
    }
    assert!(wait_for_state(&app, "sent", cases.len(), WAIT).await);
    let listed = notifications(&app, &[]).await;
    assert!(
        listed
            .iter()
            .all(|n| n["target"] == "slack" && n["attempts"] == 1),
        "{listed:?}"
    );
    assert!(
        !app.stderr().contains("XXXXSECRET"),
        "the Slack URL was logged"
    );
}

async fn a_webhook_rule_gets_the_signed_body_and_other_types_are_not_sent(db: TestDb) {
    let endpoint = Capture::start(&[], Answer::Status(204)).await;
    let rules = [rule(
        "errors",
        &["agent:error", "safety:block"],
        "webhook",
        &endpoint.url("/in"),
    )];
    let app = start_notifying(&db, &rules, 3).await;
    let (error_id, other_id) = (new_id(), new_id());
    let error = event_at(&error_id, "agent:error", "2026-11-28T10:00:00Z");
    app.store(&event_at(
        &other_id,
        "agent:complete",
        "2026-11-28T10:00:00Z",
    ))
    .await;
    app.store(&error).await;

    assert!(endpoint.wait_for(1, WAIT).await, "nothing sent");
    assert!(wait_for_state(&app, "sent", 1, WAIT).await);

    let requests = endpoint.requests();
    assert_eq!(requests.len(), 1, "only agent:error matches");
    assert_eq!(
        requests[0].header("x-dash-event-id"),
        Some(error_id.as_str())
    );
    assert_eq!(requests[0].header("content-type"), Some("application/json"));
    assert_eq!(
        requests[0].body,
        serde_json::to_vec(&error).unwrap(),
        "not the signed body"
    );
    let listed = notifications(&app, &[]).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        (
            &listed[0]["eventId"],
            &listed[0]["eventType"],
            &listed[0]["rule"],
            &listed[0]["target"]
        ),
        (
            &json!(error_id),
            &json!("agent:error"),
            &json!("errors"),
            &json!("webhook")
        )
    );
    assert!(listed[0]["sentAt"].is_string() && listed[0]["nextAttemptAt"].is_null());
}

async fn a_redelivered_event_is_notified_once(db: TestDb) {
    let endpoint = Capture::start(&[], Answer::Status(200)).await;
    let app = start_notifying(
        &db,
        &[rule("all", &["*"], "webhook", &endpoint.url("/"))],
        3,
    )
    .await;
    let id = new_id();
    let event = event_at(&id, "agent:complete", "2026-11-28T10:00:00Z");
    app.store(&event).await;
    let again = futures::future::join_all((0..10).map(|_| app.deliver(&event))).await;
    assert!(
        again
            .iter()
            .all(|(s, b)| *s == 200 && b["duplicate"] == true),
        "{again:?}"
    );

    assert!(wait_for_state(&app, "sent", 1, WAIT).await);
    let listed = notifications(&app, &[]).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["attempts"], 1, "{listed:?}");
    // A later round of the worker has run: a resend of the sent notification would show by now.
    fence(&app, WAIT)
        .await
        .expect("the fence event was not sent");

    assert_eq!(notifications_of(&app, &id).await.len(), 1);
    assert_eq!(endpoint.requests_for(&id).len(), 1, "sent more than once");
}

async fn invalid_rules_keep_serve_from_starting_without_showing_the_url(db: TestDb) {
    let url = "https://hooks.example.test/services/XXXXSECRET";
    let cases = [
        ("not JSON", "[{".to_owned()),
        (
            "bad name",
            json!([{"name": "Bad Name", "types": ["*"], "slack": url}]).to_string(),
        ),
        (
            "no types",
            json!([{"name": "a", "types": [], "slack": url}]).to_string(),
        ),
        (
            "two targets",
            json!([{"name": "a", "types": ["*"], "slack": url, "webhook": url}]).to_string(),
        ),
        (
            "not a URL",
            json!([{"name": "a", "types": ["*"], "webhook": "XXXXSECRET"}]).to_string(),
        ),
        (
            "missing file",
            "@/nonexistent/XXXXSECRET-rules.json".to_owned(),
        ),
    ];
    for (case, rules) in cases {
        let exit = Launch::new(&db)
            .env("NOTIFY_RULES", &rules)
            .start_expecting_exit()
            .await;
        assert_eq!(exit.status.code(), Some(2), "{case}: {}", exit.stderr);
        let line = exit
            .stderr
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_default();
        assert!(line.contains("NOTIFY_RULES"), "{case}: {}", exit.stderr);
        if case != "missing file" {
            assert!(
                !exit.stderr.contains("XXXXSECRET"),
                "{case} showed the URL: {}",
                exit.stderr
            );
        }
    }
}
