//! Connections left idle (`src/limits.rs`): a connection that sends nothing, or nothing more
//! after an answer, is closed at the head deadline; thousands of them (under the connection cap)
//! do not delay a delivery; at the cap a delivery waits for one to be closed; a shutdown does not
//! wait for them beyond the head deadline. On SQLite only, as in `slow_clients`, whose way of
//! checking a bound by its cause (`assert_closed_by`, `LATE`) these tests share.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use dash_events::DRAIN_TIMEOUT;
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use crate::backend::TestDb;
use crate::helpers::{event, new_id};
use crate::ingest::slow_clients::{LATE, assert_closed_by, start_with, watch_limit};
use crate::support::raw_client::{self as raw, read_until_closed, split_answer};

sqlite_only!(
    idle_connections_are_closed_at_the_head_deadline,
    two_thousand_idle_connections_do_not_delay_a_delivery,
    at_the_connection_cap_a_delivery_waits_for_an_idle_connection_to_time_out,
    shutdown_with_idle_and_half_sent_connections_ends_within_the_head_deadline,
);

async fn idle_connections_are_closed_at_the_head_deadline(db: TestDb) {
    let bound = Duration::from_millis(1500);
    let app = start_with(&db, |limits| limits.header_read_timeout = bound).await;
    let since = Instant::now();
    let (mut silent, _silent_writer) = raw::connect(app.addr).await.into_split();
    let (mut kept_alive, mut writer) = raw::connect(app.addr).await.into_split();
    let request = b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n";
    writer.write_all(request).await.expect("send a request");

    let seen = AtomicBool::new(false);
    let limit = watch_limit(bound);
    let ((nothing, silent_closed), (answer, idle_closed)) = tokio::join!(
        read_until_closed(&mut silent, since, limit, &seen),
        read_until_closed(&mut kept_alive, since, limit, &seen),
    );

    assert_closed_by("a connection that sent nothing", silent_closed, bound);
    assert!(nothing.is_empty(), "answered {:?}", split_answer(&nothing));
    // Its deadline starts at the end of the answer, later still than `since`.
    assert_closed_by("an idle keep-alive connection", idle_closed, bound);
    let status = raw::status(&answer);
    assert_eq!(status, Some(200), "{:?}", split_answer(&answer));
}

async fn two_thousand_idle_connections_do_not_delay_a_delivery(db: TestDb) {
    // The default cap (4096 connections). The head deadline is longer than opening 2000
    // connections takes on a busy machine (up to 10 s measured), so that all are open at once.
    let head_deadline = Duration::from_secs(120);
    let app = start_with(&db, |limits| limits.header_read_timeout = head_deadline).await;
    let opening = async {
        let silent = raw::open_idle(app.addr, 1000, b"").await;
        (
            silent,
            raw::open_idle(app.addr, 1000, b"POST /webhooks/dash HT").await,
        )
    };
    let (silent, half_sent) = tokio::time::timeout(IDLE_OPEN_WAIT, opening)
        .await
        .unwrap_or_else(|_| panic!("2000 connections not all accepted in {IDLE_OPEN_WAIT:?}"));

    // Held up by the idle connections (below the cap, or accepted one after another), the
    // delivery would wait for one to reach its head deadline, minutes away.
    let delivery = event(&new_id());
    let delivered = tokio::time::timeout(IDLE_DELIVERY_WAIT, app.store(&delivery)).await;
    let health = app.get("/healthz").await.status();

    assert!(
        delivered.is_ok(),
        "with 2000 idle connections open the delivery was not answered in {IDLE_DELIVERY_WAIT:?}"
    );
    assert_eq!(health, 200);
    drop((silent, half_sent));
    app.stop().await;
}

/// How long opening 2000 connections may take: up to 10 s measured with a load average of 7 on 2
/// cores (the in-process server sets up each one), 5 ms each; 60 s is 6 times that.
const IDLE_OPEN_WAIT: Duration = Duration::from_secs(60);

/// How long a delivery may take with 2000 idle connections open: it took 15–20 ms, measured with
/// a load average of 7 on 2 cores; 20 s is 1000 times that, and a sixth of their head deadline.
const IDLE_DELIVERY_WAIT: Duration = Duration::from_secs(20);

async fn at_the_connection_cap_a_delivery_waits_for_an_idle_connection_to_time_out(db: TestDb) {
    let bound = Duration::from_millis(1500);
    let app = start_with(&db, |limits| {
        limits.max_connections = 20;
        limits.header_read_timeout = bound;
    })
    .await;
    let since = Instant::now();
    let idle = raw::open_idle(app.addr, 20, b"").await;

    // The delivery's connection waits in the listen queue until an idle one is closed, which
    // happens no sooner than `bound` after `since`; without the cap it would be answered at once
    // (in milliseconds), without the deadline never.
    let delivery = event(&new_id());
    let answered = tokio::time::timeout_at(since + bound * LATE, app.store(&delivery)).await;
    let waited = since.elapsed();

    assert!(
        answered.is_ok(),
        "the delivery was not answered within {LATE} times the head deadline ({bound:?})"
    );
    assert!(
        waited >= bound,
        "the delivery was answered after {waited:?}, before any idle connection could expire \
         ({bound:?}): the cap of 20 did not hold"
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

    // Held by the half-sent heads, the drain would last its own bound (`DRAIN_TIMEOUT`, 30 s).
    let took = since.elapsed();
    assert!(
        took <= bound * LATE && bound * LATE < DRAIN_TIMEOUT,
        "shutting down took {took:?}; the head deadline is {bound:?}"
    );
    assert_eq!(db.stored_ids().await, vec![id]);
    drop((silent, half_sent));
}
