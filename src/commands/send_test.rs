//! `send-test`: signs sample events of Dash's documented types with the same scheme Dash uses and
//! POSTs them, printing each answer — the equivalent of Dash's test-event script — with a
//! progress bar on stderr and a summary line at the end.

use std::fmt;
use std::time::{Duration, Instant};

use chrono::Utc;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};

use super::CommandError;
use crate::config::Secret;
use crate::event::format_time;
use crate::signature::sign;

/// The timestamp of events sent with `--id`: fixed, so that their content never changes.
pub const CHOSEN_ID_TIME: &str = "2026-01-01T00:00:00Z";

/// What to send, and where.
#[derive(Debug, Clone)]
pub struct SendTest {
    /// The receiver's webhook endpoint.
    pub url: String,
    /// The key to sign with.
    pub secret: Secret,
    /// The event type to send.
    pub event_type: String,
    /// How many events.
    pub count: u64,
    /// This id every time instead of fresh UUIDs, e.g. to redeliver an event.
    pub id: Option<String>,
}

/// What the answers of one run added up to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Deliveries attempted.
    pub sent: u64,
    /// Answered 200 as new.
    pub stored: u64,
    /// Answered 200 as a duplicate.
    pub duplicates: u64,
    /// Not answered 200 (or not answered at all).
    pub errors: u64,
    /// How long the run took.
    pub elapsed: Duration,
}

impl Summary {
    /// Counts one answer: its status and, for a 200, whether its body says `duplicate`.
    pub fn count(&mut self, status: Option<u16>, answer: &str) {
        self.sent += 1;
        if status != Some(200) {
            self.errors += 1;
        } else if serde_json::from_str::<Value>(answer).is_ok_and(|a| a["duplicate"] == true) {
            self.duplicates += 1;
        } else {
            self.stored += 1;
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.elapsed.as_secs_f64();
        let rate = if seconds > 0.0 {
            self.sent as f64 / seconds
        } else {
            0.0
        };
        write!(
            f,
            "sent {}, stored {}, duplicates {}, errors {}, {rate:.1} events/s",
            self.sent, self.stored, self.duplicates, self.errors
        )
    }
}

/// Sends `args.count` signed sample events and prints each answer, then the summary; fails if
/// any answer was not 200.
pub async fn run(args: SendTest) -> Result<(), CommandError> {
    let secret = args.secret.expose();
    let client = reqwest::Client::new();
    let bar = progress_bar(args.count);
    let started = Instant::now();
    let mut summary = Summary::default();
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
        let (status, line) = match deliver(&client, &args.url, secret, body).await {
            Ok((status, answer)) => {
                summary.count(Some(status), &answer);
                (status.to_string(), answer)
            }
            Err(err) => {
                summary.count(None, "");
                ("error:".to_owned(), err.to_string())
            }
        };
        // The bar steps aside while the line is printed, so they do not overwrite each other.
        bar.suspend(|| println!("{status} {line}"));
        bar.inc(1);
    }
    bar.finish_and_clear();
    summary.elapsed = started.elapsed();
    println!("{summary}");
    if summary.errors > 0 {
        return Err(CommandError::failure(format!(
            "{} of {} deliveries to {} were not answered 200",
            summary.errors, summary.sent, args.url
        )));
    }
    Ok(())
}

/// A bar on stderr; indicatif draws nothing when stderr is not a terminal.
fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{bar:40} {pos}/{len} sent, {per_sec}")
        .expect("the template is valid");
    bar.set_style(style);
    bar
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_counted_as_stored_duplicates_or_errors() {
        let mut summary = Summary::default();
        summary.count(Some(200), r#"{"received":true,"duplicate":false,"id":"a"}"#);
        summary.count(Some(200), r#"{"received":true,"duplicate":true,"id":"a"}"#);
        summary.count(Some(409), r#"{"error":"x"}"#);
        summary.count(None, "");
        summary.elapsed = Duration::from_secs(2);
        assert_eq!(
            (
                summary.sent,
                summary.stored,
                summary.duplicates,
                summary.errors
            ),
            (4, 1, 1, 2)
        );
        assert_eq!(
            summary.to_string(),
            "sent 4, stored 1, duplicates 1, errors 2, 2.0 events/s"
        );
    }
}
