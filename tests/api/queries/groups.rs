//! `/stats/groups` sums whole hours from the hourly group totals and reads only the partial hours
//! at the ends of its window from the events. Whatever happened to the log — duplicates and
//! conflicts resent, batches in several shards, prunes that cut hours in two and take a group's
//! largest duration away, two receivers ingesting overlapping events at once — and whatever the
//! window (aligned or not, inside one hour, open) and filters, every `by` in both orders must
//! equal the groups computed here from the events the log holds, page after page.

use std::collections::HashSet;

use bytes::Bytes;
use dash_events::event::{NewEvent, parse_delivery};
use dash_events::store::{Durability, Store};
use futures::future::join_all;
use serde_json::json;

use crate::backend::TestDb;
use crate::helpers::new_id;
use crate::queries::groups_model::{
    Ask, DAY_US, HOUR_US, Rng, START_US, Sent, assert_groups, random_event,
};
use crate::support::app::App;

both_backends!(
    groups_of_any_window_and_filter_equal_the_events_held,
    after_prunes_that_cut_hours_the_groups_equal_the_events_left,
);
postgres_only!(two_receivers_ingesting_overlapping_events_keep_the_groups_exact);

/// `count` random events over three days from `START_US - 2h`, some on hour boundaries.
fn scattered(seed: u64, count: usize) -> Vec<Sent> {
    let mut rng = Rng(seed);
    (0..count)
        .map(|n| {
            let at = match n % 10 {
                0 => START_US + (rng.below(72) as i64) * HOUR_US,
                1 => START_US + (rng.below(72) as i64) * HOUR_US - 1,
                _ => START_US - 2 * HOUR_US + rng.below(3 * DAY_US as u64) as i64,
            };
            random_event(&mut rng, &new_id(), at)
        })
        .collect()
}

/// Windows aligned and not, inside one hour, empty, open on either side.
fn windows() -> Vec<Ask> {
    let (h, s) = (HOUR_US, START_US);
    vec![
        Ask::default(),
        Ask::window(s, s + 24 * h),
        Ask::window(s + 1, s + 30 * h + 7),
        Ask::window(s - h / 2, s + 50 * h + h / 3),
        Ask::window(s + 10 * h + 5, s + 10 * h + h / 2),
        Ask::window(s + 7, s + 7),
        Ask {
            since: Some(s + 36 * h + 1),
            ..Ask::default()
        },
        Ask {
            until: Some(s + 20 * h - 1),
            ..Ask::default()
        },
    ]
}

/// Filters on their own, with several values, together, and with a window.
fn filtered() -> Vec<Ask> {
    let (h, s) = (HOUR_US, START_US);
    let window = || Ask::window(s - h / 3, s + 40 * h + 11);
    vec![
        window().with("type", "agent:complete,swarm:complete"),
        window().with("agentId", "agent-1"),
        Ask::default().with("agentId", "agent-2,agent-3"),
        window()
            .with("swarmId", "swarm-a")
            .with("instanceId", "inst-1"),
        Ask::window(s, s + 48 * h)
            .with("workflowId", "wf-2")
            .with("type", "agent:error"),
        window().with("webhookId", "wh-1"),
        window().with("data.model", "opus"),
        Ask::window(s + 2 * h, s + 2 * h + 600_000_000)
            .with("data.model", "sonnet")
            .with("agentId", "agent-4"),
    ]
}

async fn groups_of_any_window_and_filter_equal_the_events_held(db: TestDb) {
    let app = App::start(&db).await;
    let held = scattered(15, 240);
    // Each event twice at once (so copies may share a batch), then once more, and a conflict.
    let racing = held
        .iter()
        .flat_map(|s| [&s.body, &s.body])
        .map(|b| app.deliver(b));
    for (status, answer) in join_all(racing).await {
        assert_eq!(status, 200, "{answer}");
    }
    for sent in held.iter().step_by(3) {
        assert_eq!(app.deliver(&sent.body).await.1["duplicate"], json!(true));
        let mut other = sent.body.clone();
        other["data"]["cost"] = json!(1000.0);
        other["data"]["durationMs"] = json!(1e9);
        assert_eq!(app.deliver(&other).await.0, 409, "a conflict is not stored");
    }
    for (n, ask) in windows().iter().chain(&filtered()).enumerate() {
        // Pages of three for some questions, so that cursors are followed.
        let limit = if n % 3 == 0 { 3 } else { 1000 };
        assert_groups(&app, &held, ask, limit).await;
    }
}

async fn after_prunes_that_cut_hours_the_groups_equal_the_events_left(db: TestDb) {
    let mut sent = scattered(7, 400);
    // In the hour the first prune cuts, agent-1's largest duration comes before the cutoff.
    let cutoff = START_US + 20 * HOUR_US + HOUR_US / 2;
    let largest = with_duration(&sent[0], cutoff - 1000, 1e7);
    // The same type and ids later in that hour stays: its hour is recomputed from the events.
    let smaller = with_duration(&largest, cutoff + 1000, 5.0);
    sent.extend([largest, smaller]);
    store_in_shards(&db, &sent).await;
    let store = Store::connect(db.url(), Durability::Normal)
        .await
        .expect("connect");
    let app = App::start(&db).await;
    let mut held = sent;
    for cutoff in [cutoff, cutoff + 9 * HOUR_US + 17] {
        let pruned = store.prune_older_than(cutoff).await.expect("prune");
        let before = held.len();
        held.retain(|s| s.at >= cutoff);
        assert_eq!(pruned as usize, before - held.len());
        let (h, s) = (HOUR_US, START_US);
        let asks = [
            Ask::default(),
            Ask::window(s + 20 * h, s + 21 * h),
            Ask::window(s + 19 * h + 7, s + 40 * h - 7),
            Ask::window(s + 20 * h, s + 31 * h).with("agentId", "agent-1"),
            Ask::window(s + 12 * h, s + 36 * h).with("data.model", "opus"),
        ];
        for ask in &asks {
            assert_groups(&app, &held, ask, 1000).await;
        }
    }
    store.close().await;
}

/// `sent` as agent-1's event at `at` with duration `ms`, under a new id.
fn with_duration(sent: &Sent, at: i64, ms: f64) -> Sent {
    let mut body = sent.body.clone();
    body["id"] = json!(new_id());
    body["timestamp"] = json!(crate::queries::groups_model::rfc3339(at));
    body["data"]["agentId"] = json!("agent-1");
    body["data"]["durationMs"] = json!(ms);
    Sent { at, body }
}

/// Stores `sent` through the store's batch insert, 50 events per batch, each batch in one of
/// four shards (as concurrent writers would), so a prune's subtraction in shard 0 meets rows
/// of other shards.
pub(crate) async fn store_in_shards(db: &TestDb, sent: &[Sent]) {
    let store = Store::connect(db.url(), Durability::Normal)
        .await
        .expect("connect");
    let events: Vec<NewEvent> = sent
        .iter()
        .map(|s| {
            let bytes = serde_json::to_vec(&s.body).expect("serialize");
            parse_delivery(Bytes::from(bytes)).expect("a valid event")
        })
        .collect();
    for (n, chunk) in events.chunks(50).enumerate() {
        let rows: Vec<(&NewEvent, i64)> = chunk.iter().map(|e| (e, 0)).collect();
        store
            .insert_batch(&rows, n as i32 % 4, &HashSet::new(), &[])
            .await
            .expect("insert a batch");
    }
    store.close().await;
}

async fn two_receivers_ingesting_overlapping_events_keep_the_groups_exact(db: TestDb) {
    let receivers = join_all([App::start(&db), App::start(&db)]).await;
    let held = scattered(21, 300);
    // The first receiver gets the first two thirds, the second the last two: the middle third
    // reaches both at once.
    let (first, second) = (&held[..200], &held[100..]);
    let deliveries = first
        .iter()
        .map(|s| receivers[0].deliver(&s.body))
        .chain(second.iter().map(|s| receivers[1].deliver(&s.body)));
    for (status, answer) in join_all(deliveries).await {
        assert_eq!(status, 200, "{answer}");
    }
    let (h, s) = (HOUR_US, START_US);
    for ask in [Ask::default(), Ask::window(s + h / 2, s + 60 * h + 1)] {
        for app in &receivers {
            assert_groups(app, &held, &ask, 1000).await;
        }
    }
}
