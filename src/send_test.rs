//! `send-test`: signs sample events of Dash's documented types with the same scheme Dash uses and
//! POSTs them, printing each answer — the equivalent of Dash's test-event script.

use serde_json::{Value, json};

use chrono::Utc;

use crate::cli::{SendTestArgs, non_empty};
use crate::event::format_time;
use crate::signature::sign;
use crate::startup::StartupError;

/// The timestamp of events sent with `--id`: fixed, so that their content never changes.
pub const CHOSEN_ID_TIME: &str = "2026-01-01T00:00:00Z";

/// Sends `args.count` signed sample events and prints each answer; fails if any was not 200.
pub async fn run(args: SendTestArgs) -> Result<(), StartupError> {
    let secret = non_empty(args.webhook_secret.clone()).ok_or_else(|| {
        StartupError::config("no webhook secret: set WEBHOOK_SECRET (or --webhook-secret)")
    })?;
    let client = reqwest::Client::new();
    let mut failures = 0u64;
    for n in 0..args.count {
        let body = match &args.id {
            // A chosen id always carries the same content, so sending it again is a duplicate.
            Some(id) => sample_event(id, &args.event_type, 0, CHOSEN_ID_TIME),
            None => {
                let id = uuid::Uuid::new_v4().to_string();
                sample_event(&id, &args.event_type, n, &format_time(Utc::now()))
            }
        }
        .to_string();
        match deliver(&client, &args.url, &secret, body).await {
            Ok((status, answer)) => {
                println!("{status} {answer}");
                failures += u64::from(status != 200);
            }
            Err(err) => {
                println!("error: {err}");
                failures += 1;
            }
        }
    }
    if failures > 0 {
        return Err(StartupError::Runtime(anyhow::anyhow!(
            "{failures} of {} deliveries to {} were not answered 200",
            args.count,
            args.url
        )));
    }
    Ok(())
}

async fn deliver(
    client: &reqwest::Client,
    url: &str,
    secret: &str,
    body: String,
) -> Result<(u16, String), reqwest::Error> {
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-dash-signature", sign(secret.as_bytes(), body.as_bytes()))
        .body(body)
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}

/// A realistic event of `event_type` at `timestamp`; `n` varies the numbers between events.
pub fn sample_event(id: &str, event_type: &str, n: u64, timestamp: &str) -> Value {
    json!({
        "id": id,
        "type": event_type,
        "timestamp": timestamp,
        "data": sample_data(event_type, n),
        "webhookId": "wh_send_test",
        "instanceId": "inst_send_test",
    })
}

/// The payload shape Dash documents for each type.
pub fn sample_data(event_type: &str, n: u64) -> Value {
    let agent = format!("agent-{}", 100 + n % 50);
    match event_type {
        "agent:start" => {
            json!({"agentId": agent, "task": "Summarise the open issues", "model": "claude-sonnet"})
        }
        "agent:complete" => json!({"agentId": agent, "task": "Summarise the open issues",
            "result": "done", "durationMs": 4000 + n % 3000, "cost": 0.01 * (n % 10 + 1) as f64}),
        "agent:error" => json!({"agentId": agent, "error": "rate limited by the model provider",
            "stack": "Error: rate limited\n    at Agent.run (agent.js:42:11)"}),
        "swarm:start" => json!({"swarmId": "swarm-1", "name": "release-notes", "agentCount": 4}),
        "swarm:complete" => {
            json!({"swarmId": "swarm-1", "results": ["ok", "ok", "ok", "ok"], "totalCost": 0.42})
        }
        "swarm:progress" => json!({"swarmId": "swarm-1", "progress": (n * 10) % 100}),
        "workflow:start" => json!({"workflowId": "wf-1", "name": "nightly-triage"}),
        "workflow:complete" => {
            json!({"workflowId": "wf-1", "status": "success", "durationMs": 90_000 + n})
        }
        "workflow:step:complete" => {
            json!({"workflowId": "wf-1", "stepId": format!("step-{n}"), "output": "ok"})
        }
        "budget:warning" => json!({"current": 80, "limit": 100, "percentage": 80}),
        "budget:exceeded" => json!({"current": 101.5, "limit": 100}),
        "safety:block" => {
            json!({"action": "rm -rf /", "reason": "destructive command", "agentId": agent})
        }
        _ => json!({"note": "sample event of an undocumented type"}),
    }
}
