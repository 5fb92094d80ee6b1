//! Runs each subcommand: the glue between the parsed command line and the library.

use crate::cli::{Command, DatabaseArgs, NotifyCommandArgs, PruneArgs, ServeArgs};
use crate::event::format_micros;
use crate::metrics::Metrics;
use crate::notify::{DRAIN_TIME_LIMIT, Worker};
use crate::startup::StartupError;
use crate::store::{Durability, Store, redact};
use crate::{export, http, listen, send_test, serve, verify};

/// Runs the chosen subcommand to completion.
pub async fn run(command: Command) -> Result<(), StartupError> {
    match command {
        Command::Serve(args) => run_serve(args).await,
        Command::Migrate(args) => run_migrate(args).await,
        Command::SendTest(args) => send_test::run(args).await,
        Command::Verify(args) => verify::run(args).await,
        Command::Export(args) => export::run(args).await,
        Command::Prune(args) => run_prune(args).await,
        Command::Notify(args) => run_notify(args).await,
    }
}

async fn run_serve(args: ServeArgs) -> Result<(), StartupError> {
    let config = args.into_config()?;
    // Binding first settles every configuration refusal before the database is touched.
    let listener = listen::bind(&config).await?;
    let store = Store::connect(&config.database_url, config.sqlite_synchronous).await?;
    let local = listener.local_addr().map_err(anyhow::Error::from)?;
    tracing::info!(database = %redact(&config.database_url), "listening on {local}");
    serve(config, store, listener, http::shutdown_signal())
        .await
        .map_err(|err| StartupError::Runtime(err.into()))
}

async fn run_migrate(args: DatabaseArgs) -> Result<(), StartupError> {
    let store = Store::connect(&args.database_url, Durability::default()).await?;
    store.close().await;
    tracing::info!(database = %redact(&args.database_url), "migrations applied");
    Ok(())
}

async fn run_prune(args: PruneArgs) -> Result<(), StartupError> {
    let retention = args.retention()?;
    let store = Store::connect(&args.database.database_url, Durability::default()).await?;
    let pruned = retention.prune(&store).await;
    store.close().await;
    let (deleted, cutoff_us) = pruned
        .map_err(|err| StartupError::Runtime(anyhow::Error::new(err).context("pruning failed")))?;
    println!(
        "pruned {deleted} events with a timestamp before {} (RETENTION_DAYS={})",
        format_micros(cutoff_us),
        retention.days
    );
    Ok(())
}

async fn run_notify(args: NotifyCommandArgs) -> Result<(), StartupError> {
    let database_url = args.database.database_url.clone();
    let settings = args.settings()?;
    let store = Store::connect(&database_url, Durability::default()).await?;
    let worker = Worker::new(store.clone(), settings, Metrics::new())
        .map_err(|err| anyhow::Error::new(err).context("cannot build the HTTP client"))?;
    let drained = worker.drain(DRAIN_TIME_LIMIT).await;
    let left = store.count_outbox().await;
    store.close().await;
    let tally = drained.map_err(|err| {
        StartupError::Runtime(anyhow::Error::new(err).context("sending notifications failed"))
    })?;
    let left = left.unwrap_or_default();
    println!(
        "notifications: sent {}, failed {} (retried later), dead {}; {} pending, {} dead in all",
        tally.sent, tally.failed, tally.dead, left.pending, left.dead
    );
    Ok(())
}
