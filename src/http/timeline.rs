//! `GET /stats/timeline`: the chart data of the web page, counted by the database.

use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};

use super::AppState;
use super::audit_params::AuditIdParams;
use super::openapi::ErrorBody;
use crate::error::AppError;
use crate::query::TimeRange;
use crate::timeline::{Plan, Timeline, TimelineParams};

/// The timeline route (behind the bearer token, see `auth`).
pub fn router() -> Router<AppState> {
    Router::new().route("/stats/timeline", get(get_timeline))
}

/// Events per type and cost per hour or day.
///
/// Also takes `data.<field>=<value>` filters (equality on a top-level field of `data`; unindexed,
/// so they need `since` and a window of at most 31 days).
#[utoipa::path(get, path = "/stats/timeline", tag = "query",
    params(
        ("type" = Option<String>, Query, pattern = "^[^,]+(,[^,]+)*$",
            description = "Only these types, comma-separated (at most 50; none empty)"),
        ("since" = Option<String>, Query, format = DateTime,
            description = "RFC 3339; timestamp at or after. Default: the oldest matching event"),
        ("until" = Option<String>, Query, format = DateTime,
            description = "RFC 3339; timestamp before. Default: just after the newest matching event"),
        ("bucket" = Option<String>, Query, pattern = "^(hour|day)$",
            description = "`hour` (default) or `day`: whole UTC hours or days; at most 2000 buckets"),
        AuditIdParams,
    ),
    responses(
        (status = 200, body = Timeline),
        (status = 400, description = "A parameter is invalid, or the range holds more than 2000 buckets (the message names `bucket`)", body = ErrorBody),
        (status = 401, description = "Bearer token missing or wrong", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn get_timeline(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Timeline>, AppError> {
    let params = TimelineParams::parse(query.as_deref())?;
    let now_us = state.config.clock.now_us();
    params.filters.check_window(&params.range, now_us)?;
    let types = match params.types.is_empty() {
        true => state.store.known_types().await?,
        false => params.types.iter().map(|t| t.as_bytes().to_vec()).collect(),
    };
    let Some(range) = effective_range(&state, &types, &params).await? else {
        let nothing = Plan::empty(params.width, params.range);
        return Ok(Json(Timeline::assemble(&nothing, Vec::new())));
    };
    let plan = Plan::new(params.width, range)?;
    let rows = state.store.timeline(&types, &plan, &params.filters).await?;
    Ok(Json(Timeline::assemble(&plan, rows)))
}

/// The range as given, with a missing bound taken from the matching events; `None` when one is
/// missing and no event matches.
async fn effective_range(
    state: &AppState,
    types: &[Vec<u8>],
    params: &TimelineParams,
) -> Result<Option<TimeRange>, AppError> {
    if params.bounded() {
        return Ok(Some(params.range));
    }
    let span = state
        .store
        .timestamp_span(types, params.range, &params.filters);
    let Some((oldest, newest)) = span.await? else {
        return Ok(None);
    };
    let given = params.range;
    Ok(Some(TimeRange {
        since_us: if given.since_us == TimeRange::ALL.since_us {
            oldest
        } else {
            given.since_us
        },
        until_us: if given.until_us == TimeRange::ALL.until_us {
            newest + 1
        } else {
            given.until_us
        },
    }))
}
