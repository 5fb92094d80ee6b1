//! `serve` over HTTPS (`--tls-cert`, `--tls-key`): a signed delivery is stored over TLS, plain
//! HTTP to the TLS port is answered nothing and stores nothing, a renewed certificate reaches new
//! connections without a restart, a broken renewal leaves the previous certificate in service, the
//! handshake is bounded as the other slow clients are, and files that cannot be served are refused
//! at start with exit 2.
//!
//! Deliveries run on both backends. The rest lives in front of the store (the connection layer,
//! or a refusal before the database is opened), so it runs on SQLite only.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use crate::backend::TestDb;
use crate::helpers::{event, new_id, sign};
use crate::ingest::slow_clients::{assert_closed_by, watch_limit};
use crate::operations::startup::assert_refused;
use crate::support::http::{Http, SECRET};
use crate::support::launch::Launch;
use crate::support::raw_client::{self as raw, read_until_closed};
use crate::support::tls::{HttpsApp, TestCa, replace, write_pair};

both_backends!(
    a_signed_delivery_over_https_is_stored_byte_for_byte,
    plain_http_to_the_https_port_is_answered_nothing_and_stores_nothing,
);
sqlite_only!(
    a_renewed_certificate_reaches_new_connections_without_a_restart,
    a_broken_renewal_keeps_the_previous_certificate_in_service,
    a_client_that_never_handshakes_frees_its_slot_at_the_handshake_deadline,
    a_tls_connection_that_sends_no_request_is_closed_at_the_head_deadline,
    shutdown_closes_a_connection_still_in_its_handshake_at_once,
    serve_started_with_the_tls_variables_answers_over_https,
    unservable_tls_files_are_refused_with_exit_code_2_naming_the_option_and_file,
);

async fn a_signed_delivery_over_https_is_stored_byte_for_byte(db: TestDb) {
    let server = HttpsApp::start(&db, |_| {}).await;
    let id = new_id();
    let body = serde_json::to_vec(&event(&id)).expect("serialize the event");

    let answer = server.https.deliver_bytes(&body).await;

    assert_eq!(answer.status(), 200, "{:?}", answer.text().await);
    let stored = server.https.get(&format!("/events/{id}/body")).await;
    assert_eq!(stored.status(), 200);
    let stored = stored.bytes().await.expect("read the stored body");
    assert_eq!(
        stored.as_ref(),
        body.as_slice(),
        "the stored body differs from the one sent"
    );
}

async fn plain_http_to_the_https_port_is_answered_nothing_and_stores_nothing(db: TestDb) {
    let server = HttpsApp::start(&db, |_| {}).await;
    let id = new_id();
    let body = serde_json::to_vec(&event(&id)).expect("serialize the event");
    let head = format!(
        "POST /webhooks/dash HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\n\
         x-dash-signature: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        server.app.addr,
        sign(SECRET, &body),
        body.len()
    );
    let (mut reader, mut writer) = raw::connect(server.app.addr).await.into_split();

    // The server may close before the whole request is written; what matters is what it answers.
    let _ = writer.write_all(&[head.as_bytes(), &body].concat()).await;
    let seen = AtomicBool::new(false);
    let limit = Duration::from_secs(15);
    let (answer, closed) = read_until_closed(&mut reader, Instant::now(), limit, &seen).await;

    assert!(closed.is_some(), "the plain-HTTP connection was left open");
    let text = String::from_utf8_lossy(&answer);
    assert_eq!(raw::status(&answer), None, "answered in HTTP: {text}");
    let lookup = server.https.get(&format!("/events/{id}")).await;
    assert_eq!(lookup.status(), 404, "the plain-HTTP delivery was stored");
    assert_eq!(db.count_events().await, 0);
}

async fn a_renewed_certificate_reaches_new_connections_without_a_restart(db: TestDb) {
    // Started, it serves its first certificate (`HttpsApp::start` checks).
    let server = HttpsApp::start(&db, |_| {}).await;
    let renewed = server.ca.issue("renewed");

    replace(&server.files.key, &renewed.key_pem);
    replace(&server.files.cert, &renewed.cert_pem);

    server
        .await_served(&renewed, "the renewed certificate")
        .await;
    server.https.store(&event(&new_id())).await;
    assert!(server.reloads("reloaded").await >= 1);
}

async fn a_broken_renewal_keeps_the_previous_certificate_in_service(db: TestDb) {
    let server = HttpsApp::start(&db, |_| {}).await;
    let renewed = server.ca.issue("renewed");
    let half = &renewed.cert_pem[..renewed.cert_pem.len() / 2];
    let cases = [
        ("a half-written certificate", half),
        (
            "a certificate whose key is not written yet",
            &*renewed.cert_pem,
        ),
    ];

    for (count, (case, cert_pem)) in (1..).zip(cases) {
        replace(&server.files.cert, cert_pem);
        server.await_failed_reloads(count, case).await;
        assert_eq!(
            server.served().await,
            server.first.der,
            "{case}: the previous certificate"
        );
        server.https.store(&event(&new_id())).await;
    }
    // The renewal completed: the pair that failed is tried again once its files change.
    replace(&server.files.key, &renewed.key_pem);
    server.await_served(&renewed, "the completed renewal").await;
}

async fn a_client_that_never_handshakes_frees_its_slot_at_the_handshake_deadline(db: TestDb) {
    let bound = Duration::from_millis(1500);
    let server = HttpsApp::start(&db, |config| {
        config.limits.tls_handshake_timeout = bound;
        config.limits.max_connections = 1;
    })
    .await;
    let since = Instant::now();
    let (mut silent, _silent_writer) = raw::connect(server.app.addr).await.into_split();

    // Connections are accepted in order, so the delivery waits for the one slot the silent
    // client holds.
    let seen = AtomicBool::new(false);
    let watch = read_until_closed(&mut silent, since, watch_limit(bound), &seen);
    let deliver = async {
        server.https.store(&event(&new_id())).await;
        since.elapsed()
    };
    let ((answer, closed_after), delivered_after) = tokio::join!(watch, deliver);

    assert_closed_by("a client that never handshakes", closed_after, bound);
    assert!(answer.is_empty(), "answered {answer:?}");
    assert!(
        closed_after.is_some_and(|closed| delivered_after >= closed),
        "the delivery was answered after {delivered_after:?}, before the slot was freed"
    );
}

async fn a_tls_connection_that_sends_no_request_is_closed_at_the_head_deadline(db: TestDb) {
    let bound = Duration::from_millis(1500);
    let server = HttpsApp::start(&db, |config| config.limits.header_read_timeout = bound).await;
    // Before the handshake: the server's head deadline starts once it has completed its side.
    let since = Instant::now();
    let mut tls = server.ca.handshake(server.app.addr).await;

    let mut buffer = [0; 1024];
    let read = tokio::time::timeout_at(since + watch_limit(bound), tls.read(&mut buffer)).await;

    let closed_after = matches!(read, Ok(Ok(0) | Err(_))).then(|| since.elapsed());
    assert_closed_by("an idle TLS connection", closed_after, bound);
}

async fn shutdown_closes_a_connection_still_in_its_handshake_at_once(db: TestDb) {
    // A drain that waited for this handshake would last `DRAIN_TIMEOUT` (30 s); one that does
    // not takes milliseconds, so 15 s leaves a margin far beyond 5× on a busy machine.
    let bound = Duration::from_secs(15);
    let server = HttpsApp::start(&db, |config| {
        config.limits.tls_handshake_timeout = Duration::from_secs(600);
    })
    .await;
    let (mut silent, _silent_writer) = raw::connect(server.app.addr).await.into_split();
    // Accepted in order: once a later connection is answered, the silent one is in its handshake.
    server.served().await;
    let since = Instant::now();

    let seen = AtomicBool::new(false);
    let (stopped, (_, closed_after)) = tokio::join!(
        tokio::time::timeout(bound, server.app.stop()),
        read_until_closed(&mut silent, since, bound, &seen),
    );

    assert!(
        stopped.is_ok(),
        "the drain waited for the handshake past {bound:?}"
    );
    assert!(
        closed_after.is_some(),
        "the connection in its handshake was left open"
    );
}

async fn serve_started_with_the_tls_variables_answers_over_https(db: TestDb) {
    let ca = TestCa::new();
    let files = write_pair(db.dir(), &ca.issue("process"));
    let process = Launch::new(&db)
        .env("TLS_CERT_FILE", &files.cert.to_string_lossy())
        .env("TLS_KEY_FILE", &files.key.to_string_lossy())
        .start()
        .await;
    let https = Http::https(process.addr, SECRET, None, ca.client());

    https.store(&event(&new_id())).await;

    let stats: Value = https.get_json("/stats").await;
    assert_eq!(stats["totalEvents"], 1, "{stats}");
    process.stop().await;
}

async fn unservable_tls_files_are_refused_with_exit_code_2_naming_the_option_and_file(db: TestDb) {
    let ca = TestCa::new();
    let good = write_pair(db.dir(), &ca.issue("good"));
    let dir = good.cert.parent().expect("the TLS directory").to_owned();
    let other_key = dir.join("other-key.pem");
    replace(&other_key, &ca.issue("other").key_pem);
    let not_pem = dir.join("not-pem.pem");
    replace(&not_pem, "this is not a certificate\n");
    let missing = dir.join("missing.pem");
    let pair = |cert: &std::path::Path, key: &std::path::Path| {
        Launch::new(&db)
            .arg("--tls-cert")
            .arg(&cert.to_string_lossy())
            .arg("--tls-key")
            .arg(&key.to_string_lossy())
    };
    let cert_only = Launch::new(&db)
        .arg("--tls-cert")
        .arg(&good.cert.to_string_lossy());
    let key_only = Launch::new(&db).env("TLS_KEY_FILE", &good.key.to_string_lossy());
    let mismatched_variables = Launch::new(&db)
        .env("TLS_CERT_FILE", &good.cert.to_string_lossy())
        .env("TLS_KEY_FILE", &other_key.to_string_lossy());
    let cases = [
        ("a certificate without a key", cert_only, "--tls-key", None),
        (
            "TLS_KEY_FILE without a certificate",
            key_only,
            "--tls-cert",
            None,
        ),
        (
            "a missing certificate",
            pair(&missing, &good.key),
            "--tls-cert",
            Some(&missing),
        ),
        (
            "a directory as the key",
            pair(&good.cert, &dir),
            "--tls-key",
            Some(&dir),
        ),
        (
            "a certificate that is not PEM",
            pair(&not_pem, &good.key),
            "--tls-cert",
            Some(&not_pem),
        ),
        (
            "a certificate as the key",
            pair(&good.cert, &good.cert),
            "--tls-key",
            Some(&good.cert),
        ),
        (
            "a key of another certificate",
            pair(&good.cert, &other_key),
            "does not match",
            Some(&other_key),
        ),
        (
            "the same, as variables",
            mismatched_variables,
            "TLS_KEY_FILE",
            Some(&other_key),
        ),
    ];

    for (case, launch, option, path) in cases {
        let exit = launch.start_expecting_exit().await;
        assert_refused(case, &exit, 2, option);
        if let Some(path) = path {
            let path = path.to_string_lossy();
            assert!(
                exit.stderr.contains(&*path),
                "{case}: {path} not named in {}",
                exit.stderr
            );
        }
    }
}
