//! A Server-Sent Events client for `GET /events/stream`, written from the SSE format itself:
//! messages are blocks of lines ended by a blank line, `id:` and `data:` fields, `:` comments.
//! Its HTTP client has no overall timeout (a stream is endless); every read is bounded instead.
//! The head of every answer and the `data:` of every message are checked against the OpenAPI
//! document (`support::openapi`).

use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Client, Response};
use serde_json::Value;

use crate::support::http::Http;
use crate::support::openapi::contract;

/// How long a test waits for one more message unless it says otherwise. A message follows its
/// commit within milliseconds on the receiver that stored it, and within the 1 s poll on another;
/// on PostgreSQL only once every older transaction on the server has ended, which is why the
/// PostgreSQL stream tests have a cluster of their own (`stream`), where no test keeps one open.
pub const MESSAGE_TIMEOUT: Duration = Duration::from_secs(30);

/// One message of the stream.
#[derive(Debug, Clone)]
pub struct Message {
    /// The `id:` field: the stream position.
    pub id: String,
    /// The `data:` field, parsed as JSON.
    pub data: Value,
}

impl Message {
    /// The event id inside the data.
    pub fn event_id(&self) -> String {
        self.data["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no event id in {}", self.data))
            .to_owned()
    }
}

/// What reading the stream gave.
#[derive(Debug)]
pub enum Next {
    Message(Message),
    /// A `:` comment (the keep-alive).
    Comment,
    /// The server ended the answer: the chunked body's last chunk arrived.
    Ended,
    /// The connection failed or closed before the answer was complete (the process exited, say).
    Cut(String),
    TimedOut,
}

/// An open stream.
pub struct SseStream {
    response: Response,
    buffer: Vec<u8>,
}

/// A loopback client without an overall timeout.
fn client() -> Client {
    Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .expect("build the SSE client")
}

/// `GET /events/stream` with `query`, the app's token (if any) and `Last-Event-ID` (if given).
pub async fn request(app: &Http, query: &[(&str, &str)], last_event_id: Option<&str>) -> Response {
    let mut request = client()
        .get(app.url("/events/stream"))
        .query(query)
        .header(ACCEPT, "text/event-stream");
    if let Some(token) = app.token() {
        request = request.header(AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    // Checked against the OpenAPI document; the body is read only when it is not the stream.
    tokio::time::timeout(Duration::from_secs(30), app.send(request))
        .await
        .expect("the stream's head within 30 s")
}

impl SseStream {
    /// Opens a stream that must answer 200 `text/event-stream`.
    pub async fn open(app: &Http, query: &[(&str, &str)], last_event_id: Option<&str>) -> Self {
        let response = request(app, query, last_event_id).await;
        let status = response.status().as_u16();
        let content_type = response.headers().get(CONTENT_TYPE).cloned();
        if status != 200 {
            let body = response.text().await.unwrap_or_default();
            panic!("GET /events/stream answered {status}: {body}");
        }
        assert_eq!(
            content_type.as_ref().and_then(|v| v.to_str().ok()),
            Some("text/event-stream"),
            "content type of the stream"
        );
        SseStream {
            response,
            buffer: Vec::new(),
        }
    }

    /// The next message, comment or end, waiting at most `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Next {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(block) = self.take_block() {
                match parse_block(&block) {
                    Some(next) => return next,
                    None => continue,
                }
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Err(_) => return Next::TimedOut,
                Ok(Ok(Some(chunk))) => self.buffer.extend_from_slice(&chunk),
                Ok(Ok(None)) => return Next::Ended,
                Ok(Err(err)) => return Next::Cut(format!("{err:?}")),
            }
        }
    }

    /// The next message within `timeout`, skipping comments; panics on the end of the stream or
    /// when the time is up (keep-alive comments do not extend it).
    pub async fn message(&mut self, timeout: Duration) -> Message {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Next::Message(message) => return message,
                Next::Comment => continue,
                other => panic!("expected a message within {timeout:?}, got {other:?}"),
            }
        }
    }

    /// Messages until `done` holds for the ones received (each within `MESSAGE_TIMEOUT`).
    pub async fn messages_until(
        &mut self,
        mut done: impl FnMut(&[Message]) -> bool,
    ) -> Vec<Message> {
        let mut received = Vec::new();
        for _ in 0..100_000 {
            if done(&received) {
                return received;
            }
            received.push(self.message(MESSAGE_TIMEOUT).await);
        }
        panic!("more than 100000 messages");
    }

    /// Asserts that no message arrives within `quiet` (comments are fine).
    pub async fn assert_no_message(&mut self, quiet: Duration) {
        let deadline = tokio::time::Instant::now() + quiet;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Next::TimedOut => return,
                Next::Comment => continue,
                Next::Message(message) => panic!("unexpected message {message:?}"),
                Next::Ended | Next::Cut(_) => panic!("the stream ended"),
            }
        }
    }

    /// One complete block (up to a blank line), without its terminator. Searched in bytes, so a
    /// character split across two chunks is only decoded once whole.
    fn take_block(&mut self) -> Option<String> {
        let end = self.buffer.windows(2).position(|pair| pair == b"\n\n")?;
        let block = String::from_utf8(self.buffer[..end].to_vec()).expect("the stream is UTF-8");
        self.buffer.drain(..end + 2);
        Some(block)
    }
}

/// A message, a comment, or `None` for a block with neither.
fn parse_block(block: &str) -> Option<Next> {
    let (mut id, mut data, mut comment) = (None, Vec::new(), false);
    for line in block.lines() {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "" => comment = true,
            "id" => id = Some(value.to_owned()),
            "data" => data.push(value),
            "event" => panic!("the stream sent an `event:` field: {block:?}"),
            _ => {}
        }
    }
    if data.is_empty() {
        return comment.then_some(Next::Comment);
    }
    let data = data.join("\n");
    let data = serde_json::from_str(&data)
        .unwrap_or_else(|err| panic!("data is not JSON ({err}): {data}"));
    if let Err(problem) = contract().check_stream_data(&data) {
        panic!("a stream message is not an Event of /openapi.json: {problem}\n{data}");
    }
    let id = id.unwrap_or_else(|| panic!("a message without id: {block:?}"));
    Some(Next::Message(Message { id, data }))
}
