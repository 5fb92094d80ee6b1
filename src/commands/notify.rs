//! `dash-events notify`: send the notifications that are due, then exit (for cron, or where no
//! background task survives between invocations).

use super::CommandError;
use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::notify::{DRAIN_TIME_LIMIT, NotifySettings, Worker};
use crate::store::{Durability, Store};

/// Sends what is due in the outbox of the database at `database_url` under `settings`.
pub async fn run(database_url: &str, settings: NotifySettings) -> Result<(), CommandError> {
    let store = Store::connect(database_url, Durability::default()).await?;
    let worker = Worker::new(store.clone(), settings, Metrics::new(), Clock::system())
        .map_err(|err| CommandError::failed("cannot build the HTTP client", err))?;
    let drained = worker.drain(DRAIN_TIME_LIMIT).await;
    let left = store.count_outbox().await;
    store.close().await;
    let tally = drained.map_err(|err| CommandError::failed("sending notifications failed", err))?;
    let left = left.unwrap_or_default();
    println!(
        "notifications: sent {}, failed {} (retried later), dead {}; {} pending, {} dead in all",
        tally.sent, tally.failed, tally.dead, left.pending, left.dead
    );
    Ok(())
}
