//! The query API: `GET /events`, `GET /events/{id}`, `GET /events/{id}/body` and `GET /stats`.
//! Parameters are parsed by pure functions (`query`), the store answers, and stored bodies are
//! rendered as events (or, for `/body`, answered byte for byte).

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;

use super::AppState;
use super::audit_params::AuditIdParams;
use super::openapi::{AuditFilterParams, ErrorBody, Event, EventPage};
use crate::cursor::Cursor;
use crate::error::AppError;
use crate::event::render_event;
use crate::query::{ListParams, StatsParams};
use crate::store::{Stats, StoredEvent};

/// The query routes (behind the bearer token, see `auth`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/events", get(list_events))
        .route("/events/{id}", get(get_event))
        .route("/events/{id}/body", get(get_event_body))
        .route("/stats", get(get_stats))
}

/// Events newest first, filtered and paged.
///
/// `data.<field>=<value>` (the field 1 to 64 of A-Z, a-z, 0-9, `_`, `-`; repeatable) keeps
/// events whose top-level `data` field equals the value: a JSON number compares as a number,
/// `true`/`false` as a boolean, a JSON string literal (`"42"`) as that string, any other text as
/// a string. Repeats of one field OR, different fields AND; at most 20 values in all. It is not
/// indexed, so it needs `since` and a window (to `until`, or now) of at most 31 days.
#[utoipa::path(get, path = "/events", tag = "query",
    params(
        ("type" = Option<String>, Query, pattern = "^[^,]+(,[^,]+)*$",
            description = "Only these types, comma-separated (at most 50; none empty)"),
        ("since" = Option<String>, Query, format = DateTime, description = "RFC 3339; timestamp at or after"),
        ("until" = Option<String>, Query, format = DateTime, description = "RFC 3339; timestamp before"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "Page size, default 100"),
        ("cursor" = Option<String>, Query, min_length = 1, description = "nextCursor of the previous page"),
        AuditFilterParams,
    ),
    responses(
        (status = 200, body = EventPage),
        (status = 400, description = "A parameter is invalid", body = ErrorBody),
        (status = 401, description = "Bearer token missing or wrong", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn list_events(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, AppError> {
    let params = ListParams::parse(query.as_deref())?;
    params
        .filters
        .check_window(&params.range, state.config.clock.now_us())?;
    let mut rows = state.store.list_events(&params).await?;
    let next_cursor = take_next_cursor(&mut rows, params.limit as usize);
    let events = rows.iter().map(render).collect::<Result<Vec<_>, _>>()?;
    Ok(Json(
        serde_json::json!({ "events": events, "nextCursor": next_cursor }),
    ))
}

/// One event by id.
#[utoipa::path(get, path = "/events/{id}", tag = "query",
    params(("id" = String, Path, description = "The event id")),
    responses(
        (status = 200, body = Event),
        (status = 400, description = "The id is not valid UTF-8", body = ErrorBody),
        (status = 401, description = "Bearer token missing or wrong", body = ErrorBody),
        (status = 404, description = "No event with this id", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn get_event(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, AppError> {
    let row = find_event(&state, id).await?;
    Ok(Json(render(&row)?))
}

/// The exact bytes Dash signed for one event, as stored.
#[utoipa::path(get, path = "/events/{id}/body", tag = "query",
    params(("id" = String, Path, description = "The event id")),
    responses(
        (status = 200, description = "The signed request body, byte for byte", content_type = "application/json", body = Object),
        (status = 400, description = "The id is not valid UTF-8", body = ErrorBody),
        (status = 401, description = "Bearer token missing or wrong", body = ErrorBody),
        (status = 404, description = "No event with this id", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn get_event_body(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, AppError> {
    let row = find_event(&state, id).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], row.body).into_response())
}

async fn find_event(
    state: &AppState,
    id: Result<Path<String>, PathRejection>,
) -> Result<StoredEvent, AppError> {
    let Path(id) = id.map_err(|err| AppError::BadRequest(format!("id: {}", err.body_text())))?;
    let not_found = || AppError::NotFound(format!("no event with id {id:?}"));
    // Ids with control characters are refused on receipt, so none is stored (and PostgreSQL
    // could not even compare one holding NUL).
    if id.chars().any(char::is_control) {
        return Err(not_found());
    }
    state.store.get_event(&id).await?.ok_or_else(not_found)
}

/// Counts, cost and duration over a time window.
///
/// Also takes `data.<field>=<value>` filters (equality on a top-level field of `data`; unindexed,
/// so they need `since` and a window of at most 31 days).
#[utoipa::path(get, path = "/stats", tag = "query",
    params(
        ("since" = Option<String>, Query, format = DateTime, description = "RFC 3339; timestamp at or after"),
        ("until" = Option<String>, Query, format = DateTime, description = "RFC 3339; timestamp before"),
        AuditIdParams,
    ),
    responses(
        (status = 200, body = Stats),
        (status = 400, description = "A parameter is invalid", body = ErrorBody),
        (status = 401, description = "Bearer token missing or wrong", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn get_stats(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Stats>, AppError> {
    let params = StatsParams::parse(query.as_deref())?;
    let now_us = state.config.clock.now_us();
    params.filters.check_window(&params.range, now_us)?;
    let stats = state.store.filtered_stats(params.range, &params.filters);
    Ok(Json(stats.await?))
}

/// Drops the look-ahead row and, if there was one, returns the cursor after the page's last row.
fn take_next_cursor(rows: &mut Vec<StoredEvent>, limit: usize) -> Option<String> {
    if rows.len() <= limit {
        return None;
    }
    rows.truncate(limit);
    rows.last().map(|last| {
        Cursor {
            timestamp_us: last.ts_us,
            id: last.id.clone(),
        }
        .encode()
    })
}

fn render(row: &StoredEvent) -> Result<Value, AppError> {
    render_event(&row.body, row.received_us).map_err(|err| {
        AppError::Internal(
            anyhow::Error::new(err).context(format!("stored body of {} is not JSON", row.id)),
        )
    })
}
