//! Request-duration metrics by route, one log line per answered request (inside the request's
//! span, so it carries the request id), and the last-resort answer if a handler ever panics.

use std::any::Any;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::error::AppError;

/// Times each request, records it under its route template (not its raw path, which would
/// create a series per event id), and logs it: at info, but at debug for the health checks and
/// metrics scrapes that would otherwise drown the log.
pub async fn record_duration(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let response = next.run(request).await;
    let elapsed = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    state
        .metrics
        .observe_request(&method, &route, status, elapsed);
    let latency_ms = elapsed * 1000.0;
    if matches!(route.as_str(), "/healthz" | "/readyz" | "/metrics") {
        tracing::debug!(status, route, latency_ms, "answered");
    } else {
        tracing::info!(status, route, latency_ms, "answered");
    }
    response
}

/// A panic is a bug; the client still gets a JSON error rather than a dropped connection.
pub fn panic_response(_panic: Box<dyn Any + Send + 'static>) -> Response<Body> {
    AppError::Internal(anyhow::anyhow!("a request handler panicked")).into_response()
}
