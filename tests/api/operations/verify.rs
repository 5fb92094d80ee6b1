//! `dash-events verify`: events stored through the real server verify (exit 0); a row changed
//! behind the service's back — its body, its type, its timestamp, its signature — is named and
//! makes the exit code 1; a row without a stored signature is counted apart; the wrong secret
//! reports every row; no secret at all is a configuration error (exit 2).

use serde_json::Value;

use crate::backend::{Backend, TestDb};
use crate::helpers::{event_at, new_id};
use crate::process::{Exit, Process, dash_events};
use crate::support::app::App;
use crate::support::http::SECRET;
use crate::support::launch::EXIT_TIMEOUT;

both_backends!(
    verify_passes_untouched_events_and_names_each_row_changed_behind_its_back,
    verify_with_the_wrong_secret_reports_every_row,
);

/// Runs `verify` on `db` with `args` after `--database-url`.
pub async fn verify(db: &TestDb, args: &[&str]) -> Exit {
    let mut command = dash_events(["verify", "--database-url", db.url()]);
    command.args(args);
    Process::spawn(command)
        .expect_exit(EXIT_TIMEOUT, "verify")
        .await
}

/// Runs `sql` with `$1` bound to `value` and `$2` to the event id, behind the service's back.
async fn tamper(db: &TestDb, sql: &str, value: Option<Vec<u8>>, id: &str) {
    let done = match db.backend() {
        Backend::Sqlite => {
            let query = sqlx::query(sql).bind(value).bind(id);
            query
                .execute(&mut db.sqlite().await)
                .await
                .map(|r| r.rows_affected())
        }
        Backend::Postgres => {
            let query = sqlx::query(sql).bind(value).bind(id);
            query
                .execute(&mut db.postgres().await)
                .await
                .map(|r| r.rows_affected())
        }
    };
    assert_eq!(done.expect(sql), 1, "{sql} changed one row");
}

/// Stores one event of each of a few types, answering their ids and bodies.
async fn store_events(app: &App) -> Vec<(String, Value)> {
    let mut stored = Vec::new();
    for event_type in [
        "agent:complete",
        "agent:error",
        "budget:warning",
        "swarm:complete",
        "safety:block",
        "agent:start",
    ] {
        let id = new_id();
        let event = event_at(&id, event_type, "2026-11-28T10:00:00.000Z");
        app.store(&event).await;
        stored.push((id, event));
    }
    stored
}

/// The `mismatch` lines of `stdout` that name `id`.
fn lines_naming<'a>(stdout: &'a str, id: &str) -> Vec<&'a str> {
    stdout
        .lines()
        .filter(|line| line.starts_with("mismatch") && line.contains(id))
        .collect()
}

async fn verify_passes_untouched_events_and_names_each_row_changed_behind_its_back(db: TestDb) {
    let app = App::start(&db).await;
    let stored = store_events(&app).await;

    let clean = verify(&db, &["--webhook-secret", SECRET]).await;
    assert_eq!(clean.status.code(), Some(0), "{clean:?}");
    assert!(
        clean
            .stdout
            .contains("checked 6 events: 6 ok, 0 mismatched, 0 without signature"),
        "{clean:?}"
    );

    let ids: Vec<&str> = stored.iter().map(|(id, _)| id.as_str()).collect();
    let mut cheaper = stored[0].1.clone();
    cheaper["data"]["cost"] = serde_json::json!(0.01);
    let body = serde_json::to_vec(&cheaper).expect("serialize");
    tamper(
        &db,
        "update events set body = $1 where id = $2",
        Some(body),
        ids[0],
    )
    .await;
    let other_type = Some(b"agent:complete".to_vec());
    tamper(
        &db,
        "update events set type = $1 where id = $2",
        other_type,
        ids[1],
    )
    .await;
    let null = "update events set ts_us = ts_us + 1 where id = $2 and $1 is null";
    tamper(&db, null, None, ids[2]).await;
    tamper(
        &db,
        "update events set signature = $1 where id = $2",
        Some(vec![7; 32]),
        ids[3],
    )
    .await;
    // As if stored before signatures were kept: not a mismatch, counted apart.
    tamper(
        &db,
        "update events set signature = $1 where id = $2",
        None,
        ids[4],
    )
    .await;

    let found = verify(&db, &["--webhook-secret", SECRET]).await;

    assert_eq!(found.status.code(), Some(1), "{found:?}");
    let expected = [
        (ids[0], vec!["signature", "cost", "content hash"]),
        (ids[1], vec!["type"]),
        (ids[2], vec!["timestamp"]),
        (ids[3], vec!["signature"]),
    ];
    for (id, words) in expected {
        let lines = lines_naming(&found.stdout, id);
        assert_eq!(lines.len(), 1, "one line for {id}:\n{}", found.stdout);
        for word in words {
            assert!(lines[0].contains(word), "{word} in {:?}", lines[0]);
        }
    }
    for id in &ids[4..] {
        assert!(
            lines_naming(&found.stdout, id).is_empty(),
            "{id} reported:\n{}",
            found.stdout
        );
    }
    assert!(
        found
            .stdout
            .contains("checked 6 events: 1 ok, 4 mismatched, 1 without signature"),
        "{found:?}"
    );
    assert!(
        found.stderr.contains("error: 4 of 6 events"),
        "{}",
        found.stderr
    );
}

async fn verify_with_the_wrong_secret_reports_every_row(db: TestDb) {
    let app = App::start(&db).await;
    let stored = store_events(&app).await;

    let wrong = verify(&db, &["--webhook-secret", "not-the-secret"]).await;

    assert_eq!(wrong.status.code(), Some(1), "{wrong:?}");
    for (id, _) in &stored {
        let lines = lines_naming(&wrong.stdout, id);
        assert_eq!(lines.len(), 1, "{id}:\n{}", wrong.stdout);
        assert!(lines[0].contains("signature"), "{}", lines[0]);
    }
    let rotated = verify(
        &db,
        &[
            "--webhook-secret",
            "new",
            "--webhook-secret-previous",
            SECRET,
        ],
    )
    .await;
    assert_eq!(
        rotated.status.code(),
        Some(0),
        "the previous secret counts: {rotated:?}"
    );
    let mut from_env = dash_events(["verify", "--database-url", db.url()]);
    from_env.env("WEBHOOK_SECRET", SECRET);
    let from_env = Process::spawn(from_env)
        .expect_exit(EXIT_TIMEOUT, "verify")
        .await;
    assert_eq!(from_env.status.code(), Some(0), "{from_env:?}");
    let unset = verify(&db, &[]).await;
    assert_eq!(unset.status.code(), Some(2), "{unset:?}");
    assert!(unset.stderr.contains("WEBHOOK_SECRET"), "{}", unset.stderr);
}
