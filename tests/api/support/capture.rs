//! A local HTTP server standing in for Slack or any notification endpoint: it records every
//! request (path, headers, body) and answers each with the next status of a programmable script,
//! then with a default; an answer may also hang (the request is held, unanswered, for up to two
//! minutes). It listens on 127.0.0.1 on a free port and stops when dropped.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::HeaderMap;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use dash_events::config::Config;
use dash_events::notify::Rules;

use crate::backend::TestDb;
use crate::helpers::eventually;
use crate::support::app::{App, api_token};
use crate::support::http::Http;
use crate::support::launch::Launch;

/// How one request is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// This status, empty body.
    Status(u16),
    /// This status with `Retry-After: <seconds>`.
    RetryAfter(u16, u64),
    /// Never answered (held for at most `HANG`).
    Hang,
}

/// The longest a hanging answer holds its request.
const HANG: Duration = Duration::from_secs(120);

/// One request as received.
#[derive(Debug, Clone)]
pub struct Captured {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The status answered (0 when the request was held).
    pub status: u16,
    /// When it arrived.
    pub at: std::time::Instant,
}

impl Captured {
    /// The body as JSON; panics otherwise.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|err| panic!("captured body is not JSON ({err}): {:?}", self.body))
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Default)]
struct Recorded {
    script: VecDeque<Answer>,
    default: Option<Answer>,
    requests: Vec<Captured>,
}

/// The running capture server.
pub struct Capture {
    pub addr: SocketAddr,
    recorded: Arc<Mutex<Recorded>>,
    server: tokio::task::JoinHandle<()>,
}

impl Capture {
    /// Starts a server answering `script` in order, then `default` to every further request.
    pub async fn start(script: &[Answer], default: Answer) -> Capture {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the capture server");
        let addr = listener.local_addr().expect("capture server address");
        let recorded = Arc::new(Mutex::new(Recorded {
            script: script.iter().copied().collect(),
            default: Some(default),
            requests: Vec::new(),
        }));
        let server = tokio::spawn(accept_loop(listener, Arc::clone(&recorded)));
        Capture {
            addr,
            recorded,
            server,
        }
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answers every further request with `answer` (after what is left of the script).
    pub fn answer_from_now(&self, answer: Answer) {
        let mut recorded = self.recorded.lock().unwrap();
        recorded.script.clear();
        recorded.default = Some(answer);
    }

    /// Every request received so far, in order of arrival.
    pub fn requests(&self) -> Vec<Captured> {
        self.recorded.lock().unwrap().requests.clone()
    }

    /// The requests that carried the event `event_id` (`X-Dash-Event-Id`, sent by webhook rules).
    pub fn requests_for(&self, event_id: &str) -> Vec<Captured> {
        self.requests()
            .into_iter()
            .filter(|r| r.header("x-dash-event-id") == Some(event_id))
            .collect()
    }

    /// Waits until at least `count` requests arrived; answers whether they did within `timeout`.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> bool {
        eventually(timeout, || async { self.requests().len() >= count }).await
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        // The accept loop owns the connections' tasks: aborting it ends them all.
        self.server.abort();
    }
}

async fn accept_loop(listener: TcpListener, recorded: Arc<Mutex<Recorded>>) {
    let mut connections = JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        let recorded = Arc::clone(&recorded);
        connections.spawn(async move {
            let service =
                hyper::service::service_fn(move |request| answer(request, Arc::clone(&recorded)));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        while connections.try_join_next().is_some() {}
    }
}

async fn answer(
    request: Request<Incoming>,
    recorded: Arc<Mutex<Recorded>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let next = {
        let mut recorded = recorded.lock().unwrap();
        let next = recorded
            .script
            .pop_front()
            .or(recorded.default)
            .unwrap_or(Answer::Status(200));
        recorded.requests.push(Captured {
            path: parts.uri.path().to_owned(),
            headers: parts.headers,
            body,
            status: match next {
                Answer::Status(status) | Answer::RetryAfter(status, _) => status,
                Answer::Hang => 0,
            },
            at: std::time::Instant::now(),
        });
        next
    };
    let mut response = Response::new(Full::new(Bytes::new()));
    let status = match next {
        Answer::Status(status) => status,
        Answer::RetryAfter(status, seconds) => {
            let value = hyper::header::HeaderValue::from(seconds);
            response
                .headers_mut()
                .insert(hyper::header::RETRY_AFTER, value);
            status
        }
        Answer::Hang => {
            tokio::time::sleep(HANG).await;
            504
        }
    };
    *response.status_mut() = hyper::StatusCode::from_u16(status).expect("a valid status");
    Ok(response)
}

/// A notification rule as `NOTIFY_RULES` lists it; `kind` is `slack` or `webhook`.
pub fn rule(name: &str, types: &[&str], kind: &str, url: &str) -> Value {
    serde_json::json!({ "name": name, "types": types, kind: url })
}

/// In-process options: the API token `notify-token`, notification `rules` (as `NOTIFY_RULES`
/// lists them) with `max_attempts` attempts and a quick retry schedule (50 ms doubling to 200 ms,
/// 2 s per send). A test changes any of them on the `Config` afterwards.
pub fn notifying(config: &mut Config, rules: &[Value], max_attempts: u32) {
    let text = Value::from(rules.to_vec()).to_string();
    let rules = Rules::parse(&text).unwrap_or_else(|err| panic!("invalid rules {text}: {err}"));
    api_token(config, "notify-token");
    config.notify.rules = Arc::new(rules);
    config.notify.max_attempts = max_attempts;
    config.notify.backoff.base = Duration::from_millis(50);
    config.notify.backoff.max = Duration::from_millis(200);
    config.notify.timeout = Duration::from_millis(2000);
}

/// `serve` in-process on `db` with the options of [`notifying`].
pub async fn start_notifying(db: &TestDb, rules: &[Value], max_attempts: u32) -> App {
    App::start_with(db, |config| notifying(config, rules, max_attempts)).await
}

/// A `serve` process on `db` with the options of [`notifying`], given as flags and variables so
/// that a test may still set one of them with its flag (the flag wins).
pub fn launch_notifying(db: &TestDb, rules: &[Value], max_attempts: u32) -> Launch {
    Launch::new(db)
        .api_token("notify-token")
        .arg("--notify-rules")
        .arg(&Value::from(rules.to_vec()).to_string())
        .arg("--notify-max-attempts")
        .arg(&max_attempts.to_string())
        .env("NOTIFY_RETRY_BASE_MS", "50")
        .env("NOTIFY_RETRY_MAX_MS", "200")
        .env("NOTIFY_TIMEOUT_MS", "2000")
}

/// The notifications `GET /notifications` lists with `query` (one page of up to 500).
pub async fn notifications(app: &Http, query: &[(&str, &str)]) -> Vec<Value> {
    let query = [query, &[("limit", "500")]].concat();
    let (status, page) = app.get_query("/notifications", &query).await;
    assert_eq!(status, 200, "GET /notifications answered {status}: {page}");
    page["notifications"]
        .as_array()
        .expect("a notifications array")
        .clone()
}

/// The notifications of the event `event_id` that `GET /notifications` lists.
pub async fn notifications_of(app: &Http, event_id: &str) -> Vec<Value> {
    notifications(app, &[])
        .await
        .into_iter()
        .filter(|n| n["eventId"] == event_id)
        .collect()
}

/// Stores a fresh `agent:complete` event (the fence) and waits until its notification is sent;
/// answers the fence's event id, or `None` when it was not sent within `timeout`.
///
/// Call it once the notifications under test are recorded (`sent` or `dead`). The fence's row is
/// claimed by a worker round that began after that, and a claim takes the oldest due rows first:
/// a worker that would claim a recorded notification again (and send it again) has done so by
/// the time the fence is sent. So "not sent again" is checked against a round that happened,
/// rather than against time let pass. The fence must match one of the app's rules.
pub async fn fence(app: &Http, timeout: Duration) -> Option<String> {
    let id = crate::helpers::new_id();
    app.store(&crate::helpers::event_at(
        &id,
        "agent:complete",
        "2026-11-28T10:00:00Z",
    ))
    .await;
    let sent = eventually(timeout, || async {
        let listed = notifications_of(app, &id).await;
        !listed.is_empty() && listed.iter().all(|n| n["state"] == "sent")
    })
    .await;
    sent.then_some(id)
}

/// Waits until `GET /notifications?state=<state>` lists `count` notifications.
pub async fn wait_for_state(app: &Http, state: &str, count: usize, timeout: Duration) -> bool {
    eventually(timeout, || async {
        notifications(app, &[("state", state)]).await.len() == count
    })
    .await
}
