//! Request-duration metrics by route, and the last-resort answer if a handler ever panics.

use std::any::Any;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::error::AppError;

/// Times each request and records it under its route template (not its raw path, which would
/// create a series per event id).
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
    state
        .metrics
        .observe_request(&method, &route, response.status().as_u16(), elapsed);
    response
}

/// A panic is a bug; the client still gets a JSON error rather than a dropped connection.
pub fn panic_response(_panic: Box<dyn Any + Send + 'static>) -> Response<Body> {
    AppError::Internal(anyhow::anyhow!("a request handler panicked")).into_response()
}
