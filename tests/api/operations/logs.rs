//! Structured logs: with `LOG_FORMAT=json` every line the server writes is one JSON object, and
//! every request answered gets a line that carries the same request id as the answer's
//! `x-request-id` header — the client's own id when it sent a usable one, a fresh one otherwise.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::backend::{self, Backend, TestDb};
use crate::helpers::{event, eventually, new_id};
use crate::support::launch::Launch;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_the_request_id_of_each_answer() {
    backend::run(Backend::Sqlite, |db: TestDb| async move {
        let app = Launch::new(&db).env("LOG_FORMAT", "json").start().await;
        let body = serde_json::to_vec(&event(&new_id())).unwrap();
        let mut answered = Vec::new();

        for (method, path, client_id) in [
            (Method::GET, "/events", None),
            (Method::GET, "/events?since=garbage", None),
            (Method::GET, "/stats", Some("client-chosen-id-1")),
            (Method::GET, "/no/such/path", None),
            (Method::GET, "/events/export", Some("bad id with spaces")),
        ] {
            let mut request = app.request(method, path);
            if let Some(id) = client_id {
                request = request.header("x-request-id", id);
            }
            let response = app.send(request).await;
            answered.push((path, response.status().as_u16(), request_id(&response)));
        }
        let delivery = app.deliver_bytes(&body).await;
        answered.push(("/webhooks/dash", 200, request_id(&delivery)));
        let unsigned = app
            .post_webhook(body, &[("content-type", "application/json")])
            .await;
        answered.push(("/webhooks/dash", 401, request_id(&unsigned)));

        assert_eq!(
            answered[2].2, "client-chosen-id-1",
            "the client's id is kept"
        );
        assert_ne!(
            answered[4].2, "bad id with spaces",
            "an unusable id is replaced"
        );
        let logged = eventually(Duration::from_secs(10), || async {
            answered
                .iter()
                .all(|(_, _, id)| answer_line(&app.stderr(), id).is_some())
        });
        assert!(
            logged.await,
            "not every request was logged:\n{}",
            app.stderr()
        );
        let stderr = app.stderr();
        for line in stderr.lines() {
            let parsed: Result<Value, _> = serde_json::from_str(line);
            assert!(
                parsed.is_ok_and(|v| v.is_object()),
                "not a JSON object: {line}"
            );
        }
        let mut ids: Vec<&str> = Vec::new();
        for (path, status, id) in &answered {
            let line = answer_line(&stderr, id).expect("logged");
            assert_eq!(line["fields"]["status"], *status, "{path}: {line}");
            ids.push(id);
        }
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(
            ids.len(),
            answered.len(),
            "request ids are unique: {answered:?}"
        );
    })
    .await;
}

fn request_id(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("x-request-id")
        .expect("every answer carries x-request-id")
        .to_str()
        .expect("a printable request id")
        .to_owned()
}

/// The `answered` log line whose request span carries `id`.
fn answer_line(stderr: &str, id: &str) -> Option<Value> {
    stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["fields"]["message"] == "answered" && line["span"]["request_id"] == id)
}
