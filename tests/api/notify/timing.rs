//! When notifications are sent, and what they never hold up: a 429 with `Retry-After` is waited
//! out (instead of the much shorter backoff), and an endpoint that hangs on every send does not
//! slow deliveries down — they are answered while the worker's send is still held.

use std::time::{Duration, Instant};

use crate::backend::TestDb;
use crate::helpers::{event_at, new_id};
use crate::support::app::App;
use crate::support::capture::{
    Answer, Capture, notifications, notifications_of, notifying, rule, wait_for_state,
};

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

/// The send timeout of [`an_endpoint_that_hangs_does_not_slow_deliveries_down`]: a held send
/// ends no earlier than this, far beyond the whole test when deliveries are not held up.
const LONG_SEND_TIMEOUT: Duration = Duration::from_secs(60);

async fn an_endpoint_that_hangs_does_not_slow_deliveries_down(db: TestDb) {
    let endpoint = Capture::start(&[], Answer::Hang).await;
    let rules = [rule("ops", &["*"], "webhook", &endpoint.url("/"))];
    let app = App::start_with(&db, |config| {
        notifying(config, &rules, 3);
        config.notify.timeout = LONG_SEND_TIMEOUT;
    })
    .await;
    let first = new_id();
    app.store(&event_at(&first, "agent:complete", "2026-11-28T10:00:00Z"))
        .await;
    // The worker's send is now held by the endpoint, unanswered.
    assert!(
        endpoint.wait_for(1, Duration::from_secs(10)).await,
        "the worker never sent"
    );

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
    eprintln!(
        "{:?}: slowest delivery while every send hangs: {slowest:?}",
        db.backend()
    );
    // Every delivery above was answered while that send was still held: no attempt has ended
    // (an ended one shows `lastError`, here `timed out`, or `sent`). A delivery that waited for a
    // send, or for the worker's round, would only have been answered after the send timed out.
    let listed = notifications(&app, &[]).await;
    assert_eq!(listed.len(), 61, "{listed:?}");
    let ended: Vec<&serde_json::Value> = listed
        .iter()
        .filter(|n| n["state"] != "pending" || !n["lastError"].is_null())
        .collect();
    assert!(
        ended.is_empty(),
        "a send ended before the deliveries were answered: {ended:?}"
    );
    let held = notifications_of(&app, &first).await;
    assert_eq!(held[0]["attempts"], 1, "the first send is not the one held");
}
