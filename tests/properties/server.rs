//! The black-box harness: a real `dash-events serve` child process spoken to over HTTP.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use dash_events::signature::sign;
use serde_json::Value;

use crate::SECRET;

/// A `dash-events serve` child process on its own SQLite file and a free loopback port; killed
/// and its directory removed on drop.
pub struct Server {
    child: Child,
    base: String,
    dir: PathBuf,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl Server {
    pub fn start(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("dash-events-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temporary directory");
        let mut child = Command::new(env!("CARGO_BIN_EXE_dash-events"))
            .arg("serve")
            .env(
                "DATABASE_URL",
                format!("sqlite://{}", dir.join("events.db").display()),
            )
            .env("LISTEN_ADDR", "127.0.0.1:0")
            .env("WEBHOOK_SECRET", SECRET)
            .env("SQLITE_SYNCHRONOUS", "normal")
            .env("RUST_LOG", "info")
            .env_remove("WEBHOOK_SECRET_PREVIOUS")
            .env_remove("API_TOKEN")
            .env_remove("MAX_BODY_BYTES")
            .env_remove("LOG_FORMAT")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("dash-events starts");
        let mut lines = BufReader::new(child.stderr.take().expect("piped")).lines();
        let addr = lines.by_ref().map_while(Result::ok).find_map(|line| {
            let rest = line.split("listening on ").nth(1)?;
            Some(
                rest.split_whitespace()
                    .next()?
                    .trim_start_matches("http://")
                    .to_owned(),
            )
        });
        // Keep reading so that the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        Self {
            base: format!("http://{}", addr.expect("a `listening on` line")),
            child,
            dir,
            client: reqwest::Client::new(),
            runtime: runtime.expect("tokio runtime"),
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
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
