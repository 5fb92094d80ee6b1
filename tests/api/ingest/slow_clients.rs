//! Slow or abusive clients (`src/limits.rs`): a request head trickled in, a body that never ends,
//! a client that stops reading its answers, connections left idle (by thousands, or up to the
//! connection cap), a query stuck on the database. Each is cut off within its bound while a
//! normal delivery is answered meanwhile, and a shutdown still ends promptly. The bounds are
//! shortened on the in-process server's `config.limits` so each test takes seconds.
//!
//! All but the last run on SQLite only: these bounds live in the connection and HTTP layers, in
//! front of the store, so the backend plays no part in them (the deliveries made meanwhile take
//! the ordinary path, which the other tests run on both backends). The stuck query needs
//! PostgreSQL, where a table lock blocks readers.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use dash_events::limits::Limits;
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use crate::backend::TestDb;
use crate::helpers::{assert_error, event, new_id};
use crate::support::app::App;
use crate::support::raw_client::{self as raw, read_until_closed, split_answer, trickle};

sqlite_only!(
    a_request_head_trickled_in_is_cut_off_while_a_delivery_is_served,
    idle_connections_are_closed_at_the_head_deadline,
    bodies_that_never_end_are_answered_408_while_a_delivery_is_served,
    a_client_that_stops_reading_its_answers_is_disconnected,
    two_thousand_idle_connections_do_not_delay_a_delivery,
    at_the_connection_cap_a_delivery_waits_for_an_idle_connection_to_time_out,
    shutdown_with_idle_and_half_sent_connections_ends_within_the_head_deadline,
);
postgres_only!(a_query_stuck_on_a_lock_is_answered_503_at_the_request_timeout);

/// How late after its bound a connection may be closed on a busy test machine.
pub const SLACK: Duration = Duration::from_secs(3);

/// Serves `db` in-process with its `limits` changed by `change`.
async fn start_with(db: &TestDb, change: impl FnOnce(&mut Limits)) -> App {
    App::start_with(db, |config| change(&mut config.limits)).await
}

/// Asserts that a connection was closed within `bound` (give or take) of `since`.
pub fn assert_closed_at(what: &str, closed_after: Option<Duration>, bound: Duration) {
    let after = closed_after.unwrap_or_else(|| panic!("{what}: still open long after {bound:?}"));
    assert!(
        after + Duration::from_millis(300) >= bound && after <= bound + SLACK,
        "{what}: closed after {after:?}, the bound is {bound:?}"
    );
}

async fn a_request_head_trickled_in_is_cut_off_while_a_delivery_is_served(db: TestDb) {
    let bound = Duration::from_secs(2);
    let app = start_with(&db, |limits| limits.header_read_timeout = bound).await;
    let (mut reader, mut writer) = raw::connect(app.addr).await.into_split();
    let since = Instant::now();
    let head = b"POST /webhooks/dash HTTP/1.1\r\nhost: 127.0.0.1\r\nx-padding: ";
    writer.write_all(head).await.expect("send the request line");

    // A byte every 100 ms keeps the connection busy for 10 s: the deadline is not reset by them.
    let done = AtomicBool::new(false);
    let slow = trickle(&mut writer, &[b'a'; 100], Duration::from_millis(100), &done);
    let watch = read_until_closed(&mut reader, since, Duration::from_secs(15), &done);
    let deliver = async {
        app.store(&event(&new_id())).await;
        since.elapsed()
    };
    let ((answer, closed_after), (), delivered_after) = tokio::join!(watch, slow, deliver);

    assert_closed_at("the trickled head", closed_after, bound);
    assert!(answer.is_empty(), "answered {:?}", split_answer(&answer));
    assert!(
        closed_after.is_some_and(|closed| delivered_after < closed),
        "the delivery was answered after {delivered_after:?}, not while the slow head was open"
    );
}

async fn idle_connections_are_closed_at_the_head_deadline(db: TestDb) {
    let bound = Duration::from_millis(1500);
    let app = start_with(&db, |limits| limits.header_read_timeout = bound).await;
    let since = Instant::now();
    let (mut silent, _silent_writer) = raw::connect(app.addr).await.into_split();
    let (mut kept_alive, mut writer) = raw::connect(app.addr).await.into_split();
    let request = b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n";
    writer.write_all(request).await.expect("send a request");

    let seen = AtomicBool::new(false);
    let limit = Duration::from_secs(10);
    let ((nothing, silent_closed), (answer, idle_closed)) = tokio::join!(
        read_until_closed(&mut silent, since, limit, &seen),
        read_until_closed(&mut kept_alive, since, limit, &seen),
    );

    assert_closed_at("a connection that sent nothing", silent_closed, bound);
    assert!(nothing.is_empty(), "answered {:?}", split_answer(&nothing));
    assert_closed_at("an idle keep-alive connection", idle_closed, bound);
    let status = raw::status(&answer);
    assert_eq!(status, Some(200), "{:?}", split_answer(&answer));
}

async fn bodies_that_never_end_are_answered_408_while_a_delivery_is_served(db: TestDb) {
    let bound = Duration::from_secs(2);
    let app = start_with(&db, |limits| limits.body_read_timeout = bound).await;
    let head =
        "POST /webhooks/dash HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n";
    let cases = [
        (
            "a body shorter than its content-length",
            "content-length: 1000\r\n\r\n{",
            b"a".repeat(100),
        ),
        (
            "a chunked body with no last chunk",
            "transfer-encoding: chunked\r\n\r\n",
            b"1\r\na\r\n".repeat(20),
        ),
    ];
    let addr = app.addr;
    let since = Instant::now();
    let slow_bodies = cases.iter().map(|(case, framing, body)| async move {
        let (mut reader, mut writer) = raw::connect(addr).await.into_split();
        writer
            .write_all(format!("{head}{framing}").as_bytes())
            .await
            .expect("send the head");
        let done = AtomicBool::new(false);
        let slow = trickle(&mut writer, body, Duration::from_millis(100), &done);
        let watch = read_until_closed(&mut reader, since, Duration::from_secs(15), &done);
        let (answer, ()) = tokio::join!(watch, slow);
        (*case, answer)
    });
    let deliver = async {
        app.store(&event(&new_id())).await;
        since.elapsed()
    };
    let (answers, delivered_after) = tokio::join!(futures::future::join_all(slow_bodies), deliver);

    assert!(
        delivered_after < bound,
        "the delivery took {delivered_after:?}"
    );
    for (case, (answer, closed_after)) in answers {
        assert_closed_at(case, closed_after, bound);
        let (head, body) = split_answer(&answer);
        let json = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{case}: {head}\n{body}"));
        let status = raw::status(&answer).unwrap_or(0);
        assert_error(case, status, &json, 408, Some("body"));
        assert!(head.contains("connection: close"), "{case}: {head}");
    }
    let metrics = app.get("/metrics").await;
    let metrics = metrics.text().await.expect("metrics text");
    assert!(
        metrics.contains(r#"dash_events_rejected_total{reason="body_timeout"} 2"#),
        "{metrics}"
    );
}

async fn a_client_that_stops_reading_its_answers_is_disconnected(db: TestDb) {
    let app = start_with(&db, |limits| {
        limits.write_stall_timeout = Duration::from_secs(1);
    })
    .await;
    let (mut reader, mut writer) = raw::connect_with_small_window(app.addr).await.into_split();
    // ~24 MB of answers (the document is ~8 KB), far more than the socket buffers hold.
    let pipelined = 3000;
    let request = b"GET /openapi.json HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n".repeat(pipelined);
    // The server reads requests only as it answers them, so this write may stall too.
    let _ = tokio::time::timeout(Duration::from_secs(2), writer.write_all(&request)).await;

    app.store(&event(&new_id())).await;
    // This is the behaviour under test: a client that reads nothing for 4 s (the bound is 1 s,
    // the head deadline is the default 10 s, so only the stall bound can close the connection).
    tokio::time::sleep(Duration::from_secs(4)).await;
    let since = Instant::now();
    let seen = AtomicBool::new(false);
    let (answers, closed) =
        read_until_closed(&mut reader, since, Duration::from_secs(5), &seen).await;

    let answered = String::from_utf8_lossy(&answers)
        .matches("HTTP/1.1 200 OK")
        .count();
    assert!(closed.is_some(), "still open; {answered} answers read");
    assert!(
        answered < pipelined,
        "all {answered} answers arrived: the stalled connection was not closed"
    );
}

async fn two_thousand_idle_connections_do_not_delay_a_delivery(db: TestDb) {
    // The defaults: up to 4096 connections, each may stay idle for 10 s.
    let app = App::start(&db).await;
    let silent = raw::open_idle(app.addr, 1000, b"").await;
    let half_sent = raw::open_idle(app.addr, 1000, b"POST /webhooks/dash HT").await;

    let since = Instant::now();
    app.store(&event(&new_id())).await;
    let delivered_after = since.elapsed();
    let health = app.get("/healthz").await.status();

    assert!(
        delivered_after < Duration::from_secs(2),
        "with 2000 idle connections open the delivery took {delivered_after:?}"
    );
    assert_eq!(health, 200);
    drop((silent, half_sent));
    app.stop().await;
}

async fn at_the_connection_cap_a_delivery_waits_for_an_idle_connection_to_time_out(db: TestDb) {
    let app = start_with(&db, |limits| {
        limits.max_connections = 20;
        limits.header_read_timeout = Duration::from_millis(1500);
    })
    .await;
    let idle = raw::open_idle(app.addr, 20, b"").await;

    // The delivery's connection waits in the listen queue until an idle one is closed.
    let since = Instant::now();
    app.store(&event(&new_id())).await;
    let waited = since.elapsed();

    assert!(
        waited >= Duration::from_secs(1) && waited <= Duration::from_millis(1500) + SLACK,
        "the delivery was answered after {waited:?}; the idle connections expire after 1.5 s"
    );
    drop(idle);
}

async fn shutdown_with_idle_and_half_sent_connections_ends_within_the_head_deadline(db: TestDb) {
    // In-process: `stop` begins the shutdown as SIGTERM does in the binary (whose signal handling
    // `operations::shutdown` tests on a process) and returns once `serve` has returned `Ok`.
    let bound = Duration::from_secs(2);
    let app = start_with(&db, |limits| limits.header_read_timeout = bound).await;
    let id = new_id();
    app.store(&event(&id)).await;
    let silent = raw::open_idle(app.addr, 50, b"").await;
    let half_sent = raw::open_idle(app.addr, 50, b"GET /healthz HTTP/1.1\r\nhost: 1").await;

    let since = Instant::now();
    app.stop().await;

    let took = since.elapsed();
    assert!(took <= bound + SLACK, "shutting down took {took:?}");
    assert_eq!(db.stored_ids().await, vec![id]);
    drop((silent, half_sent));
}

async fn a_query_stuck_on_a_lock_is_answered_503_at_the_request_timeout(db: TestDb) {
    // The request timeout is the body's bound + the commit's (10 s) + 5 s: 15.1 s here.
    let bound = Duration::from_millis(15_100);
    let app = start_with(&db, |limits| {
        limits.body_read_timeout = Duration::from_millis(100);
    })
    .await;
    let mut lock = db.postgres().await;
    let hold = "begin; lock table events, event_types in access exclusive mode";
    sqlx::raw_sql(hold)
        .execute(&mut lock)
        .await
        .expect("lock the tables");

    let since = Instant::now();
    let response = app.get(&format!("/events/{}", new_id())).await;
    let waited = since.elapsed();
    let retry_after = response.headers().get("retry-after").cloned();
    let (status, body) = crate::helpers::status_and_json(response).await;
    sqlx::raw_sql("rollback")
        .execute(&mut lock)
        .await
        .expect("unlock");

    assert_error("a query stuck on a lock", status, &body, 503, None);
    assert_eq!(retry_after.as_ref().map(|v| v.as_bytes()), Some(&b"5"[..]));
    assert!(
        waited + Duration::from_millis(300) >= bound && waited <= bound + SLACK,
        "answered after {waited:?}; the request timeout is {bound:?}"
    );
    let (status, _) = app.get_query("/events", &[]).await;
    assert_eq!(
        status, 200,
        "the service did not recover once the lock was released"
    );
}
