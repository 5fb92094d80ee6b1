//! `dash-events send-test`: signs sample events and POSTs them to a running receiver, printing one
//! line per delivery with the status and the answer, and exits non-zero if any answer was not 200.
//! Sending a chosen `--id` again is acknowledged as a duplicate.

use crate::backend::TestDb;
use crate::helpers::DOCUMENTED_TYPES;
use crate::helpers::ids_of;
use crate::process::{Exit, Process, dash_events};
use crate::support::app::App;
use crate::support::launch::EXIT_TIMEOUT;

both_backends!(
    send_test_delivers_count_events_of_the_type_and_exits_0,
    send_test_sends_one_agent_complete_event_by_default,
    send_test_sends_every_documented_type,
    send_test_of_a_chosen_id_twice_is_acknowledged_as_duplicate,
    send_test_with_a_wrong_secret_exits_non_zero,
    send_test_reads_url_and_secret_from_the_environment,
    send_test_without_a_receiver_exits_non_zero_without_panic,
);

/// Runs `send-test` against `app` with `--url`, `--webhook-secret SECRET` and `args`.
async fn send_test(app: &App, secret: &str, args: &[&str]) -> Exit {
    let url = app.url("/webhooks/dash");
    let mut command = dash_events(["send-test", "--url", &url, "--webhook-secret", secret]);
    command.args(args);
    Process::spawn(command)
        .expect_exit(EXIT_TIMEOUT, "send-test")
        .await
}

/// Output lines mentioning `needle` once spaces are removed (`"duplicate": true` → `"duplicate":true`).
fn lines_with(output: &str, needle: &str) -> usize {
    output
        .lines()
        .filter(|line| line.replace(' ', "").contains(needle))
        .count()
}

async fn send_test_delivers_count_events_of_the_type_and_exits_0(db: TestDb) {
    let app = App::start(&db).await;

    let exit = send_test(
        &app,
        &app.secret,
        &["--type", "budget:warning", "--count", "3"],
    )
    .await;

    assert!(exit.status.success(), "{exit:?}");
    assert!(
        lines_with(&exit.stdout, "200") >= 3,
        "a line per answer:\n{}",
        exit.stdout
    );
    assert_eq!(
        lines_with(&exit.stdout, "\"received\":true"),
        3,
        "{}",
        exit.stdout
    );
    let (_, page) = app
        .get_query("/events", &[("type", "budget:warning")])
        .await;
    assert_eq!(ids_of(&page).len(), 3, "{page}");
    assert_eq!(db.count_events().await, 3);
}

async fn send_test_sends_one_agent_complete_event_by_default(db: TestDb) {
    let app = App::start(&db).await;

    let exit = send_test(&app, &app.secret, &[]).await;

    assert!(exit.status.success(), "{exit:?}");
    let page = app.get_json("/events").await;
    assert_eq!(page["events"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page["events"][0]["type"], "agent:complete");
}

async fn send_test_sends_every_documented_type(db: TestDb) {
    let app = App::start(&db).await;

    for event_type in DOCUMENTED_TYPES {
        let exit = send_test(&app, &app.secret, &["--type", event_type]).await;
        assert!(exit.status.success(), "--type {event_type}: {exit:?}");
    }

    let page = app.get_json("/events").await;
    let mut types: Vec<&str> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    types.sort_unstable();
    let mut expected = DOCUMENTED_TYPES.to_vec();
    expected.sort_unstable();
    assert_eq!(types, expected);
}

async fn send_test_of_a_chosen_id_twice_is_acknowledged_as_duplicate(db: TestDb) {
    let app = App::start(&db).await;
    let args = ["--id", "test-event-1732788000000"];

    let first = send_test(&app, &app.secret, &args).await;
    let second = send_test(&app, &app.secret, &args).await;

    assert!(first.status.success(), "{first:?}");
    assert!(second.status.success(), "{second:?}");
    assert_eq!(
        lines_with(&first.stdout, "\"duplicate\":false"),
        1,
        "{}",
        first.stdout
    );
    assert_eq!(
        lines_with(&second.stdout, "\"duplicate\":true"),
        1,
        "{}",
        second.stdout
    );
    assert_eq!(db.stored_ids().await, ["test-event-1732788000000"]);
}

async fn send_test_with_a_wrong_secret_exits_non_zero(db: TestDb) {
    let app = App::start(&db).await;

    let exit = send_test(&app, "not-the-secret", &["--count", "2"]).await;

    assert!(
        !exit.status.success(),
        "exit 0 although every answer was 401: {exit:?}"
    );
    assert!(
        exit.stdout.contains("401"),
        "the 401 was not printed:\n{}",
        exit.stdout
    );
    assert_eq!(db.count_events().await, 0);
}

async fn send_test_reads_url_and_secret_from_the_environment(db: TestDb) {
    let app = App::start(&db).await;
    let mut command = dash_events(["send-test", "--count", "2"]);
    command
        .env("WEBHOOK_URL", app.url("/webhooks/dash"))
        .env("WEBHOOK_SECRET", &app.secret);

    let exit = Process::spawn(command)
        .expect_exit(EXIT_TIMEOUT, "send-test")
        .await;

    assert!(exit.status.success(), "{exit:?}");
    assert_eq!(db.count_events().await, 2);
}

async fn send_test_without_a_receiver_exits_non_zero_without_panic(db: TestDb) {
    let app = App::start(&db).await;
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/webhooks/dash", free.local_addr().unwrap());
    drop(free);
    let mut command = dash_events(["send-test", "--url", &url, "--webhook-secret", &app.secret]);
    command.current_dir(db.dir());

    let exit = Process::spawn(command)
        .expect_exit(EXIT_TIMEOUT, "send-test")
        .await;

    assert!(
        !exit.status.success(),
        "exit 0 with nobody listening: {exit:?}"
    );
    let output = format!("{}{}", exit.stdout, exit.stderr);
    assert!(!output.contains("panicked"), "{output}");
}

both_backends!(send_test_ends_with_a_summary_of_stored_duplicates_and_errors);

async fn send_test_ends_with_a_summary_of_stored_duplicates_and_errors(db: TestDb) {
    let app = App::start(&db).await;

    let same_id = send_test(&app, &app.secret, &["--count", "20", "--id", "evt-summary"]).await;
    let wrong_secret = send_test(&app, "not-the-secret", &["--count", "3"]).await;

    assert!(same_id.status.success(), "{same_id:?}");
    assert_eq!(lines_with(&same_id.stdout, "200"), 20, "{}", same_id.stdout);
    let summary = same_id.stdout.lines().last().unwrap_or_default();
    assert!(
        summary.starts_with("sent 20, stored 1, duplicates 19, errors 0, "),
        "{summary}"
    );
    assert!(summary.ends_with(" events/s"), "{summary}");
    let summary = wrong_secret.stdout.lines().last().unwrap_or_default();
    assert!(
        summary.starts_with("sent 3, stored 0, duplicates 0, errors 3, "),
        "{summary}"
    );
    assert_eq!(db.stored_ids().await, ["evt-summary"]);
}
