//! The command line: every `serve` option also reads its environment variable and the flag wins
//! over the variable; without `--database-url` the SQLite file `dash-events.db` in the working
//! directory is used, and relative `sqlite:` paths resolve there too; `migrate` applies the
//! migrations and exits 0, again and again.

use reqwest::header::AUTHORIZATION;
use serde_json::json;

use crate::backend::{self, Backend, TestDb};
use crate::helpers::{event, new_id, sign, status_and_json};
use crate::process::{Process, dash_events};
use crate::support::launch::EXIT_TIMEOUT;
use crate::support::launch::Launch;

both_backends!(
    options_are_read_from_environment_variables,
    flags_win_over_environment_variables,
    migrate_applies_the_migrations_and_exits_0,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_database_is_dash_events_db_in_the_working_directory() {
    backend::run(Backend::Sqlite, |db: TestDb| async move {
        let app = Launch::new(&db).without_database_url().start().await;

        app.store(&event(&new_id())).await;

        assert!(
            db.dir().join("dash-events.db").is_file(),
            "no ./dash-events.db"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relative_sqlite_url_is_resolved_against_the_working_directory() {
    backend::run(Backend::Sqlite, |db: TestDb| async move {
        std::fs::create_dir(db.dir().join("data")).unwrap();
        for (url, file) in [
            ("sqlite:relative.db", "relative.db"),
            ("sqlite:data/events.db", "data/events.db"),
        ] {
            let app = Launch::new(&db).database_url(url).start().await;

            app.store(&event(&new_id())).await;

            assert!(
                db.dir().join(file).is_file(),
                "{url} did not create ./{file}"
            );
        }
    })
    .await;
}

async fn options_are_read_from_environment_variables(db: TestDb) {
    let app = Launch::new(&db)
        .via_environment()
        .api_token("env-token")
        .env("MAX_BODY_BYTES", "2048")
        .env("WEBHOOK_SECRET_PREVIOUS", "env-previous")
        .start()
        .await;
    let body = serde_json::to_vec(&event(&new_id())).unwrap();
    let json = ("content-type", "application/json");

    let signed_previous = sign("env-previous", &body);
    let response = app
        .post_webhook(body, &[json, ("x-dash-signature", &signed_previous)])
        .await;
    assert_eq!(
        response.status(),
        200,
        "WEBHOOK_SECRET_PREVIOUS was not read"
    );
    let (status, answer) = app.deliver(&event(&new_id())).await;
    assert_eq!(status, 200, "WEBHOOK_SECRET was not read: {answer}");
    let big = vec![b' '; 3000];
    let signed_big = sign(&app.secret, &big);
    let response = app
        .post_webhook(big, &[json, ("x-dash-signature", &signed_big)])
        .await;
    assert_eq!(response.status(), 413, "MAX_BODY_BYTES was not read");
    let unauthorized = app.send(app.client.get(app.url("/events"))).await;
    assert_eq!(unauthorized.status(), 401, "API_TOKEN was not read");
    assert_eq!(db.count_events().await, 2, "DATABASE_URL was not read");
}

async fn flags_win_over_environment_variables(db: TestDb) {
    let elsewhere = format!("sqlite://{}/missing/dir/x.db", db.dir().display());
    let app = Launch::new(&db)
        .env("WEBHOOK_SECRET", "env-secret")
        .env("DATABASE_URL", &elsewhere)
        .env("LISTEN_ADDR", "0.0.0.0:0")
        .env("API_TOKEN", "env-token")
        .env("MAX_BODY_BYTES", "10")
        .api_token("flag-token")
        .arg("--max-body-bytes")
        .arg("100000")
        .start()
        .await;
    assert!(app.addr.ip().is_loopback(), "LISTEN_ADDR won over --listen");

    let (status, answer) = app.deliver(&event(&new_id())).await;
    assert_eq!(
        status, 200,
        "--webhook-secret / --max-body-bytes lost: {answer}"
    );
    let body = serde_json::to_vec(&event(&new_id())).unwrap();
    let headers = [
        ("content-type", "application/json"),
        ("x-dash-signature", &sign("env-secret", &body)),
    ];
    let (status, _) = status_and_json(app.post_webhook(body, &headers).await).await;
    assert_eq!(
        status, 401,
        "WEBHOOK_SECRET was used although --webhook-secret was given"
    );
    for (token, expected) in [("flag-token", 200), ("env-token", 401)] {
        let response = app
            .send(
                app.client
                    .get(app.url("/stats"))
                    .header(AUTHORIZATION, format!("Bearer {token}")),
            )
            .await;
        assert_eq!(response.status(), expected, "Bearer {token}");
    }
    assert_eq!(
        db.count_events().await,
        1,
        "--database-url lost to DATABASE_URL"
    );
}

async fn migrate_applies_the_migrations_and_exits_0(db: TestDb) {
    for round in ["first", "second"] {
        let mut command = dash_events(["migrate", "--database-url", db.url()]);
        command.current_dir(db.dir());

        let exit = Process::spawn(command)
            .expect_exit(EXIT_TIMEOUT, "migrate")
            .await;

        assert!(exit.status.success(), "{round} migrate: {exit:?}");
    }
    assert_eq!(db.count_events().await, 0, "no events table after migrate");
    let app = Launch::new(&db).start().await;
    let (status, answer) = app.deliver(&event(&new_id())).await;
    assert_eq!(
        (status, &answer["duplicate"]),
        (200, &json!(false)),
        "{answer}"
    );
}
