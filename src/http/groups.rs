//! `GET /stats/groups`: events, cost and durations per agent, swarm, workflow, instance, webhook,
//! type or day, read by the store in parts (`store::groups`), added up, ordered and cut into a
//! page by the pure functions of `groups`.

use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};

use super::AppState;
use super::audit_params::AuditIdParams;
use super::openapi::ErrorBody;
use crate::error::AppError;
use crate::groups::{self, GroupPage};
use crate::query::GroupParams;
use crate::store::{Measures, Scope};

/// The groups route (behind the bearer token, see `auth`).
pub fn router() -> Router<AppState> {
    Router::new().route("/stats/groups", get(get_groups))
}

/// Events, cost and durations per group, largest first.
///
/// Groups are computed whole for each page, then cut: their number is bounded by the number of
/// distinct keys in the window, never by the number of events. Also takes `data.<field>=<value>`
/// filters (equality on a top-level field of `data`; unindexed, so they need `since` and a window
/// of at most 31 days).
#[utoipa::path(get, path = "/stats/groups", tag = "query",
    params(
        ("by" = String, Query, pattern = "^(agentId|swarmId|workflowId|instanceId|webhookId|type|day)$",
            description = "What to group by: an id (`data.agentId`, `data.swarmId`, `data.workflowId`, the top-level `instanceId` or `webhookId`), the event type, or the UTC day"),
        ("sort" = Option<String>, Query, pattern = "^(cost|events)$",
            description = "`cost` (default): summed cost descending, then events; `events`: events descending, then cost; ties by key, the group without a key last"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "Groups per page, default 100"),
        ("cursor" = Option<String>, Query, min_length = 1, description = "nextCursor of the previous page"),
        ("type" = Option<String>, Query, pattern = "^[^,]+(,[^,]+)*$",
            description = "Only these types, comma-separated (at most 50; none empty)"),
        ("since" = Option<String>, Query, format = DateTime, description = "RFC 3339; timestamp at or after"),
        ("until" = Option<String>, Query, format = DateTime, description = "RFC 3339; timestamp before"),
        AuditIdParams,
    ),
    responses(
        (status = 200, body = GroupPage),
        (status = 400, description = "A parameter is invalid (the message names it)", body = ErrorBody),
        (status = 401, description = "Bearer token missing or wrong", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn get_groups(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<GroupPage>, AppError> {
    let params = GroupParams::parse(query.as_deref())?;
    let now_us = state.config.clock.now_us();
    params.filters.check_window(&params.range, now_us)?;
    let scope = Scope {
        range: params.range,
        types: &params.types,
        filters: &params.filters,
        measures: Measures::All,
    };
    let all = state.store.groups(params.by, scope).await?;
    let limit = params.limit as usize;
    let (groups, next) = groups::page(all, params.sort, params.cursor.as_ref(), limit);
    Ok(Json(GroupPage {
        by: params.by.name(),
        groups,
        next_cursor: next.map(|cursor| cursor.encode()),
    }))
}
