//! `GET /events/export` and `dash-events export`: every matching event, newest first, one JSON
//! event per line in the shape of `GET /events`; filters as in `GET /events`, `limit` / `cursor`
//! refused; the command writes the same bytes as the
//! endpoint; a database lost mid-export cuts the transfer instead of ending it cleanly.

use std::time::Duration;

use chrono::Utc;
use reqwest::{Client, Method};
use serde_json::Value;

use crate::backend::{TestDb, base_url};
use crate::helpers::{assert_error, event_at, new_id, status_and_json};
use crate::process::{Exit, Process, dash_events};
use crate::support::app::{App, api_token};
use crate::support::fill::{event_at_time, store_events};
use crate::support::http::Http;
use crate::support::launch::EXIT_TIMEOUT;

both_backends!(
    export_filters_like_events_and_refuses_paging,
    export_needs_the_api_token_when_one_is_configured,
    cli_export_writes_the_same_bytes_as_the_endpoint,
);
postgres_only!(export_cut_by_a_lost_database_ends_in_a_broken_transfer);

/// Bytes of padding per event: the large export is ~55 MB of NDJSON.
pub(crate) const PAD: usize = 1000;

async fn export_filters_like_events_and_refuses_paging(db: TestDb) {
    let app = App::start(&db).await;
    let types = ["agent:complete", "agent:error", "budget:warning"];
    for n in 0..12 {
        let at = format!("2026-11-28T10:{:02}:00Z", 59 - n * 3);
        app.store(&event_at(&new_id(), types[n % 3], &at)).await;
    }
    let cases: [&[(&str, &str)]; 6] = [
        &[],
        &[("type", "agent:error")],
        &[("type", "agent:complete,budget:warning")],
        &[("since", "2026-11-28T10:30:00Z")],
        &[("until", "2026-11-28T10:30:00Z")],
        &[
            ("type", "agent:complete"),
            ("since", "2026-11-28T10:10:00Z"),
            ("until", "2026-11-28T10:50:00Z"),
        ],
    ];

    for query in cases {
        let (status, content_type, body) = export_raw(&app, &app.client, query).await;
        assert_eq!(status, 200, "{query:?}");
        assert_eq!(content_type, "application/x-ndjson", "{query:?}");
        assert_eq!(lines(&body), all_pages(&app, query).await, "{query:?}");
    }
    let (_, _, empty) = export_raw(&app, &app.client, &[("type", "no:such")]).await;
    assert!(empty.is_empty(), "no matching event is an empty body");
    for (query, word) in [
        (&[("limit", "10")][..], "limit"),
        (&[("cursor", "abc")][..], "cursor"),
        (&[("since", "yesterday")][..], "since"),
        (&[("type", "a,,b")][..], "type"),
    ] {
        let (status, body) = app.get_query("/events/export", query).await;
        assert_error(&format!("{query:?}"), status, &body, 400, Some(word));
    }
}

async fn export_needs_the_api_token_when_one_is_configured(db: TestDb) {
    let app = App::start_with(&db, |config| api_token(config, "export-token")).await;
    app.store(&event_at(
        &new_id(),
        "agent:complete",
        "2026-11-28T10:00:00Z",
    ))
    .await;

    let anonymous = app.send(app.client.get(app.url("/events/export"))).await;
    let (status, body) = status_and_json(anonymous).await;

    assert_error("no token", status, &body, 401, None);
    let (status, _, body) = export_raw(&app, &app.client, &[]).await;
    assert_eq!((status, lines(&body).len()), (200, 1));
}

async fn cli_export_writes_the_same_bytes_as_the_endpoint(db: TestDb) {
    let app = App::start(&db).await;
    for n in 0..30 {
        let event_type = if n % 2 == 0 {
            "agent:complete"
        } else {
            "swarm:progress"
        };
        let at = format!("2026-11-{:02}T08:00:00Z", n % 28 + 1);
        app.store(&event_at(&new_id(), event_type, &at)).await;
    }
    let file = db.dir().join("export.ndjson");
    let file = file.to_str().expect("a UTF-8 path");

    let to_file = export_cli(&db, &["--output", file]).await;
    let filtered = [
        "--type",
        "swarm:progress",
        "--since",
        "2026-11-10T00:00:00Z",
    ];
    let to_stdout = export_cli(&db, &filtered).await;

    let (_, _, http_all) = export_raw(&app, &app.client, &[]).await;
    let query = [
        ("type", "swarm:progress"),
        ("since", "2026-11-10T00:00:00Z"),
    ];
    let (_, _, http_filtered) = export_raw(&app, &app.client, &query).await;
    assert!(to_file.status.success(), "{to_file:?}");
    assert_eq!(
        std::fs::read(file).unwrap(),
        http_all,
        "file and endpoint differ"
    );
    assert_eq!(lines(&http_all).len(), 30);
    assert!(
        to_file
            .stderr
            .contains(&format!("exported 30 events to {file}")),
        "{}",
        to_file.stderr
    );
    assert!(to_stdout.status.success(), "{to_stdout:?}");
    assert_eq!(
        to_stdout.stdout.as_bytes(),
        http_filtered,
        "stdout and endpoint differ"
    );
    assert_eq!(lines(&http_filtered).len(), 10);
    assert!(
        to_stdout
            .stderr
            .contains("exported 10 events to standard output"),
        "{}",
        to_stdout.stderr
    );
    let bad = export_cli(&db, &["--since", "last week"]).await;
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    assert!(bad.stderr.contains("--since"), "{}", bad.stderr);
}

async fn export_cut_by_a_lost_database_ends_in_a_broken_transfer(db: TestDb) {
    let events: Vec<Value> = (0..30_000)
        .map(|i| {
            event_at_time(
                &format!("evt-{i:06}"),
                "agent:complete",
                Utc::now(),
                0.01,
                PAD,
            )
        })
        .collect();
    store_events(&db, &events).await;
    let app = App::start(&db).await;
    let name = db.postgres_name().expect("a PostgreSQL test database");
    // Sent past the harness's check of answers against /openapi.json, which reads the whole
    // body: this transfer is cut off on purpose, and read chunk by chunk.
    let mut response = app
        .request(Method::GET, "/events/export")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let first = response.chunk().await.unwrap().expect("a first chunk");
    assert!(!first.is_empty());

    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&base_url())
        .await
        .unwrap();
    let refuse = format!(
        r#"alter database "{name}" allow_connections false;
           select pg_terminate_backend(pid) from pg_stat_activity where datname = '{name}';"#
    );
    sqlx::raw_sql(&refuse).execute(&mut admin).await.unwrap();
    let mut received = first.len();
    let ending = loop {
        match tokio::time::timeout(Duration::from_secs(30), response.chunk()).await {
            Ok(Ok(Some(chunk))) => received += chunk.len(),
            Ok(Ok(None)) => break "the body ended cleanly",
            Ok(Err(_)) => break "broken",
            Err(_) => break "no end within 30 s",
        }
    };
    let (status, body) = app.get_query("/events/export", &[]).await;
    let allow = format!(r#"alter database "{name}" allow_connections true"#);
    sqlx::raw_sql(&allow).execute(&mut admin).await.unwrap();

    assert_eq!(ending, "broken", "after {received} bytes");
    assert!(
        received < 30_000 * PAD,
        "the whole export arrived: {received} bytes"
    );
    assert_error("export with the database gone", status, &body, 503, None);
}

/// Runs `dash-events export --database-url <db>` with `args`.
async fn export_cli(db: &TestDb, args: &[&str]) -> Exit {
    let mut command = dash_events(["export", "--database-url", db.url()]);
    command.args(args).current_dir(db.dir());
    Process::spawn(command)
        .expect_exit(EXIT_TIMEOUT, "export")
        .await
}

/// `GET /events/export` with `query`: status, content type and the raw body.
pub(crate) async fn export_raw(
    app: &Http,
    client: &Client,
    query: &[(&str, &str)],
) -> (u16, String, Vec<u8>) {
    let request = client.get(app.url("/events/export")).query(query);
    let request = app.authorize(request);
    let response = app.send(request).await;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    let body = response.bytes().await.expect("the whole export");
    (status, content_type, body.to_vec())
}

/// Each line of an NDJSON body, parsed; every line must be JSON and end in a newline.
pub(crate) fn lines(body: &[u8]) -> Vec<Value> {
    assert!(
        body.is_empty() || body.ends_with(b"\n"),
        "the last line is cut"
    );
    body.split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_slice(line).expect("every line is JSON"))
        .collect()
}

/// Every event of `GET /events` with `query`, following `nextCursor` with pages of 1000.
pub(crate) async fn all_pages(app: &Http, query: &[(&str, &str)]) -> Vec<Value> {
    let mut events = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let mut params: Vec<(&str, &str)> = query.to_vec();
        params.push(("limit", "1000"));
        if let Some(cursor) = &cursor {
            params.push(("cursor", cursor));
        }
        let (status, page) = app.get_query("/events", &params).await;
        assert_eq!(status, 200, "{page}");
        events.extend(page["events"].as_array().expect("events").iter().cloned());
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return events,
        }
    }
    panic!("more than 1000 pages");
}
