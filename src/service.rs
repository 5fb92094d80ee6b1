//! Running the service: the app on a listener, the background work beside it, and the drain.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::config::Config;
use crate::http::tls::Tls;
use crate::http::{self, AppState};
use crate::ingest::{BatchWriter, WriterSettings};
use crate::metrics::{Metrics, ReplicaGauges};
use crate::notify::{Outbox, Worker};
use crate::retention;
use crate::store::Store;

/// How often a PostgreSQL log's upkeep runs (see `store::planner`).
const UPKEEP_INTERVAL: Duration = Duration::from_secs(60);

/// How often the read replica's lag is measured for `/metrics`; also the bound of one measurement.
const REPLICA_LAG_INTERVAL: Duration = Duration::from_secs(5);

/// How long in-flight requests may take to finish once shutdown begins.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves the app on `listener` until `shutdown` resolves, then drains in-flight requests (at
/// most `DRAIN_TIMEOUT`) and closes the store. With notification rules (and `NOTIFY_WORKER` on)
/// the notification worker runs beside it and ends with the drain, after its sends in flight. Slow or abusive clients are bounded by
/// `config.limits` (see `limits`). With `config.tls` it serves HTTPS, and reloads the certificate
/// when its files change; a pair that cannot be loaded at start is an `InvalidInput` error.
pub async fn serve(
    config: Config,
    store: Store,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let tls = config
        .tls
        .as_ref()
        .map(Tls::load)
        .transpose()
        .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidInput, err))?;
    let outbox = Outbox::new(config.notify.rules.clone());
    let (writer, mut writers) = BatchWriter::spawn(
        store.clone(),
        WriterSettings {
            search: config.search_index,
            ..WriterSettings::for_store(&store)
        },
        outbox.clone(),
    );
    let (draining_tx, mut draining_rx) = tokio::sync::watch::channel(false);
    let retention = config
        .retention
        .map(|retention| retention::Window::new(retention, config.clock.clone()));
    let pruning = retention
        .clone()
        .map(|window| tokio::spawn(retention::prune_periodically(store.clone(), window)));
    let upkeep = tokio::spawn(crate::store::maintain_periodically(
        store.clone(),
        UPKEEP_INTERVAL,
    ));
    let warming = tokio::spawn(warm_id_index(store.clone()));
    let metrics = Metrics::new();
    let acceptor = tls.as_ref().map(Tls::acceptor);
    let reloading = tls.map(|tls| tokio::spawn(tls.reload_on_change(metrics.clone())));
    let measuring = store.has_replica().then(|| {
        tokio::spawn(measure_replica_lag(
            store.clone(),
            metrics.replica(),
            REPLICA_LAG_INTERVAL,
        ))
    });
    let notifying = spawn_worker(&config, &store, &metrics, &outbox, &draining_rx)?;
    let send_timeout = config.notify.timeout;
    let state = AppState {
        store: store.clone(),
        config: Arc::new(config),
        writer,
        metrics,
        outbox,
        retention,
        shutdown: draining_rx.clone(),
    };
    let limits = state.config.limits;
    let app = http::router(state);
    let server = http::serve_connections(listener, app, limits, acceptor, async move {
        shutdown.await;
        tracing::info!("shutting down: finishing requests in flight, ending live streams");
        let _ = draining_tx.send(true);
    });
    let drain_deadline = async move {
        let _ = draining_rx.wait_for(|draining| *draining).await;
        tokio::time::sleep(DRAIN_TIMEOUT).await;
    };
    // Once the server is gone so are the writer handles; the writers then finish the queue.
    let drained = async move {
        server.await;
        while writers.join_next().await.is_some() {}
    };
    tokio::select! {
        () = drained => {},
        () = drain_deadline => tracing::warn!("requests still running after {DRAIN_TIMEOUT:?}; exiting"),
    }
    if let Some(mut notifying) = notifying {
        // The worker saw the drain begin and finishes only the sends in flight.
        let bound = send_timeout + Duration::from_secs(1);
        if tokio::time::timeout(bound, &mut notifying).await.is_err() {
            // Its claims stay leased and are sent again once the lease runs out.
            notifying.abort();
        }
    }
    if let Some(pruning) = pruning {
        // A batch cut short here is rolled back: it leaves the events and their totals as they were.
        pruning.abort();
        let _ = pruning.await;
    }
    upkeep.abort();
    let _ = upkeep.await;
    warming.abort();
    let _ = warming.await;
    if let Some(reloading) = reloading {
        reloading.abort();
        let _ = reloading.await;
    }
    if let Some(measuring) = measuring {
        measuring.abort();
        let _ = measuring.await;
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Starts the notification worker when rules are configured and `serve` is to send them.
fn spawn_worker(
    config: &Config,
    store: &Store,
    metrics: &Metrics,
    outbox: &Outbox,
    draining: &tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<Option<tokio::task::JoinHandle<()>>> {
    if config.notify.rules.is_empty() || !config.notify.worker {
        return Ok(None);
    }
    // The worker reads the events of notifications it just claimed: a replica may not have them yet.
    let worker = Worker::new(
        store.primary(),
        config.notify.clone(),
        metrics.clone(),
        config.clock.clone(),
    )
    .map_err(std::io::Error::other)?;
    let running = worker.run(outbox.wake.clone(), draining.clone());
    Ok(Some(tokio::spawn(running)))
}

/// Sets the replica gauges at start, then every `every`, for as long as the service runs.
/// Reads SQLite's id index into the page cache beside the first requests (see `store::warm`).
async fn warm_id_index(store: Store) {
    let started = std::time::Instant::now();
    match store.warm_id_index().await {
        Ok(0) => {}
        Ok(ids) => tracing::info!(
            ids,
            seconds = started.elapsed().as_secs_f64(),
            "read the id index into the page cache"
        ),
        Err(err) => tracing::warn!(error = %err, "could not read the id index ahead"),
    }
}

async fn measure_replica_lag(store: Store, gauges: ReplicaGauges, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let lag = match tokio::time::timeout(every, store.replica_lag()).await {
            Ok(Ok(lag)) => Some(lag),
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "the read replica did not answer");
                None
            }
            Err(_elapsed) => {
                tracing::warn!("the read replica did not answer within {every:?}");
                None
            }
        };
        gauges.record(lag);
    }
}
