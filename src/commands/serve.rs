//! `dash-events serve`: bind, open the store, serve until SIGTERM or SIGINT, drain.

use super::{CommandError, listen};
use crate::config::Config;
use crate::http;
use crate::http::tls::Tls;
use crate::store::{self, Store, redact};

/// Runs the receiver and the query API with `config` until a shutdown signal.
pub async fn run(config: Config) -> Result<(), CommandError> {
    // Binding first settles every configuration refusal before the database is touched.
    let listener = listen::bind(&config).await?;
    if let Some(files) = &config.tls {
        // Read here to refuse a bad pair before the database is touched; `serve` reads it again.
        Tls::load(files).map_err(|err| CommandError::config(err.to_string()))?;
    }
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
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    tracing::info!(database = %redact(&config.database_url), scheme = %scheme, "listening on {local}");
    crate::serve(config, store, listener, http::shutdown_signal())
        .await
        .map_err(|err| CommandError::failed("the server failed", err))
}
