//! The black-box harness: `dash_events::serve` on a free loopback port inside this process (on a
//! runtime of its own, since the properties are synchronous), spoken to over HTTP.

use std::path::PathBuf;
use std::time::Duration;

use dash_events::config::{Config, Secret};
use dash_events::limits::Limits;
use dash_events::notify::NotifySettings;
use dash_events::signature::sign;
use dash_events::store::{Durability, Store};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::SECRET;

/// A server on its own SQLite file (synchronous `normal`) and a free loopback port; shut down and
/// its directory removed on drop.
pub struct Server {
    base: String,
    dir: PathBuf,
    client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    serving: Option<JoinHandle<std::io::Result<()>>>,
    runtime: tokio::runtime::Runtime,
}

impl Server {
    pub fn start(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("dash-events-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temporary directory");
        let config = Config {
            database_url: format!("sqlite://{}", dir.join("events.db").display()),
            database_read_url: None,
            listen: "127.0.0.1:0".to_owned(),
            webhook_secret: Secret::new(SECRET.to_owned()),
            webhook_secret_previous: None,
            api_token: None,
            max_body_bytes: 1_048_576,
            sqlite_synchronous: Durability::default(),
            retention: None,
            notify: NotifySettings::default(),
            limits: Limits::default(),
            clock: dash_events::clock::Clock::system(),
            tls: None,
            search_index: Default::default(),
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let (shutdown, signal) = oneshot::channel::<()>();
        let (addr, serving) = runtime.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("the listener's address");
            let store = Store::connect(&config.database_url, config.sqlite_synchronous)
                .await
                .expect("open the database");
            let serving = tokio::spawn(dash_events::serve(config, store, listener, async {
                let _ = signal.await;
            }));
            (addr, serving)
        });
        Self {
            base: format!("http://{addr}"),
            dir,
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("HTTP client"),
            shutdown: Some(shutdown),
            serving: Some(serving),
            runtime,
        }
    }

    /// POSTs `body` signed with the server's secret; answers the status and the JSON answer.
    pub fn deliver(&self, body: &[u8]) -> (u16, Value) {
        let request = self.client.post(format!("{}/webhooks/dash", self.base));
        let request = request.header("content-type", "application/json");
        let request = request.header("x-dash-signature", sign(SECRET.as_bytes(), body));
        self.send(request.body(body.to_vec()))
    }

    /// GETs `path` with the raw `query` (percent-encoded only where a URL must be); answers the
    /// status and the JSON answer.
    pub fn get(&self, path: &str, query: &str) -> (u16, Value) {
        let mut url = reqwest::Url::parse(&format!("{}{path}", self.base)).expect("a URL");
        url.set_query(Some(query));
        self.send(self.client.get(url))
    }

    fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        self.runtime.block_on(async {
            let response = request.send().await.expect("the server answers");
            let status = response.status().as_u16();
            (status, response.json().await.expect("every answer is JSON"))
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(serving) = self.serving.take() {
            // The drain ends at once: nothing is in flight between properties.
            let _ = self
                .runtime
                .block_on(async { tokio::time::timeout(Duration::from_secs(30), serving).await });
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
