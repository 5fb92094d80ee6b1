//! `dash-events prune`: delete the events outside the retention window once.

use super::CommandError;
use crate::event::format_micros;
use crate::retention::Retention;
use crate::store::{Durability, Store};

/// Prunes the database at `database_url` to `retention` and prints how many events went.
pub async fn run(database_url: &str, retention: Retention) -> Result<(), CommandError> {
    let store = Store::connect(database_url, Durability::default()).await?;
    let pruned = retention.prune(&store).await;
    store.close().await;
    let (deleted, cutoff_us) = pruned.map_err(|err| CommandError::failed("pruning failed", err))?;
    println!(
        "pruned {deleted} events with a timestamp before {} (RETENTION_DAYS={})",
        format_micros(cutoff_us),
        retention.days
    );
    Ok(())
}
