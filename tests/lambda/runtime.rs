//! A fake of the Lambda Runtime API (version 2018-06-01) on 127.0.0.1, as the function sees it in
//! a Lambda execution environment: `GET /runtime/invocation/next` hands out the next event with
//! the `Lambda-Runtime-*` headers, `POST /runtime/invocation/{id}/response` and `…/error` take
//! the function's answer, `POST /runtime/init/error` a failed start. A test invokes one event at a
//! time, as Lambda does with one execution environment, and gets the answer back.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::task::JoinHandle;

/// How long a test waits for the function to answer one invocation.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// When the function's answer to an invocation arrived, against the deadline it was handed with
/// the invocation (`Lambda-Runtime-Deadline-Ms`), as Lambda itself judges it: an answer after the
/// deadline is lost. Both in milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub deadline_ms: u128,
    pub answered_ms: u128,
}

/// What the function posted for an invocation.
#[derive(Debug)]
pub enum Outcome {
    /// `POST …/response`: the API Gateway proxy response.
    Response(Value),
    /// `POST …/error`: the function reported an error (API Gateway would answer 502).
    Error(Value),
}

struct Invocation {
    id: String,
    event: Value,
    deadline: Duration,
    answer: oneshot::Sender<(Outcome, Timing)>,
}

/// An invocation handed out and not answered yet: where its answer goes, and its deadline.
type Waiting = HashMap<String, (oneshot::Sender<(Outcome, Timing)>, u128)>;

#[derive(Clone)]
struct Shared {
    queue: Arc<Mutex<mpsc::Receiver<Invocation>>>,
    waiting: Arc<Mutex<Waiting>>,
}

/// The fake Runtime API, serving until dropped.
pub struct FakeRuntime {
    pub addr: SocketAddr,
    invocations: mpsc::Sender<Invocation>,
    server: JoinHandle<()>,
    next_id: std::sync::atomic::AtomicU64,
}

impl FakeRuntime {
    /// Starts the fake on a free loopback port.
    pub async fn start() -> FakeRuntime {
        let (invocations, queue) = mpsc::channel(16);
        let shared = Shared {
            queue: Arc::new(Mutex::new(queue)),
            waiting: Arc::default(),
        };
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake Runtime API");
        let addr = listener.local_addr().expect("local address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeRuntime {
            addr,
            invocations,
            server,
            next_id: 0.into(),
        }
    }

    /// Invokes the function with `event` (30 s before its deadline) and waits for its answer.
    pub async fn invoke(&self, event: Value) -> Outcome {
        let (outcome, _) = self
            .invoke_with_deadline(event, Duration::from_secs(30))
            .await;
        outcome
    }

    /// Invokes the function with `event`, `deadline` before it times out, and waits for its
    /// answer and when it came.
    pub async fn invoke_with_deadline(
        &self,
        event: Value,
        deadline: Duration,
    ) -> (Outcome, Timing) {
        let number = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (answer, answered) = oneshot::channel();
        let invocation = Invocation {
            id: format!("8476a536-e9f4-11e8-9739-{number:012x}"),
            event,
            deadline,
            answer,
        };
        self.invocations
            .send(invocation)
            .await
            .expect("the fake Runtime API runs");
        tokio::time::timeout(ANSWER_TIMEOUT, answered)
            .await
            .unwrap_or_else(|_| panic!("no answer to the invocation within {ANSWER_TIMEOUT:?}"))
            .expect("the invocation was answered")
    }
}

impl Drop for FakeRuntime {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Hands out the next invocation once a test makes one (Lambda holds this request open too).
async fn next_invocation(State(shared): State<Shared>) -> impl IntoResponse {
    let Some(invocation) = shared.queue.lock().await.recv().await else {
        return (StatusCode::GONE, HeaderMap::new(), String::new());
    };
    let deadline_ms = epoch_ms() + invocation.deadline.as_millis();
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: String| {
        headers.insert(name, HeaderValue::from_str(&value).expect("header value"));
    };
    put("lambda-runtime-aws-request-id", invocation.id.clone());
    put("lambda-runtime-deadline-ms", deadline_ms.to_string());
    put(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-2:123456789012:function:dash-events".into(),
    );
    put(
        "lambda-runtime-trace-id",
        "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1".into(),
    );
    put("content-type", "application/json".into());
    shared
        .waiting
        .lock()
        .await
        .insert(invocation.id, (invocation.answer, deadline_ms));
    (StatusCode::OK, headers, invocation.event.to_string())
}

/// Now, in milliseconds since the Unix epoch.
fn epoch_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis()
}

async fn response(state: State<Shared>, id: Path<String>, body: Bytes) -> StatusCode {
    settle(state, id, body, Outcome::Response).await
}

async fn error(state: State<Shared>, id: Path<String>, body: Bytes) -> StatusCode {
    settle(state, id, body, Outcome::Error).await
}

async fn settle(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
    outcome: fn(Value) -> Outcome,
) -> StatusCode {
    let answered_ms = epoch_ms();
    let Some((answer, deadline_ms)) = shared.waiting.lock().await.remove(&id) else {
        return StatusCode::BAD_REQUEST;
    };
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    let timing = Timing {
        deadline_ms,
        answered_ms,
    };
    let _ = answer.send((outcome(value), timing));
    StatusCode::ACCEPTED
}

async fn init_error(body: Bytes) -> StatusCode {
    eprintln!(
        "the function reported an init error: {}",
        String::from_utf8_lossy(&body)
    );
    StatusCode::ACCEPTED
}
