//! `GET /events/export`: every event matching the filters of `GET /events`, newest first, as an
//! NDJSON or CSV body streamed page by page (see `crate::export`), offered as a file to save.
//! The body is sent with chunked transfer encoding; if the database fails after the head was
//! sent, the connection is closed without the final chunk, so the client sees a truncated
//! transfer rather than a short file.

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt;

use super::AppState;
use super::events::{SEARCH_DOC, refuse_search_when_off};
use super::openapi::{AuditFilterParams, ErrorBody, Event};
use crate::error::AppError;
use crate::export::{self, Format};
use crate::query::ListParams;

/// The export route (behind the bearer token, see `auth`).
pub fn router() -> Router<AppState> {
    Router::new().route("/events/export", get(export_events))
}

/// Every matching event, newest first, one JSON event per line or one CSV row per event.
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
        ("format" = Option<String>, Query, pattern = "^(ndjson|csv)$",
            description = "`ndjson` (default): one event per line; `csv`: a header row \
                (id,type,timestamp,receivedAt,agentId,swarmId,workflowId,instanceId,webhookId,cost,durationMs,data), \
                then one row per event"),
    ),
    responses(
        (status = 200, content((Event = "application/x-ndjson"), (String = "text/csv")),
            headers(("content-disposition" = String,
                description = "`attachment; filename=\"dash-events-<UTC time>.<ndjson|csv>\"`")),
            description = "Newest first, one event per line (NDJSON) or per CSV row; a transfer cut short means the export failed"),
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
    let format = Format::parse(query.as_deref())?;
    let mut pages = Box::pin(export::pages(state.store.clone(), params, format));
    // The first page is read before the head is sent, so that a database that is down still
    // answers 503 rather than 200 with an empty body.
    let first = pages.next().await.transpose()?;
    let body = futures_util::stream::iter(first.map(Ok))
        .chain(pages)
        .map(|page| {
            page.map(|page| page.bytes).inspect_err(|err| {
                tracing::error!(error = ?err, "export failed after its head was sent; cutting the transfer");
            })
        });
    let head = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        ),
        (header::CONTENT_DISPOSITION, attachment(format)),
    ];
    Ok((head, Body::from_stream(body)).into_response())
}

/// Offers the export as a file named for the format and the time it was asked for, so that a
/// browser following a link saves it (streaming it to disk) rather than showing it.
fn attachment(format: Format) -> HeaderValue {
    let at = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let value = format!(
        "attachment; filename=\"dash-events-{at}.{}\"",
        format.extension()
    );
    // Digits, letters and quotes: always valid header text, but no panic on a request path.
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("attachment"))
}
