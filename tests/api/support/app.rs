//! The in-process harness: `dash_events::serve` on a `127.0.0.1:0` listener, spawned on the
//! test's own runtime, with a handle that shuts it down. Most tests use this: it starts in
//! milliseconds, and a test sets any option (limits, retention interval, notification rules …)
//! directly on the `Config`, the struct the binary builds from its flags.
//!
//! What only a process shows (signals, `kill -9`, exit codes, refused starts, log output,
//! subcommands) is tested through `support::launch` and `support::server` instead.
//!
//! Nothing here is global: no environment variable is read or set, no tracing subscriber is
//! installed (the service's log lines go nowhere in-process), each server has its own store,
//! metrics registry and background tasks.

use std::ops::Deref;
use std::time::Duration;

use dash_events::config::{Config, Secret};
use dash_events::limits::Limits;
use dash_events::notify::NotifySettings;
use dash_events::store::{Durability, Store};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::backend::TestDb;
use crate::support::http::{Http, SECRET};

/// How long `stop` waits for `serve` to return: its drain bound (`dash_events::DRAIN_TIMEOUT`),
/// plus time for a busy test machine.
const STOP_TIMEOUT: Duration = Duration::from_secs(45);

/// The `Config` the binary builds from `serve --database-url <db> --webhook-secret SECRET` (its
/// defaults, see `ServeArgs::into_config`); a test changes what it needs before starting.
pub fn config(db: &TestDb) -> Config {
    Config {
        database_url: db.url().to_owned(),
        database_read_url: None,
        // Unused in-process: the harness binds its own listener on 127.0.0.1:0.
        listen: "127.0.0.1:0".to_owned(),
        webhook_secret: Secret::new(SECRET.to_owned()),
        webhook_secret_previous: None,
        api_token: None,
        max_body_bytes: 1_048_576,
        sqlite_synchronous: Durability::Full,
        retention: None,
        notify: NotifySettings::default(),
        limits: Limits::default(),
        clock: dash_events::clock::Clock::system(),
        tls: None,
        search_index: Default::default(),
    }
}

/// Sets the bearer token the query API requires (`--api-token`).
pub fn api_token(config: &mut Config, token: &str) {
    config.api_token = Some(Secret::new(token.to_owned()));
}

/// A server running inside the test process. Dropping it begins its shutdown; `stop` also waits
/// for the drain to finish.
pub struct App {
    http: Http,
    config: Config,
    shutdown: Option<oneshot::Sender<()>>,
    serving: Option<JoinHandle<std::io::Result<()>>>,
}

impl App {
    /// Serves `db` with the default options.
    pub async fn start(db: &TestDb) -> App {
        App::serve(config(db)).await
    }

    /// Serves `db` with the default options changed by `change`.
    pub async fn start_with(db: &TestDb, change: impl FnOnce(&mut Config)) -> App {
        let mut config = config(db);
        change(&mut config);
        App::serve(config).await
    }

    /// Opens the store (applying migrations), binds `127.0.0.1:0` and spawns `serve`.
    pub async fn serve(config: Config) -> App {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("the listener's address");
        let store = Store::connect(&config.database_url, config.sqlite_synchronous)
            .await
            .unwrap_or_else(|err| panic!("open {}: {err:?}", config.database_url))
            .with_read_url(config.database_read_url.as_deref())
            .await
            .unwrap_or_else(|err| panic!("open the replica: {err:?}"));
        let (shutdown, signal) = oneshot::channel::<()>();
        let serving = tokio::spawn(dash_events::serve(
            config.clone(),
            store,
            listener,
            async move {
                // Fired by `stop`, or dropped with the `App`: either way the drain begins.
                let _ = signal.await;
            },
        ));
        let http = Http::new(
            addr,
            config.webhook_secret.expose(),
            config.api_token.as_ref().map(Secret::expose),
        );
        App {
            http,
            config,
            shutdown: Some(shutdown),
            serving: Some(serving),
        }
    }

    /// Begins the shutdown (what SIGTERM does to the binary) and waits until `serve` returned:
    /// requests in flight answered, streams ended, the store closed. Panics if `serve` failed or
    /// overstays.
    pub async fn stop(mut self) {
        self.stop_in_place().await;
    }

    async fn stop_in_place(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let serving = self.serving.take().expect("stopped once");
        match tokio::time::timeout(STOP_TIMEOUT, serving).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(err))) => panic!("serve ended with an error: {err}"),
            Ok(Err(err)) => panic!("serve panicked or was cancelled: {err}"),
            Err(_) => panic!("serve still running {STOP_TIMEOUT:?} after its shutdown began"),
        }
    }

    /// Stops the server gracefully and serves the same database with the same options again (on
    /// a new port).
    pub async fn restart(mut self) -> App {
        self.stop_in_place().await;
        App::serve(self.config.clone()).await
    }
}

impl Deref for App {
    type Target = Http;

    fn deref(&self) -> &Http {
        &self.http
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}
