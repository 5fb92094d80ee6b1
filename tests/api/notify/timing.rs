//! When notifications are sent, and what they never hold up: a 429 with `Retry-After` is waited
//! out (instead of the much shorter backoff), and an endpoint that hangs on every send does not
//! slow deliveries down — they are answered as fast as without notifications.

use std::time::{Duration, Instant};

use crate::backend::TestDb;
use crate::helpers::{event_at, new_id};
use crate::support::app::App;
use crate::support::capture::{Answer, Capture, notifying, rule, start_notifying, wait_for_state};

both_backends!(
    retry_after_of_a_429_is_waited_out,
    an_endpoint_that_hangs_does_not_slow_deliveries_down,
);

async fn retry_after_of_a_429_is_waited_out(db: TestDb) {
    let endpoint = Capture::start(&[Answer::RetryAfter(429, 2)], Answer::Status(200)).await;
    let rules = [rule("ops", &["*"], "webhook", &endpoint.url("/"))];
    let app = App::start_with(&db, |config| {
        notifying(config, &rules, 3);
        // The backoff alone would retry within 50 ms; a cap of 10 s leaves Retry-After as it is.
        config.notify.backoff.max = Duration::from_secs(10);
    })
    .await;
    app.store(&event_at(
        &new_id(),
        "budget:exceeded",
        "2026-11-28T10:00:00Z",
    ))
    .await;

    assert!(wait_for_state(&app, "sent", 1, Duration::from_secs(30)).await);

    let requests = endpoint.requests();
    assert_eq!(
        requests.iter().map(|r| r.status).collect::<Vec<_>>(),
        [429, 200]
    );
    let waited = requests[1].at - requests[0].at;
    assert!(
        waited >= Duration::from_millis(1900),
        "retried after {waited:?}"
    );
}

async fn an_endpoint_that_hangs_does_not_slow_deliveries_down(db: TestDb) {
    let endpoint = Capture::start(&[], Answer::Hang).await;
    let rules = [rule("ops", &["*"], "webhook", &endpoint.url("/"))];
    let app = start_notifying(&db, &rules, 3).await;
    let mut slowest = Duration::ZERO;
    for _ in 0..60 {
        let started = Instant::now();
        app.store(&event_at(
            &new_id(),
            "agent:complete",
            "2026-11-28T10:00:00Z",
        ))
        .await;
        slowest = slowest.max(started.elapsed());
    }
    assert!(
        endpoint.wait_for(8, Duration::from_secs(10)).await,
        "the worker never sent"
    );
    eprintln!(
        "{:?}: slowest delivery while every send hangs: {slowest:?}",
        db.backend()
    );
    // A send waits up to its 2 s timeout; a delivery never waits for one.
    assert!(
        slowest < Duration::from_millis(1500),
        "a delivery took {slowest:?}"
    );
}
