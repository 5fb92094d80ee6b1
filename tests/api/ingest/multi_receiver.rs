//! Several receivers behind a load balancer share one PostgreSQL table: when Dash's retries hit
//! all of them at the same moment, each id is stored once and acknowledged as new by exactly one
//! receiver; racing deliveries of one id with different content store one version, and that is
//! the version acknowledged.

use std::collections::HashMap;

use futures::future::join_all;
use serde_json::{Value, json};

use crate::backend::TestDb;
use crate::helpers::{event, new_id};
use crate::support::app::App;

postgres_only!(
    three_receivers_given_the_same_ids_at_once_store_each_once,
    racing_deliveries_with_different_content_store_the_acknowledged_version,
);

async fn start_receivers(db: &TestDb, count: usize) -> Vec<App> {
    join_all((0..count).map(|_| App::start(db))).await
}

async fn three_receivers_given_the_same_ids_at_once_store_each_once(db: TestDb) {
    let receivers = start_receivers(&db, 3).await;
    let ids: Vec<String> = (0..200).map(|_| new_id()).collect();
    let deliveries = ids.iter().flat_map(|id| {
        let event = event(id);
        receivers.iter().map(move |app| {
            let event = event.clone();
            async move { app.deliver(&event).await }
        })
    });

    let answers = join_all(deliveries).await;

    let mut new_per_id: HashMap<String, usize> = HashMap::new();
    for (status, body) in &answers {
        assert_eq!(*status, 200, "a delivery answered {status}: {body}");
        let id = body["id"].as_str().expect("acknowledged id").to_owned();
        *new_per_id.entry(id).or_default() += usize::from(body["duplicate"] == false);
    }
    for id in &ids {
        assert_eq!(
            new_per_id.get(id),
            Some(&1),
            "{id} acknowledged as new this often"
        );
    }
    assert_eq!(db.count_events().await, 200);
}

async fn racing_deliveries_with_different_content_store_the_acknowledged_version(db: TestDb) {
    let receivers = start_receivers(&db, 2).await;
    let ids: Vec<String> = (0..50).map(|_| new_id()).collect();
    let versions = |id: &str| -> [Value; 2] {
        let mut other = event(id);
        other["data"] = json!({ "version": "b" });
        [event(id), other]
    };
    let races = ids.iter().map(|id| {
        let [a, b] = versions(id);
        let (first, second) = (&receivers[0], &receivers[1]);
        async move { futures::join!(first.deliver(&a), second.deliver(&b)) }
    });

    let outcomes = join_all(races).await;

    for (id, ((status_a, body_a), (status_b, body_b))) in ids.iter().zip(outcomes) {
        let mut statuses = [status_a, status_b];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 409], "{id}: {body_a} / {body_b}");
        let winner = usize::from(status_b == 200);
        let stored = receivers[0].get_json(&format!("/events/{id}")).await;
        assert_eq!(
            stored["data"],
            versions(id)[winner]["data"],
            "{id}: not the acknowledged version"
        );
    }
    assert_eq!(db.count_events().await, 50);
}
