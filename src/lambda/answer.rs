//! One invocation: the request through the router, and the router's answer read whole, because
//! API Gateway takes an answer in one piece. Reading is bounded by `ANSWER_WINDOW` (API Gateway
//! gives up after about 29 s) or by the invocation's own deadline, whichever comes first.
//!
//! - An ordinary answer that fails after its head, does not finish in time or outgrows Lambda's
//!   6 MB response limit becomes an invocation error, which API Gateway answers with 502: a
//!   client never gets a partial body, such as a cut export, that looks whole.
//! - A live stream (`text/event-stream`) never ends by itself. Its answer ends cleanly shortly
//!   after the first messages, or empty at the end of the window; a client resumes with
//!   `Last-Event-ID` (as the web view and `EventSource` do), so this is long polling and no
//!   event is skipped or repeated.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Response, header};
use http_body_util::{BodyExt, Full};
use lambda_http::{Request, RequestExt};
use tokio::time::{Instant, timeout_at};
use tower::ServiceExt;

use super::path;

/// The longest an answer is read for: under API Gateway's integration timeout (29 s by default).
const ANSWER_WINDOW: Duration = Duration::from_secs(25);
/// Left for handing the answer to the Runtime API before the invocation's deadline.
const DEADLINE_MARGIN: Duration = Duration::from_millis(500);
/// Lambda refuses synchronous answers over 6 MB; the JSON envelope needs a little of that.
const MAX_ANSWER_BYTES: usize = 6 * 1024 * 1024 - 64 * 1024;
/// After a stream message, how long to wait for more before answering what came.
const STREAM_GRACE: Duration = Duration::from_millis(200);
/// `lambda_http`'s switch for sending an answer as text whatever its content type.
const TEXT_ANSWER: HeaderName = HeaderName::from_static("x-lambda-http-content-encoding");

/// Answers one API Gateway request with the router.
pub async fn invoke(
    app: Router,
    request: Request,
) -> Result<Response<Full<Bytes>>, lambda_http::Error> {
    let deadline = Instant::now() + window(&request);
    let mut request = request;
    path::strip_stage(&mut request);
    let request = request.map(|body| Body::from(body.to_vec()));
    let response = app.oneshot(request).await?;
    let (mut parts, body) = response.into_parts();
    let bytes = if is_event_stream(&parts.headers) {
        read_stream_window(body, deadline).await?
    } else {
        read_whole(body, deadline).await?
    };
    // `lambda_http` would base64-encode types it does not know as text (the export's NDJSON),
    // and a REST API hands base64 on as it is unless binary media types are set up: every
    // answer here is UTF-8, so it goes as text.
    if std::str::from_utf8(&bytes).is_ok() {
        parts
            .headers
            .insert(TEXT_ANSWER, HeaderValue::from_static("text"));
    }
    Ok(Response::from_parts(parts, Full::new(bytes)))
}

/// `ANSWER_WINDOW`, or less when the invocation's deadline comes sooner.
fn window(request: &Request) -> Duration {
    let left = request.lambda_context_ref().map(|context| {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |now| u64::try_from(now.as_millis()).unwrap_or(u64::MAX));
        Duration::from_millis(context.deadline.saturating_sub(now_ms))
    });
    let left = left.map_or(ANSWER_WINDOW, |left| left.saturating_sub(DEADLINE_MARGIN));
    left.min(ANSWER_WINDOW)
}

fn is_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/event-stream"))
}

/// The whole body, or an error when it fails, is late or is too large for Lambda.
async fn read_whole(mut body: Body, deadline: Instant) -> Result<Bytes, lambda_http::Error> {
    let mut bytes = Vec::new();
    loop {
        let frame = timeout_at(deadline, body.frame())
            .await
            .map_err(|_| "the answer was not complete in time for API Gateway")?;
        let Some(frame) = frame else {
            return Ok(Bytes::from(bytes));
        };
        let frame = frame.map_err(|err| format!("the answer failed after its head: {err}"))?;
        if let Ok(data) = frame.into_data() {
            bytes.extend_from_slice(&data);
        }
        if bytes.len() > MAX_ANSWER_BYTES {
            return Err("the answer is larger than Lambda's 6 MB response limit".into());
        }
    }
}

/// The messages of a live stream that arrive before the window closes: the answer ends
/// `STREAM_GRACE` after the last message (keep-alive comments do not count), or at `deadline`.
async fn read_stream_window(
    mut body: Body,
    deadline: Instant,
) -> Result<Bytes, lambda_http::Error> {
    let mut bytes = Vec::new();
    let mut until = deadline;
    // Ends at `deadline` at the latest, and every message moves `until` forward by a bounded step.
    while let Ok(frame) = timeout_at(until, body.frame()).await {
        let Some(frame) = frame else { break };
        let frame = frame.map_err(|err| format!("the stream failed: {err}"))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if !data.starts_with(b":") {
            until = deadline.min(Instant::now() + STREAM_GRACE);
        }
        bytes.extend_from_slice(&data);
        // Messages end at frame boundaries, so stopping here leaves no message cut.
        if bytes.len() > MAX_ANSWER_BYTES / 2 {
            break;
        }
    }
    Ok(Bytes::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use futures_util::stream;

    fn frames(parts: Vec<Result<&'static str, std::io::Error>>) -> Body {
        Body::from_stream(stream::iter(
            parts.into_iter().map(|part| part.map(Bytes::from)),
        ))
    }

    fn endless() -> Body {
        Body::from_stream(stream::pending::<Result<Bytes, std::io::Error>>())
    }

    #[tokio::test]
    async fn a_whole_answer_is_read() {
        let body = frames(vec![Ok("{\"a\":"), Ok("1}")]);
        let bytes = read_whole(body, Instant::now() + ANSWER_WINDOW)
            .await
            .expect("read");
        assert_eq!(&bytes[..], b"{\"a\":1}");
    }

    #[tokio::test]
    async fn an_answer_failing_after_its_head_is_an_error_not_a_short_body() {
        let broken = std::io::Error::other("database gone");
        let body = frames(vec![Ok("{\"id\":1}\n"), Err(broken)]);
        let err = read_whole(body, Instant::now() + ANSWER_WINDOW)
            .await
            .expect_err("error");
        assert!(err.to_string().contains("after its head"), "{err}");
    }

    #[tokio::test]
    async fn an_endless_answer_is_an_error_at_the_deadline() {
        let err = read_whole(endless(), Instant::now() + Duration::from_millis(100))
            .await
            .expect_err("late");
        assert!(err.to_string().contains("in time"), "{err}");
    }

    #[tokio::test]
    async fn a_stream_answers_the_messages_that_came_then_ends() {
        let frame = |text: &'static str| Ok::<_, std::io::Error>(Bytes::from(text));
        let message = stream::iter([frame("id: s1\ndata: {}\n\n")]);
        let keep_alive = stream::iter([frame(":\n\n")]);
        let body = Body::from_stream(keep_alive.chain(message).chain(stream::pending()));
        let started = Instant::now();
        let bytes = read_stream_window(body, started + ANSWER_WINDOW)
            .await
            .expect("read");
        assert_eq!(&bytes[..], b":\n\nid: s1\ndata: {}\n\n");
        // Ended by the grace after the message, long before the window.
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn a_quiet_stream_ends_empty_at_the_deadline() {
        let window = Duration::from_millis(300);
        let started = Instant::now();
        let bytes = read_stream_window(endless(), started + window)
            .await
            .expect("read");
        assert!(bytes.is_empty());
        assert!(started.elapsed() >= window);
    }

    #[test]
    fn only_event_streams_are_read_as_streams() {
        let mut headers = HeaderMap::new();
        assert!(!is_event_stream(&headers));
        headers.insert(
            header::CONTENT_TYPE,
            "application/x-ndjson".parse().expect("value"),
        );
        assert!(!is_event_stream(&headers));
        headers.insert(
            header::CONTENT_TYPE,
            "text/event-stream".parse().expect("value"),
        );
        assert!(is_event_stream(&headers));
    }
}
