//! Slow or abusive clients (`src/limits.rs`): a request head trickled in, a body that never ends,
//! a client that stops reading its answers, a query stuck on the database (connections left idle
//! are in `idle_connections`). Each is cut off by its bound while a normal delivery is answered
//! meanwhile. The bounds are shortened on the in-process server's `config.limits` so each test
//! takes seconds.
//!
//! A bound is checked by its cause, not against the clock alone: the server closes the
//! connection (or answers as documented) no sooner than the bound, counted from before the
//! connection was opened, so the server's own timer started later; and no later than five times
//! the bound, far beyond scheduling delays on a busy machine yet short of what would close it
//! otherwise (the trickles outlast it, and the other bounds are longer).
//!
//! All but the last run on SQLite only: these bounds live in the connection and HTTP layers, in
//! front of the store, so the backend plays no part in them (the deliveries made meanwhile take
//! the ordinary path, which the other tests run on both backends). The stuck query needs
//! PostgreSQL, where a table lock blocks readers.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use dash_events::limits::Limits;
use reqwest::Method;
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use crate::backend::TestDb;
use crate::helpers::{assert_error, event, new_id};
use crate::support::app::App;
use crate::support::raw_client::{self as raw, read_until_closed, split_answer, trickle};

sqlite_only!(
    a_request_head_trickled_in_is_cut_off_while_a_delivery_is_served,
    bodies_that_never_end_are_answered_408_while_a_delivery_is_served,
    a_client_that_stops_reading_its_answers_is_disconnected,
);
postgres_only!(a_query_stuck_on_a_lock_is_answered_503_at_the_request_timeout);

/// How many times its bound a bound may take to act. The connections here were closed 2–8 ms
/// after their bound with a load average of 7–10 on 2 cores; 5 times the bound leaves seconds
/// for worse scheduling, and is still short of anything else that would close them.
pub const LATE: u32 = 5;

/// Serves `db` in-process with its `limits` changed by `change`.
pub async fn start_with(db: &TestDb, change: impl FnOnce(&mut Limits)) -> App {
    App::start_with(db, |config| change(&mut config.limits)).await
}

/// How long to watch a connection the server should close at `bound`: beyond `LATE` bounds.
pub fn watch_limit(bound: Duration) -> Duration {
    bound * LATE + Duration::from_secs(1)
}

/// Asserts that the server closed a connection because of `bound`: not before it (`since` was
/// taken before the connection was opened), and within `LATE` times it.
pub fn assert_closed_by(what: &str, closed_after: Option<Duration>, bound: Duration) {
    let after =
        closed_after.unwrap_or_else(|| panic!("{what}: still open {:?} after", watch_limit(bound)));
    assert!(
        after >= bound,
        "{what}: closed after {after:?}, before its bound {bound:?}"
    );
    assert!(
        after <= bound * LATE,
        "{what}: closed after {after:?}, over {LATE} times its bound {bound:?}"
    );
}

async fn a_request_head_trickled_in_is_cut_off_while_a_delivery_is_served(db: TestDb) {
    let bound = Duration::from_secs(2);
    let app = start_with(&db, |limits| limits.header_read_timeout = bound).await;
    let since = Instant::now();
    let (mut reader, mut writer) = raw::connect(app.addr).await.into_split();
    let head = b"POST /webhooks/dash HTTP/1.1\r\nhost: 127.0.0.1\r\nx-padding: ";
    writer.write_all(head).await.expect("send the request line");

    // A byte every 100 ms for 20 s, beyond `LATE` bounds: a deadline that each byte reset would
    // leave the connection open past the watch.
    let done = AtomicBool::new(false);
    let slow = trickle(&mut writer, &[b'a'; 200], Duration::from_millis(100), &done);
    let watch = read_until_closed(&mut reader, since, watch_limit(bound), &done);
    let deliver = async {
        app.store(&event(&new_id())).await;
        since.elapsed()
    };
    let ((answer, closed_after), (), delivered_after) = tokio::join!(watch, slow, deliver);

    assert_closed_by("the trickled head", closed_after, bound);
    assert!(answer.is_empty(), "answered {:?}", split_answer(&answer));
    assert_answered_meanwhile(delivered_after, closed_after);
}

/// Asserts that the delivery was answered while the slow connection was still open. A delivery
/// took 3–10 ms here with a load average of 7–10 on 2 cores, and the slow connection stays open
/// for its whole bound (2 s, 200 times that), so only a server that a slow client holds up fails.
fn assert_answered_meanwhile(delivered_after: Duration, closed_after: Option<Duration>) {
    assert!(
        closed_after.is_some_and(|closed| delivered_after < closed),
        "the delivery was answered after {delivered_after:?}, not while the slow client's \
         connection was open (closed after {closed_after:?})"
    );
}

async fn bodies_that_never_end_are_answered_408_while_a_delivery_is_served(db: TestDb) {
    let bound = Duration::from_secs(2);
    let app = start_with(&db, |limits| limits.body_read_timeout = bound).await;
    let head =
        "POST /webhooks/dash HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n";
    let cases = [
        // Each trickles for 20 s or more, beyond `LATE` bounds, so that a deadline reset by each
        // byte would not answer within the watch.
        (
            "a body shorter than its content-length",
            "content-length: 1000\r\n\r\n{",
            b"a".repeat(200),
        ),
        (
            "a chunked body with no last chunk",
            "transfer-encoding: chunked\r\n\r\n",
            b"1\r\na\r\n".repeat(40),
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
        let watch = read_until_closed(&mut reader, since, watch_limit(bound), &done);
        let (answer, ()) = tokio::join!(watch, slow);
        (*case, answer)
    });
    let deliver = async {
        app.store(&event(&new_id())).await;
        since.elapsed()
    };
    let (answers, delivered_after) = tokio::join!(futures::future::join_all(slow_bodies), deliver);

    for (case, (answer, closed_after)) in answers {
        assert_closed_by(case, closed_after, bound);
        assert_answered_meanwhile(delivered_after, closed_after);
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
    let stall = Duration::from_secs(1);
    // One connection slot, and no head deadline within the test: only the stall bound can free
    // the slot the client that stops reading holds.
    let app = start_with(&db, |limits| {
        limits.write_stall_timeout = stall;
        limits.max_connections = 1;
        limits.header_read_timeout = Duration::from_secs(120);
    })
    .await;
    let (mut reader, mut writer) = raw::connect_with_small_window(app.addr).await.into_split();
    // ~24 MB of answers (the document is ~8 KB), far more than the socket buffers hold.
    let pipelined = 3000;
    let requests = b"GET /openapi.json HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n".repeat(pipelined);

    // The server reads requests only as it answers them, so this write stalls too until the
    // server closes the connection. The delivery waits for the only slot meanwhile.
    let sending = async {
        let _ = writer.write_all(&requests).await;
    };
    let delivery = event(&new_id());
    let delivering = app.store(&delivery);
    let served = tokio::time::timeout(STALLED_SLOT_WAIT, async {
        tokio::join!(sending, delivering);
    });
    assert!(
        served.await.is_ok(),
        "after {STALLED_SLOT_WAIT:?} the client that reads nothing still holds the only slot"
    );

    let seen = AtomicBool::new(false);
    let (answers, closed) =
        read_until_closed(&mut reader, Instant::now(), watch_limit(stall), &seen).await;
    let answered = String::from_utf8_lossy(&answers)
        .matches("HTTP/1.1 200 OK")
        .count();
    assert!(closed.is_some(), "still open; {answered} answers read");
    assert!(
        answered < pipelined,
        "all {answered} answers arrived: the stalled connection was not closed"
    );
}

/// How long a delivery may wait for the slot of a client that reads nothing: the server first
/// fills the socket buffers with answers (a few MB), then the write stalls for its bound (1 s);
/// 1.4–1.9 s in all, measured with a load average of 7–10 on 2 cores. 25 s is 13 times that,
/// and short of the HTTP client's own 30 s and of the head deadline (120 s here).
const STALLED_SLOT_WAIT: Duration = Duration::from_secs(25);

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
    let request = app.request(Method::GET, &format!("/events/{}", new_id()));
    let response = app
        .send(request.timeout(bound * LATE + Duration::from_secs(5)))
        .await;
    let waited = since.elapsed();
    let retry_after = response.headers().get("retry-after").cloned();
    let (status, body) = crate::helpers::status_and_json(response).await;
    sqlx::raw_sql("rollback")
        .execute(&mut lock)
        .await
        .expect("unlock");

    assert_error("a query stuck on a lock", status, &body, 503, None);
    assert_eq!(retry_after.as_ref().map(|v| v.as_bytes()), Some(&b"5"[..]));
    // Nothing else answers a query stuck on a lock: not before the request timeout, which
    // starts once the request has arrived, and long before `LATE` times it.
    assert!(
        waited >= bound && waited <= bound * LATE,
        "answered after {waited:?}; the request timeout is {bound:?}"
    );
    let (status, _) = app.get_query("/events", &[]).await;
    assert_eq!(
        status, 200,
        "the service did not recover once the lock was released"
    );
}
