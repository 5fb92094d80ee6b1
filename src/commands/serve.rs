//! `dash-events serve`: bind, open the store, serve until SIGTERM or SIGINT, drain.

use super::{CommandError, listen};
use crate::config::Config;
use crate::http;
use crate::store::{self, Store, redact};

/// Runs the receiver and the query API with `config` until a shutdown signal.
pub async fn run(config: Config) -> Result<(), CommandError> {
    // Binding first settles every configuration refusal before the database is touched.
    let listener = listen::bind(&config).await?;
    store::check_read_url(&config.database_url, config.database_read_url.as_deref())?;
    let store = Store::connect(&config.database_url, config.sqlite_synchronous)
        .await?
        .with_read_url(config.database_read_url.as_deref())
        .await?;
    let local = listener
        .local_addr()
        .map_err(|err| CommandError::failed("cannot read the bound address", err))?;
    if let Some(replica) = &config.database_read_url {
        tracing::info!(replica = %redact(replica), "the query API reads the read replica");
    }
    tracing::info!(database = %redact(&config.database_url), "listening on {local}");
    crate::serve(config, store, listener, http::shutdown_signal())
        .await
        .map_err(|err| CommandError::failed("the server failed", err))
}
