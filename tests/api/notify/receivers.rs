//! Several receivers on one PostgreSQL database, each running its notification worker: every
//! event is stored once and so notified once, and the workers' claims (`for update skip
//! locked`) never hand one notification to two of them.

use std::collections::HashMap;
use std::time::Duration;

use futures::future::join_all;

use crate::backend::TestDb;
use crate::helpers::{event_at, new_id};
use crate::support::capture::{
    Answer, Capture, fence, notifications, rule, start_notifying, wait_for_state,
};

postgres_only!(two_receivers_on_one_database_never_send_a_notification_twice);

const EVENTS: usize = 200;

async fn two_receivers_on_one_database_never_send_a_notification_twice(db: TestDb) {
    let endpoint = Capture::start(&[], Answer::Status(200)).await;
    let rules = [rule("ops", &["*"], "webhook", &endpoint.url("/"))];
    let receivers = join_all((0..2).map(|_| start_notifying(&db, &rules, 3))).await;
    let ids: Vec<String> = (0..EVENTS).map(|_| new_id()).collect();
    // Every event goes to both receivers at once, as a load balancer's retries may do.
    let deliveries = ids.iter().flat_map(|id| {
        let event = event_at(id, "agent:complete", "2026-11-28T10:00:00Z");
        receivers.iter().map(move |app| {
            let event = event.clone();
            async move { app.deliver(&event).await }
        })
    });
    let answers = join_all(deliveries).await;
    assert!(
        answers.iter().all(|(status, _)| *status == 200),
        "a delivery failed"
    );

    assert!(
        endpoint.wait_for(EVENTS, Duration::from_secs(60)).await,
        "{} of {EVENTS} sent",
        endpoint.requests().len()
    );
    assert!(wait_for_state(&receivers[0], "sent", EVENTS, Duration::from_secs(30)).await);
    // Settled, and claimed once each: every claim counts an attempt, and a worker sends only
    // what it claimed, so a notification handed to both workers would show two attempts (the
    // later claim's result is the one recorded), even while its second send is still on the way.
    let listed = notifications(&receivers[0], &[]).await;
    assert_eq!(listed.len(), EVENTS, "one notification per event");
    let claimed_twice: Vec<&serde_json::Value> = listed
        .iter()
        .filter(|n| n["state"] != "sent" || n["attempts"] != 1)
        .collect();
    assert!(
        claimed_twice.is_empty(),
        "not sent after exactly one claim: {claimed_twice:?}"
    );
    // A later round of a worker has run: a resend of a sent notification would show by now.
    let fence = fence(&receivers[1], Duration::from_secs(30))
        .await
        .expect("the fence event was not sent");

    let mut sends: HashMap<String, usize> = HashMap::new();
    for request in endpoint.requests() {
        let id = request
            .header("x-dash-event-id")
            .expect("event id header")
            .to_owned();
        if id != fence {
            *sends.entry(id).or_default() += 1;
        }
    }
    for id in &ids {
        assert_eq!(sends.get(id), Some(&1), "{id} was sent this often");
    }
    assert_eq!(sends.len(), EVENTS);
}
