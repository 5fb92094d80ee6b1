//! `dash-events migrate`: apply the embedded migrations and exit.

use super::CommandError;
use crate::store::{Durability, Store, redact};

/// Applies the pending migrations of the database at `database_url`.
pub async fn run(database_url: &str) -> Result<(), CommandError> {
    let store = Store::connect(database_url, Durability::default()).await?;
    store.close().await;
    tracing::info!(database = %redact(database_url), "migrations applied");
    Ok(())
}
