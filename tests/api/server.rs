//! A running `dash-events serve` process and the ways a test talks to it: raw or signed webhook
//! deliveries, queries carrying the bearer token when one is configured, signals and restarts —
//! through a `reqwest` client that only ever speaks to loopback.

use std::net::SocketAddr;
use std::time::Duration;

use nix::sys::signal::Signal;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::Value;

use crate::backend::TestDb;
use crate::helpers::sign;
use crate::process::{Exit, Process};

pub use crate::launch::{EXIT_TIMEOUT, Launch, SECRET};

/// A running `serve` process.
pub struct App {
    pub addr: SocketAddr,
    pub secret: String,
    pub client: Client,
    process: Process,
    launch: Launch,
}

impl App {
    /// Wraps a started process listening on `addr`.
    pub fn new(addr: SocketAddr, process: Process, launch: Launch) -> App {
        App {
            addr,
            secret: launch.secret().to_owned(),
            client: client(),
            process,
            launch,
        }
    }

    /// Starts a server with the default options on `db`.
    pub async fn start(db: &TestDb) -> App {
        Launch::new(db).start().await
    }

    /// The API token the server requires, if any.
    pub fn token(&self) -> Option<&str> {
        self.launch.token()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A request to `path`, carrying the bearer token when the server was given one.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.authorize(self.client.request(method, self.url(path)))
    }

    /// Adds the bearer token to `request` when the server was given one.
    pub fn authorize(&self, request: RequestBuilder) -> RequestBuilder {
        match self.launch.token() {
            Some(token) => request.header(AUTHORIZATION, format!("Bearer {token}")),
            None => request,
        }
    }

    /// The server's process id, e.g. to read its `/proc` status.
    pub fn pid(&self) -> i32 {
        self.process.pid().as_raw()
    }

    pub async fn get(&self, path: &str) -> Response {
        send(self.request(Method::GET, path)).await
    }

    /// `GET path` with query parameters (encoded by `reqwest`), answering the status and JSON body.
    pub async fn get_query(&self, path: &str, query: &[(&str, &str)]) -> (u16, Value) {
        crate::helpers::status_and_json(send(self.request(Method::GET, path).query(query)).await)
            .await
    }

    /// `GET path` that must answer 200 with JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        let (status, body) = crate::helpers::status_and_json(self.get(path).await).await;
        assert_eq!(status, 200, "GET {path} answered {status}: {body}");
        body
    }

    /// POSTs `body` to `/webhooks/dash` with exactly the given headers.
    pub async fn post_webhook(
        &self,
        body: impl Into<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Response {
        let mut request = self.client.post(self.url("/webhooks/dash"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        send(request.body(body.into())).await
    }

    /// Delivers `body` the way Dash does: JSON content type and a valid signature.
    pub async fn deliver_bytes(&self, body: &[u8]) -> Response {
        let signature = sign(&self.secret, body);
        self.post_webhook(
            body.to_vec(),
            &[
                (CONTENT_TYPE.as_str(), "application/json"),
                ("x-dash-signature", &signature),
            ],
        )
        .await
    }

    /// Delivers an event as Dash does and answers the status and JSON body.
    pub async fn deliver(&self, event: &Value) -> (u16, Value) {
        let body = serde_json::to_vec(event).expect("serialize event");
        crate::helpers::status_and_json(self.deliver_bytes(&body).await).await
    }

    /// Like `deliver`, but `None` when no answer came (e.g. the connection was refused or closed).
    pub async fn try_deliver(&self, event: &Value) -> Option<(u16, Value)> {
        let body = serde_json::to_vec(event).expect("serialize event");
        let response = self
            .client
            .post(self.url("/webhooks/dash"))
            .header(CONTENT_TYPE, "application/json")
            .header("x-dash-signature", sign(&self.secret, &body))
            .body(body)
            .send()
            .await
            .ok()?;
        let status = response.status().as_u16();
        Some((status, response.json().await.ok()?))
    }

    /// Delivers an event that must be acknowledged as new.
    pub async fn store(&self, event: &Value) {
        let (status, body) = self.deliver(event).await;
        assert_eq!(status, 200, "delivery of {event} answered {status}: {body}");
        assert_eq!(body["duplicate"], false, "delivery of {event}: {body}");
    }

    /// Everything the server logged so far.
    pub fn stderr(&self) -> String {
        self.process.stderr()
    }

    pub fn signal(&self, sig: Signal) {
        self.process.signal(sig);
    }

    /// Waits for the process to end by itself (after a signal), panicking if it overstays.
    pub async fn wait_exit(&mut self) -> Exit {
        self.process
            .expect_exit(EXIT_TIMEOUT, "serve after a signal")
            .await
    }

    /// SIGTERM, then waits for a clean exit (code 0).
    pub async fn stop(mut self) -> Exit {
        self.signal(Signal::SIGTERM);
        let exit = self.wait_exit().await;
        assert!(
            exit.status.success(),
            "serve did not exit 0 on SIGTERM: {:?}\n{}",
            exit.status,
            exit.stderr
        );
        exit
    }

    /// Kills the server with SIGKILL (no chance to clean up) and starts it again, same options.
    pub async fn crash_and_restart(mut self) -> App {
        let launch = self.launch.clone();
        self.signal(Signal::SIGKILL);
        self.wait_exit().await;
        launch.start().await
    }

    /// Stops the server gracefully and starts it again with the same options.
    pub async fn restart(self) -> App {
        let launch = self.launch.clone();
        self.stop().await;
        launch.start().await
    }
}

/// A client for loopback only: no proxy from the environment, bounded waits.
pub fn client() -> Client {
    Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("build the HTTP client")
}

async fn send(request: RequestBuilder) -> Response {
    request
        .send()
        .await
        .unwrap_or_else(|err| panic!("request failed: {err:?}"))
}
