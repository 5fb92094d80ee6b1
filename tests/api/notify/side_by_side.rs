//! `serve`'s notification worker and `dash-events notify` on the same database at once, which the
//! README allows (an operator drains by hand while the service runs): on SQLite they are two
//! processes with their own connections to one file, on PostgreSQL two clients. Each claim is
//! one statement under the database's write lock and holds its rows under a lease, so each
//! notification is sent once.

use std::collections::HashMap;
use std::time::Duration;

use futures::future::join_all;
use serde_json::Value;

use crate::backend::TestDb;
use crate::helpers::{event_at, new_id};
use crate::process::{Process, dash_events};
use crate::support::app::App;
use crate::support::capture::{
    Answer, Capture, fence, notifications, notifying, rule, wait_for_state,
};
use crate::support::launch::EXIT_TIMEOUT;

both_backends!(the_worker_and_the_notify_command_at_once_send_each_notification_once);

/// Events delivered while one `dash-events notify` runs, per round.
const PER_ROUND: usize = 40;
/// Rounds at most; the test stops once `notify` has sent some and the worker some.
const ROUNDS: usize = 20;
const WAIT: Duration = Duration::from_secs(60);

async fn the_worker_and_the_notify_command_at_once_send_each_notification_once(db: TestDb) {
    let endpoint = Capture::start(&[], Answer::Status(200)).await;
    let rules = [rule("ops", &["*"], "webhook", &endpoint.url("/"))];
    let app = App::start_with(&db, |config| notifying(config, &rules, 3)).await;
    let rules_json = Value::from(rules.to_vec()).to_string();

    let mut ids = Vec::new();
    let mut sent_by_command = 0;
    for _ in 0..ROUNDS {
        let round: Vec<String> = (0..PER_ROUND).map(|_| new_id()).collect();
        let (_, printed) = tokio::join!(deliver_all(&app, &round), drain(&db, &rules_json));
        sent_by_command += sent_count(&printed);
        ids.extend(round);
        if sent_by_command > 0 && sent_by_command < ids.len() {
            break;
        }
    }
    assert!(
        sent_by_command > 0 && sent_by_command < ids.len(),
        "the command sent {sent_by_command} of {}: the two never ran side by side",
        ids.len()
    );

    assert!(
        wait_for_state(&app, "sent", ids.len(), WAIT).await,
        "not all sent"
    );
    let fence = fence(&app, WAIT)
        .await
        .expect("the fence event was not sent");
    let mut sends: HashMap<String, usize> = HashMap::new();
    for request in endpoint.requests() {
        let id = request.header("x-dash-event-id").expect("event id header");
        if id != fence {
            *sends.entry(id.to_owned()).or_default() += 1;
        }
    }
    for id in &ids {
        assert_eq!(sends.get(id), Some(&1), "{id} was sent this often");
    }
    assert_eq!(sends.len(), ids.len());
    let listed = notifications(&app, &[]).await;
    assert!(
        listed.iter().all(|n| n["attempts"] == 1),
        "a notification claimed twice"
    );
}

async fn deliver_all(app: &App, ids: &[String]) {
    join_all(ids.iter().map(|id| async move {
        app.store(&event_at(id, "agent:complete", "2026-11-28T10:00:00Z"))
            .await
    }))
    .await;
}

/// Runs `dash-events notify` to its end; answers what it printed.
async fn drain(db: &TestDb, rules_json: &str) -> String {
    let mut command = dash_events(["notify", "--database-url", db.url()]);
    command.env("NOTIFY_RULES", rules_json);
    let exit = Process::spawn(command)
        .expect_exit(EXIT_TIMEOUT, "notify drains and exits")
        .await;
    assert!(exit.status.success(), "notify failed: {}", exit.stderr);
    exit.stdout
}

/// The `sent N` of the command's summary line.
fn sent_count(printed: &str) -> usize {
    let sent = printed
        .split("sent ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("no summary in {printed:?}"));
    sent.trim().parse().expect("a count")
}
