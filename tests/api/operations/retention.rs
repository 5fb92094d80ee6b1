//! Retention: `dash-events prune` and `serve --retention-days` delete the events whose timestamp
//! is older than the window and keep the others, `/stats` and `/events` agree afterwards, a
//! replayed delivery of a pruned event is refused with 422 and not stored, and a bad
//! `RETENTION_DAYS` is exit 2.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::backend::{self, Backend, TestDb};
use crate::helpers::{assert_error, eventually, new_id};
use crate::process::{Exit, Process, dash_events};
use crate::support::app::App;
use crate::support::fill::{days_ago, event_at_time, store_events};
use crate::support::http::Http;
use crate::support::launch::EXIT_TIMEOUT;
use crate::support::launch::Launch;

both_backends!(
    prune_deletes_old_events_keeps_fresh_ones_and_stats_agree_with_events,
    replay_of_a_pruned_event_is_refused_with_422_and_not_stored,
);

/// The old (to prune) and fresh (to keep) events of a 30-day window, around `now`: types with
/// events on both sides, one type with old events only, several per day, and one event on each
/// side of the cutoff within the same day.
fn old_and_fresh(now: DateTime<Utc>) -> (Vec<Value>, Vec<Value>) {
    let mut old = Vec::new();
    let mut fresh = Vec::new();
    for n in 0..1300 {
        let event_type = ["agent:complete", "agent:error"][n % 2];
        let at = days_ago(now, 31 + (n % 9) as i64, (n % 20) as i64);
        old.push(event_at_time(&format!("old-{n}"), event_type, at, 0.25, 10));
    }
    for n in 0..7 {
        old.push(event_at_time(
            &format!("old-only-{n}"),
            "budget:exceeded",
            days_ago(now, 40, n),
            1.0,
            0,
        ));
    }
    for n in 0..40 {
        let event_type = ["agent:complete", "agent:error"][n % 2];
        let at = days_ago(now, (n % 29) as i64, 1);
        fresh.push(event_at_time(
            &format!("fresh-{n}"),
            event_type,
            at,
            0.5,
            10,
        ));
    }
    // Either side of the cutoff by two hours: one day of totals loses one event and keeps one.
    old.push(event_at_time(
        "old-edge",
        "agent:complete",
        days_ago(now, 30, 2),
        0.25,
        0,
    ));
    fresh.push(event_at_time(
        "fresh-edge",
        "agent:complete",
        days_ago(now, 30, -2),
        0.5,
        0,
    ));
    (old, fresh)
}

async fn prune_deletes_old_events_keeps_fresh_ones_and_stats_agree_with_events(db: TestDb) {
    let (old, fresh) = old_and_fresh(Utc::now());
    store_events(&db, &[old.clone(), fresh.clone()].concat()).await;

    let first = prune(&db, &["--retention-days", "30"]).await;
    let again = prune(&db, &["--retention-days", "30"]).await;

    assert!(first.status.success(), "{first:?}");
    assert!(
        first
            .stdout
            .contains(&format!("pruned {} events", old.len())),
        "{}",
        first.stdout
    );
    assert!(again.stdout.contains("pruned 0 events"), "{}", again.stdout);
    let mut kept = db.stored_ids().await;
    kept.sort();
    let mut expected: Vec<String> = fresh
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    expected.sort();
    assert_eq!(kept, expected);
    let app = App::start(&db).await;
    let (since, until) = (
        days_ago(Utc::now(), 35, 0).to_rfc3339(),
        days_ago(Utc::now(), 10, 5).to_rfc3339(),
    );
    let windows = [
        vec![],
        vec![("since", "2020-01-01T00:00:00Z")],
        vec![("since", since.as_str()), ("until", until.as_str())],
    ];
    for window in &windows {
        assert_stats_match_events(&app, window).await;
    }
    let stats = app.get_json("/stats").await;
    assert_eq!(stats["totalEvents"], fresh.len());
    assert!(
        stats["eventCounts"].get("budget:exceeded").is_none(),
        "a type with no events left is still counted: {stats}"
    );
}

async fn replay_of_a_pruned_event_is_refused_with_422_and_not_stored(db: TestDb) {
    let now = Utc::now();
    let pruned = event_at_time(&new_id(), "agent:complete", days_ago(now, 31, 0), 0.1, 0);
    store_events(&db, std::slice::from_ref(&pruned)).await;
    let app = Launch::new(&db)
        .arg("--retention-days")
        .arg("30")
        .start()
        .await;
    let gone = eventually(Duration::from_secs(30), || async {
        db.count_events().await == 0
    })
    .await;
    assert!(gone, "serve did not prune at start");
    let logged = eventually(Duration::from_secs(10), || async {
        app.stderr()
            .contains("pruned events older than the retention window")
    })
    .await;
    assert!(logged, "no prune in the log:\n{}", app.stderr());

    let (status, body) = app.deliver(&pruned).await;
    let unsigned = app
        .post_webhook(
            serde_json::to_vec(&pruned).unwrap(),
            &[("content-type", "application/json")],
        )
        .await;
    let unsigned_status = unsigned.status().as_u16();
    let _ = unsigned.bytes().await;
    let mut no_data = pruned.clone();
    no_data.as_object_mut().unwrap().remove("data");
    let (invalid_status, invalid) = app.deliver(&no_data).await;
    let fresh = event_at_time(&new_id(), "agent:complete", days_ago(now, 29, 0), 0.1, 0);
    let (fresh_status, _) = app.deliver(&fresh).await;

    assert_error(
        "replay of a pruned event",
        status,
        &body,
        422,
        Some("timestamp"),
    );
    assert_eq!(
        body["error"],
        "timestamp: older than the retention window of 30 days; not stored"
    );
    assert_eq!(
        unsigned_status, 401,
        "the signature is checked before the window"
    );
    assert_error(
        "expired and invalid",
        invalid_status,
        &invalid,
        400,
        Some("data"),
    );
    assert_eq!(fresh_status, 200);
    assert_eq!(db.stored_ids().await, [fresh["id"].as_str().unwrap()]);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"dash_events_rejected_total{reason="expired"} 1"#),
        "{metrics}"
    );
    let doc = app.get_json("/openapi.json").await;
    assert!(doc["paths"]["/webhooks/dash"]["post"]["responses"]["422"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_retention_days_are_refused_with_exit_2_naming_the_variable() {
    backend::run(Backend::Sqlite, |db: TestDb| async move {
        for value in ["0", "-3", "thirty", "1.5"] {
            let serve = Launch::new(&db)
                .env("RETENTION_DAYS", value)
                .start_expecting_exit()
                .await;
            // `=` so that a negative number is read as the flag's value, not as another flag.
            let by_flag = prune(&db, &[&format!("--retention-days={value}")]).await;
            let by_env = prune_env(&db, value).await;
            for (what, exit) in [
                ("serve", &serve),
                ("prune --retention-days", &by_flag),
                ("prune", &by_env),
            ] {
                assert_eq!(exit.status.code(), Some(2), "{what} {value}: {exit:?}");
                let line = exit
                    .stderr
                    .lines()
                    .find(|l| l.starts_with("error: "))
                    .unwrap_or_default();
                assert!(
                    line.contains("RETENTION_DAYS"),
                    "{what} {value}: {}",
                    exit.stderr
                );
                assert!(!exit.stderr.contains("panicked"), "{}", exit.stderr);
            }
        }
        let without = prune(&db, &[]).await;
        assert_eq!(without.status.code(), Some(2), "{without:?}");
        assert!(
            without.stderr.contains("RETENTION_DAYS"),
            "{}",
            without.stderr
        );
    })
    .await;
}

/// Checks `/stats` over `window` against the events `GET /events` lists in it.
pub(crate) async fn assert_stats_match_events(app: &Http, window: &[(&str, &str)]) {
    let (status, stats) = app.get_query("/stats", window).await;
    assert_eq!(status, 200, "{stats}");
    let mut query = window.to_vec();
    query.push(("limit", "1000"));
    let (_, page) = app.get_query("/events", &query).await;
    assert!(page["nextCursor"].is_null(), "more than one page");
    let events = page["events"].as_array().unwrap();
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for event in events {
        *counts
            .entry(event["type"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    let cost: f64 = events
        .iter()
        .map(|e| e["data"]["cost"].as_f64().unwrap())
        .sum();
    assert_eq!(stats["totalEvents"], events.len(), "{window:?}: {stats}");
    assert_eq!(
        stats["eventCounts"],
        serde_json::to_value(&counts).unwrap(),
        "{window:?}"
    );
    let total_cost = stats["totalCost"].as_f64().unwrap();
    assert!(
        (total_cost - cost).abs() < 1e-6,
        "{window:?}: totalCost {total_cost}, events {cost}"
    );
}

/// Runs `dash-events prune --database-url <db>` with `args`.
async fn prune(db: &TestDb, args: &[&str]) -> Exit {
    let mut command = dash_events(["prune", "--database-url", db.url()]);
    command.args(args).current_dir(db.dir());
    Process::spawn(command)
        .expect_exit(EXIT_TIMEOUT, "prune")
        .await
}

/// Runs `dash-events prune` with `RETENTION_DAYS=value` in its environment.
async fn prune_env(db: &TestDb, value: &str) -> Exit {
    let mut command = dash_events(["prune", "--database-url", db.url()]);
    command.env("RETENTION_DAYS", value).current_dir(db.dir());
    Process::spawn(command)
        .expect_exit(EXIT_TIMEOUT, "prune")
        .await
}
