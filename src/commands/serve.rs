//! `dash-events serve`: bind, open the store, serve until SIGTERM or SIGINT, drain.

use super::{CommandError, listen};
use crate::config::Config;
use crate::http;
use crate::store::{Store, redact};

/// Runs the receiver and the query API with `config` until a shutdown signal.
pub async fn run(config: Config) -> Result<(), CommandError> {
    // Binding first settles every configuration refusal before the database is touched.
    let listener = listen::bind(&config).await?;
    let store = Store::connect(&config.database_url, config.sqlite_synchronous).await?;
    let local = listener
        .local_addr()
        .map_err(|err| CommandError::failed("cannot read the bound address", err))?;
    tracing::info!(database = %redact(&config.database_url), "listening on {local}");
    crate::serve(config, store, listener, http::shutdown_signal())
        .await
        .map_err(|err| CommandError::failed("the server failed", err))
}
