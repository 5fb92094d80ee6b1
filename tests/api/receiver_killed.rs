//! Several receivers on one PostgreSQL database get the same burst of ids at once, and one of
//! them is killed (`kill -9`) in the middle of it: every id is still stored exactly once, every id
//! acknowledged by any receiver is stored, and no id is acknowledged as new twice.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use futures::future::join_all;
use nix::sys::signal::Signal;

use crate::backend::TestDb;
use crate::helpers::{event, eventually, new_id};
use crate::server::App;

postgres_only!(a_receiver_killed_mid_burst_leaves_every_id_stored_exactly_once);

async fn a_receiver_killed_mid_burst_leaves_every_id_stored_exactly_once(db: TestDb) {
    let receivers: Vec<App> = join_all((0..3).map(|_| App::start(&db))).await;
    let ids: Vec<String> = (0..600).map(|_| new_id()).collect();
    let answered = Mutex::new(Vec::<(usize, u16, serde_json::Value)>::new());

    let burst = join_all(ids.iter().flat_map(|id| {
        let event = event(id);
        let answered = &answered;
        receivers.iter().enumerate().map(move |(n, app)| {
            let event = event.clone();
            async move {
                if let Some((status, body)) = app.try_deliver(&event).await {
                    answered.lock().unwrap().push((n, status, body));
                }
            }
        })
    }));
    let kill = async {
        let midway = eventually(Duration::from_secs(60), || async {
            answered.lock().unwrap().len() >= 300
        });
        assert!(midway.await, "the burst did not get going");
        receivers[0].signal(Signal::SIGKILL);
    };
    futures::join!(burst, kill);

    let answered = answered.into_inner().unwrap();
    let mut new_per_id: HashMap<&str, usize> = HashMap::new();
    for (receiver, status, body) in &answered {
        assert_eq!(
            *status, 200,
            "receiver {receiver} answered {status}: {body}"
        );
        let id = body["id"].as_str().expect("an acknowledged id");
        *new_per_id.entry(id).or_default() += usize::from(body["duplicate"] == false);
    }
    assert!(
        new_per_id.values().all(|&n| n <= 1),
        "an id acknowledged as new twice"
    );
    // The survivors got every id, so every id is stored, once (the primary key sees to "once").
    let stored: Vec<String> = db.stored_ids().await;
    assert_eq!(
        stored.len(),
        ids.len(),
        "stored {} of {} ids",
        stored.len(),
        ids.len()
    );
    for id in &ids {
        assert!(stored.contains(id), "{id} was not stored");
    }
    let survivors_answers = answered.iter().filter(|(n, ..)| *n != 0).count();
    assert_eq!(
        survivors_answers,
        2 * ids.len(),
        "a surviving receiver left a delivery unanswered"
    );
}
