//! The system clock stepping back, as NTP steps it: the server runs on a clock the test steps
//! (`Config::clock`), and what depends on the clock must not break. Notification retries and
//! leases set before the step are not held back by the step's length; a delivery refused as
//! older than the retention window stays refused; cursors and stream positions, which never read
//! the clock, still give every event once and in order.

use std::time::Duration;

use chrono::Utc;
use dash_events::clock::Clock;
use dash_events::retention::Retention;
use dash_events::store::{Claim, Durability, Store};
use serde_json::Value;

use crate::backend::TestDb;
use crate::helpers::{event_at, ids_of, new_id};
use crate::support::app::App;
use crate::support::capture::{Answer, Capture, notifications_of, notifying, rule, wait_for_state};
use crate::support::fill::event_at_time;
use crate::support::sse::{MESSAGE_TIMEOUT, SseStream};

both_backends!(
    a_retry_scheduled_before_the_clock_steps_back_is_not_held_back_by_the_step,
    a_lease_taken_before_the_clock_steps_back_runs_out_on_time,
    a_delivery_refused_as_too_old_stays_refused_after_the_clock_steps_back,
);
both_backends_on_stream_cluster!(
    cursors_and_stream_positions_give_every_event_once_across_a_step_back
);

const HOUR_US: i64 = 3_600_000_000;

/// The longest backoff the tests allow, and the `Retry-After` the endpoint asks: without the
/// step, the retry would wait this long; after a naive step back, an hour more.
const RETRY_AFTER: Duration = Duration::from_secs(300);
/// The retry after the step is claimed at the worker's next poll (1 s); 60 s is a 60× margin,
/// and still well short of the 300 s the retry was scheduled for.
const RETRY_BOUND: Duration = Duration::from_secs(60);
const WAIT: Duration = Duration::from_secs(30);

async fn a_retry_scheduled_before_the_clock_steps_back_is_not_held_back_by_the_step(db: TestDb) {
    let endpoint = Capture::start(&[Answer::RetryAfter(503, 300)], Answer::Status(200)).await;
    let clock = Clock::system();
    let app = App::start_with(&db, |config| {
        notifying(
            config,
            &[rule("ops", &["*"], "webhook", &endpoint.url("/"))],
            8,
        );
        config.notify.backoff.max = RETRY_AFTER;
        config.clock = clock.clone();
    })
    .await;
    let id = new_id();
    app.store(&event_at(&id, "agent:complete", "2026-11-28T10:00:00Z"))
        .await;
    assert!(endpoint.wait_for(1, WAIT).await, "never attempted");
    assert!(
        wait_for_state(&app, "pending", 1, WAIT).await,
        "the failed attempt was not recorded as pending: {:?}",
        notifications_of(&app, &id).await
    );

    clock.step(-HOUR_US);

    assert!(
        wait_for_state(&app, "sent", 1, RETRY_BOUND).await,
        "the retry waited for the step: {:?}",
        notifications_of(&app, &id).await
    );
    assert_eq!(endpoint.requests_for(&id).len(), 2, "one failure, one send");
}

/// At the store: a lease holds against later claims on the same clock, and one taken before the
/// clock stepped back an hour runs out after its own length, not an hour later. A worker killed
/// while holding it would otherwise leave its notifications unsent for the hour.
async fn a_lease_taken_before_the_clock_steps_back_runs_out_on_time(db: TestDb) {
    let app = App::start_with(&db, |config| {
        notifying(
            config,
            &[rule("ops", &["*"], "webhook", "http://127.0.0.1:9/")],
            8,
        );
        config.notify.worker = false;
    })
    .await;
    app.store(&event_at(
        &new_id(),
        "agent:complete",
        "2026-11-28T10:00:00Z",
    ))
    .await;
    app.stop().await;
    let store = Store::connect(db.url(), Durability::Full)
        .await
        .expect("connect");
    let lease_us = 30_000_000;
    let claim_at = |now_us: i64| Claim {
        now_us,
        lease_until_us: now_us + lease_us,
        implausible_after_us: now_us + 10 * lease_us,
        limit: 8,
    };
    let now = Utc::now().timestamp_micros();

    let first = store
        .claim_notifications(claim_at(now))
        .await
        .expect("claim");
    let during_lease = store
        .claim_notifications(claim_at(now + lease_us / 2))
        .await
        .expect("claim");
    let after_step_back = store
        .claim_notifications(claim_at(now - HOUR_US))
        .await
        .expect("claim");
    store.close().await;

    assert_eq!(first.len(), 1, "the notification was due");
    assert!(during_lease.is_empty(), "claimed twice within its lease");
    assert_eq!(
        after_step_back.len(),
        1,
        "a lease from before the step back held the notification for the step's length"
    );
}

async fn a_delivery_refused_as_too_old_stays_refused_after_the_clock_steps_back(db: TestDb) {
    let clock = Clock::system();
    let app = App::start_with(&db, |config| {
        config.retention = Some(Retention {
            days: 1,
            prune_interval: Duration::from_secs(3600),
        });
        config.clock = clock.clone();
    })
    .await;
    let ten_minutes_too_old = Utc::now() - chrono::Duration::minutes(24 * 60 + 10);
    let old = event_at_time(
        "ten-minutes-too-old",
        "agent:complete",
        ten_minutes_too_old,
        0.1,
        10,
    );
    let recent = event_at_time(
        "half-an-hour-old",
        "agent:complete",
        Utc::now() - chrono::Duration::minutes(30),
        0.1,
        10,
    );
    assert_eq!(app.deliver(&old).await.0, 422, "outside the window");

    clock.step(-HOUR_US);

    let (status, body) = app.deliver(&old).await;
    assert_eq!(status, 422, "a step back reopened the window: {body}");
    let (status, body) = app.deliver(&recent).await;
    assert_eq!(status, 200, "inside the window: {body}");
    let (status, _) = app.get_query("/events/ten-minutes-too-old", &[]).await;
    assert_eq!(status, 404);
}

async fn cursors_and_stream_positions_give_every_event_once_across_a_step_back(db: TestDb) {
    let clock = Clock::system();
    let app = App::start_with(&db, |config| config.clock = clock.clone()).await;
    // A stream without a position begins at the end of the log: open it first.
    let mut stream = SseStream::open(&app, &[], None).await;
    let before = deliver_three(&app, "before").await;
    let mut position = String::new();
    for _ in 0..3 {
        position = stream.message(MESSAGE_TIMEOUT).await.id;
    }

    clock.step(-HOUR_US);
    let after = deliver_three(&app, "after").await;

    let mut resumed = SseStream::open(&app, &[], Some(&position)).await;
    let mut streamed = Vec::new();
    for _ in 0..3 {
        streamed.push(resumed.message(MESSAGE_TIMEOUT).await.event_id());
    }
    assert_eq!(
        streamed, after,
        "the stream after the step, from the position before it"
    );

    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let mut query = vec![("limit", "2".to_owned())];
        query.extend(cursor.clone().map(|c| ("cursor", c)));
        let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, page) = app.get_query("/events", &query).await;
        assert_eq!(status, 200, "{page}");
        paged.extend(ids_of(&page));
        cursor = page["nextCursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    assert!(
        received_at(&app, &after[0]).await < received_at(&app, &before[2]).await,
        "the step did not reach the server's clock"
    );
    let mut expected: Vec<String> = before.into_iter().chain(after).collect();
    paged.sort();
    expected.sort();
    assert_eq!(paged, expected, "every event once, through the cursor");
}

async fn received_at(app: &App, id: &str) -> String {
    let event: Value = app.get_json(&format!("/events/{id}")).await;
    event["receivedAt"].as_str().expect("receivedAt").to_owned()
}

/// Stores three events `<label>-0..2`, a minute apart in their own time; answers their ids.
async fn deliver_three(app: &App, label: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for n in 0..3 {
        let id = format!("{label}-{n}-{}", new_id());
        let time = format!("2026-11-28T10:0{n}:00Z");
        app.store(&event_at(&id, "agent:complete", &time)).await;
        ids.push(id);
    }
    ids
}
