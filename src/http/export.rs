//! `GET /events/export`: every event matching the filters of `GET /events`, newest first, as an
//! NDJSON body streamed page by page (see `crate::export`). The body is sent with chunked
//! transfer encoding; if the database fails after the head was sent, the connection is closed
//! without the final chunk, so the client sees a truncated transfer rather than a short file.

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt;

use super::AppState;
use super::events::{SEARCH_DOC, refuse_search_when_off};
use super::openapi::{AuditFilterParams, ErrorBody, Event};
use crate::error::AppError;
use crate::export;
use crate::query::ListParams;

/// The media type of the export: one JSON value per line.
pub const NDJSON: &str = "application/x-ndjson";

/// The export route (behind the bearer token, see `auth`).
pub fn router() -> Router<AppState> {
    Router::new().route("/events/export", get(export_events))
}

/// Every matching event, newest first, one JSON event per line.
///
/// `data.<field>=<value>` (the field 1 to 64 of A-Z, a-z, 0-9, `_`, `-`; repeatable) keeps
/// events whose top-level `data` field equals the value: a JSON number compares as a number,
/// `true`/`false` as a boolean, a JSON string literal (`"42"`) as that string, any other text as
/// a string. Repeats of one field OR, different fields AND; at most 20 values in all. It is not
/// indexed, so it needs `since` and a window (to `until`, or now) of at most 31 days.
#[utoipa::path(get, path = "/events/export", tag = "query",
    params(
        ("type" = Option<String>, Query, pattern = "^[^,]+(,[^,]+)*$",
            description = "Only these types, comma-separated (at most 50; none empty)"),
        ("since" = Option<String>, Query, format = DateTime, description = "RFC 3339; timestamp at or after"),
        ("until" = Option<String>, Query, format = DateTime, description = "RFC 3339; timestamp before"),
        AuditFilterParams,
        ("q" = Option<String>, Query, min_length = 1, max_length = 200, description = SEARCH_DOC),
    ),
    responses(
        (status = 200, content_type = "application/x-ndjson", body = Event,
            description = "One event per line (NDJSON), newest first; a transfer cut short means the export failed"),
        (status = 400, description = "A parameter is invalid, or limit / cursor was given", body = ErrorBody),
        (status = 401, description = "Bearer token missing or wrong", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn export_events(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let params = ListParams::parse_export(query.as_deref())?;
    params
        .filters
        .check_window(&params.range, state.config.clock.now_us())?;
    refuse_search_when_off(&state, &params)?;
    let mut pages = Box::pin(export::pages(state.store.clone(), params));
    // The first page is read before the head is sent, so that a database that is down still
    // answers 503 rather than 200 with an empty body.
    let first = pages.next().await.transpose()?;
    let body = futures_util::stream::iter(first.map(Ok))
        .chain(pages)
        .map(|page| {
            page.map(|page| page.ndjson).inspect_err(|err| {
                tracing::error!(error = ?err, "export failed after its head was sent; cutting the transfer");
            })
        });
    Ok(([(header::CONTENT_TYPE, NDJSON)], Body::from_stream(body)).into_response())
}
