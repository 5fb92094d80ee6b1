//! The HTTP layer: shared state, the router with its middleware stack, and the shutdown signal.
//! Each resource has its own module exporting `router()`; handlers only glue extractors to the
//! pure functions and the store.

mod audit_params;
mod auth;
mod download_link;
mod events;
mod export;
mod groups;
mod health;
mod notifications;
mod openapi;
mod server;
mod stream;
mod timeline;
mod timing;
pub mod tls;
mod web;
mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{self, State};
use axum::http::{HeaderName, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use openapi::ApiDoc;
pub use server::serve_connections;

use crate::config::Config;
use crate::error::AppError;
use crate::ingest::{BatchWriter, WriterSettings};
use crate::metrics::Metrics;
use crate::notify::Outbox;
use crate::store::{Store, StoreError};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The event store, for queries.
    pub store: Store,
    /// The group-commit writers, for deliveries.
    pub writer: BatchWriter,
    /// The configuration `serve` started with.
    pub config: Arc<Config>,
    /// The metrics registry.
    pub metrics: Metrics,
    /// The notification rules, and the bell that wakes the worker after an operator's retry.
    pub outbox: Outbox,
    /// The retention window deliveries are checked against, when `RETENTION_DAYS` is set.
    pub retention: Option<crate::retention::Window>,
    /// Becomes true when shutdown begins, so that endless answers (live streams) end.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

/// The whole application: every route, its middleware and its state.
pub fn router(state: AppState) -> Router {
    let request_timeout = state
        .config
        .limits
        .request_timeout(WriterSettings::for_store(&state.store).write_timeout);
    let query_api = events::router()
        .merge(timeline::router())
        .merge(groups::router())
        .merge(stream::router())
        .merge(export::router())
        .merge(download_link::router())
        .merge(notifications::router())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_api_token,
        ));
    Router::new()
        .merge(webhooks::router())
        .merge(query_api)
        .merge(health::router())
        .merge(web::router())
        .fallback(|| async { AppError::NotFound("no such endpoint".into()) })
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .layer(middleware::from_fn_with_state(
            request_timeout,
            limit_request_time,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            timing::record_duration,
        ))
        .layer(
            ServiceBuilder::new()
                .map_request(drop_unusable_request_id)
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(request_span))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(CatchPanicLayer::custom(timing::panic_response)),
        )
        .with_state(state)
}

/// Answers 503 with `Retry-After` for a request still unanswered after `limit`
/// (`Limits::request_timeout`), so that no request hangs forever.
async fn limit_request_time(
    State(limit): State<Duration>,
    request: extract::Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        // The body has a shorter bound of its own (408), so a request this late is waiting on
        // the database: a query stuck behind a lock, say. Deliveries answer before this fires.
        Err(_elapsed) => AppError::from(StoreError::Timeout(limit)).into_response(),
    }
}

/// Longest request id taken from a client; a longer one would be copied into every log line.
const MAX_REQUEST_ID_LEN: usize = 128;

/// Removes a client's `x-request-id` that could not be logged exactly as it is answered (not
/// visible ASCII, or too long), so that a fresh one is made: the id in the logs and the one in
/// the response header are always the same.
fn drop_unusable_request_id<B>(mut request: Request<B>) -> Request<B> {
    let usable = |value: &axum::http::HeaderValue| {
        let bytes = value.as_bytes();
        !bytes.is_empty()
            && bytes.len() <= MAX_REQUEST_ID_LEN
            && bytes.iter().all(|b| b.is_ascii_graphic())
    };
    let values = request.headers().get_all(REQUEST_ID);
    let mut values = values.iter();
    let keep = matches!((values.next(), values.next()), (Some(value), None) if usable(value));
    if !keep {
        request.headers_mut().remove(REQUEST_ID);
    }
    request
}

fn request_span<B>(request: &Request<B>) -> tracing::Span {
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!("request", method = %request.method(), uri = %request.uri().path(), request_id)
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
