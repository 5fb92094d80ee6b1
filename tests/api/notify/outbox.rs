//! The outbox and the events it points at: a retention prune deletes the notifications of the
//! events it deletes, in the same transaction, and a pending notification whose event is gone
//! (deleted behind the service's back) is marked dead, "event no longer stored", not retried.

use serde_json::Value;

use crate::backend::{Backend, TestDb};
use crate::helpers::{event_at, new_id};
use crate::process::{Process, dash_events};
use crate::support::app::App;
use crate::support::capture::{Answer, Capture, notifications, notifying, rule};
use crate::support::launch::EXIT_TIMEOUT;

both_backends!(
    a_prune_deletes_the_notifications_of_the_events_it_deletes,
    a_notification_whose_event_is_gone_is_dead,
);

/// Runs one statement with one bound text behind the service's back.
async fn execute(db: &TestDb, sql: &str, id: &str) {
    let done = match db.backend() {
        Backend::Sqlite => sqlx::query(sql)
            .bind(id)
            .execute(&mut db.sqlite().await)
            .await
            .map(drop),
        Backend::Postgres => sqlx::query(sql)
            .bind(id)
            .execute(&mut db.postgres().await)
            .await
            .map(drop),
    };
    done.unwrap_or_else(|err| panic!("{sql}: {err}"));
}

/// Runs `dash-events <args>` with the rules in `NOTIFY_RULES` and answers what it printed.
async fn run(args: &[&str], rules: &[Value]) -> String {
    let mut command = dash_events(args);
    command.env("NOTIFY_RULES", Value::from(rules.to_vec()).to_string());
    let exit = Process::spawn(command)
        .expect_exit(EXIT_TIMEOUT, "the subcommand")
        .await;
    assert!(exit.status.success(), "{args:?} failed: {}", exit.stderr);
    exit.stdout
}

async fn a_prune_deletes_the_notifications_of_the_events_it_deletes(db: TestDb) {
    let endpoint = Capture::start(&[], Answer::Status(200)).await;
    let rules = [rule("ops", &["*"], "webhook", &endpoint.url("/"))];
    let app = App::start_with(&db, |config| {
        notifying(config, &rules, 3);
        config.notify.worker = false;
    })
    .await;
    let (old, kept) = (new_id(), new_id());
    for id in [&old, &kept] {
        app.store(&event_at(id, "agent:complete", "2026-11-28T10:00:00Z"))
            .await;
    }
    // Age one event past any window, as if it had been stored long ago.
    execute(&db, "update events set ts_us = 0 where id = $1", &old).await;

    let printed = run(
        &[
            "prune",
            "--database-url",
            db.url(),
            "--retention-days",
            "30",
        ],
        &[],
    )
    .await;

    assert!(printed.starts_with("pruned 1 events"), "{printed}");
    let left: Vec<Value> = notifications(&app, &[]).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["eventId"], kept.as_str());
}

async fn a_notification_whose_event_is_gone_is_dead(db: TestDb) {
    let endpoint = Capture::start(&[], Answer::Status(200)).await;
    let rules = [rule("ops", &["*"], "webhook", &endpoint.url("/"))];
    let app = App::start_with(&db, |config| {
        notifying(config, &rules, 3);
        config.notify.worker = false;
    })
    .await;
    let (gone, kept) = (new_id(), new_id());
    for id in [&gone, &kept] {
        app.store(&event_at(id, "agent:complete", "2026-11-28T10:00:00Z"))
            .await;
    }
    execute(&db, "delete from events where id = $1", &gone).await;

    let printed = run(&["notify", "--database-url", db.url()], &rules).await;

    assert!(
        printed.contains("sent 1, failed 0 (retried later), dead 1"),
        "{printed}"
    );
    let dead = notifications(&app, &[("state", "dead")]).await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["eventId"], gone.as_str());
    assert_eq!(dead[0]["lastError"], "event no longer stored");
    assert_eq!(dead[0]["eventType"], Value::Null);
    assert_eq!(dead[0]["attempts"], 1);
    let sent: Vec<String> = endpoint
        .requests()
        .iter()
        .filter_map(|r| r.header("x-dash-event-id").map(str::to_owned))
        .collect();
    assert_eq!(sent, [kept]);
}
