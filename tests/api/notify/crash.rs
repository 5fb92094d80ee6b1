//! The outbox survives the process: an event stored by a receiver that dies (`kill -9`) before
//! sending is notified after the restart, once; a send cut off by `kill -9` is sent again once its
//! lease has run out; and `dash-events notify` sends what is pending, then exits 0.

use std::time::Duration;

use nix::sys::signal::Signal;

use crate::backend::TestDb;
use crate::helpers::{event_at, new_id};
use crate::process::{Process, dash_events};
use crate::support::capture::{
    Answer, Capture, fence, launch_notifying, notifications, notifications_of, rule, wait_for_state,
};
use crate::support::launch::EXIT_TIMEOUT;

both_backends!(
    a_receiver_killed_between_store_and_send_notifies_after_restart_once,
    a_send_cut_off_by_kill_9_is_sent_again_after_its_lease,
    the_notify_command_sends_what_is_pending_and_exits_0,
);

const WAIT: Duration = Duration::from_secs(30);

async fn a_receiver_killed_between_store_and_send_notifies_after_restart_once(db: TestDb) {
    let endpoint = Capture::start(&[], Answer::Status(200)).await;
    let rules = [rule("ops", &["*"], "webhook", &endpoint.url("/"))];
    // Without its worker the receiver only records: the kill lands between store and send.
    let mut recorder = launch_notifying(&db, &rules, 3)
        .arg("--notify-worker")
        .arg("false")
        .start()
        .await;
    let ids: Vec<String> = (0..5).map(|_| new_id()).collect();
    for id in &ids {
        recorder
            .store(&event_at(id, "agent:complete", "2026-11-28T10:00:00Z"))
            .await;
    }
    recorder.signal(Signal::SIGKILL);
    recorder.wait_exit().await;
    assert!(endpoint.requests().is_empty(), "sent before the kill");

    let app = launch_notifying(&db, &rules, 3).start().await;

    assert!(
        endpoint.wait_for(ids.len(), WAIT).await,
        "not sent after the restart"
    );
    assert!(wait_for_state(&app, "sent", ids.len(), WAIT).await);
    // Settled: the only notifications are these five, each sent after one claim, none pending.
    let listed = notifications(&app, &[]).await;
    assert_eq!(listed.len(), ids.len(), "{listed:?}");
    assert!(
        listed
            .iter()
            .all(|n| n["state"] == "sent" && n["attempts"] == 1),
        "{listed:?}"
    );
    // A later round of the worker has run: a resend of a sent notification would show by now.
    let fence = fence(&app, WAIT)
        .await
        .expect("the fence event was not sent");
    let mut sent: Vec<String> = endpoint
        .requests()
        .iter()
        .map(|r| r.header("x-dash-event-id").unwrap_or_default().to_owned())
        .filter(|id| *id != fence)
        .collect();
    sent.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(sent, expected, "each event once");
}

async fn a_send_cut_off_by_kill_9_is_sent_again_after_its_lease(db: TestDb) {
    let endpoint = Capture::start(&[Answer::Hang], Answer::Status(200)).await;
    let rules = [rule("ops", &["*"], "webhook", &endpoint.url("/"))];
    // A 1 s send timeout makes the lease 7 s (twice the timeout and 5 s).
    let launch = launch_notifying(&db, &rules, 3)
        .arg("--notify-timeout-ms")
        .arg("1000");
    let mut app = launch.clone().start().await;
    let id = new_id();
    app.store(&event_at(&id, "agent:complete", "2026-11-28T10:00:00Z"))
        .await;
    assert!(
        endpoint.wait_for(1, WAIT).await,
        "the first send never arrived"
    );
    app.signal(Signal::SIGKILL);
    app.wait_exit().await;

    let app = launch.start().await;

    assert!(
        wait_for_state(&app, "sent", 1, WAIT).await,
        "not sent after the lease ran out"
    );
    // A later worker round has run: a resend of the recorded notification would show by now.
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
        [0, 200],
        "the cut-off send, then one that was answered"
    );
    assert_eq!(notifications_of(&app, &id).await[0]["attempts"], 2);
}

async fn the_notify_command_sends_what_is_pending_and_exits_0(db: TestDb) {
    let endpoint = Capture::start(&[], Answer::Status(200)).await;
    let rules = [rule("ops", &["agent:error"], "webhook", &endpoint.url("/"))];
    let launch = launch_notifying(&db, &rules, 3)
        .arg("--notify-worker")
        .arg("false");
    let app = launch.clone().start().await;
    for event_type in [
        "agent:error",
        "agent:error",
        "agent:error",
        "agent:complete",
    ] {
        app.store(&event_at(&new_id(), event_type, "2026-11-28T10:00:00Z"))
            .await;
    }
    let rules_json = serde_json::Value::from(rules.to_vec()).to_string();

    let mut notify = Process::spawn({
        let mut command = dash_events(["notify", "--database-url", db.url()]);
        command.env("NOTIFY_RULES", &rules_json);
        command
    });
    let exit = notify
        .expect_exit(EXIT_TIMEOUT, "notify drains and exits")
        .await;

    assert!(exit.status.success(), "notify failed: {}", exit.stderr);
    assert!(
        exit.stdout
            .contains("sent 3, failed 0 (retried later), dead 0; 0 pending, 0 dead"),
        "{}",
        exit.stdout
    );
    assert_eq!(endpoint.requests().len(), 3);
    assert_eq!(notifications(&app, &[("state", "sent")]).await.len(), 3);

    let mut without_rules = Process::spawn(dash_events(["notify", "--database-url", db.url()]));
    let exit = without_rules
        .expect_exit(EXIT_TIMEOUT, "notify without rules")
        .await;
    assert_eq!(exit.status.code(), Some(2), "{}", exit.stderr);
    assert!(exit.stderr.contains("NOTIFY_RULES"), "{}", exit.stderr);
}
