//! The notification outbox for operators: `GET /notifications` lists deliveries newest first
//! with their state and attempts, and `POST /notifications/{id}/retry` gives a dead one another
//! round of attempts. Target URLs are never shown: only the rule's name and kind.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::openapi::ErrorBody;
use crate::error::AppError;
use crate::event::format_micros;
use crate::query::notifications::encode_cursor;
use crate::store::{NotificationFilter, NotificationRow, NotificationState, Revival};

/// One notification.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    id: i64,
    event_id: String,
    /// Null once the event is no longer stored.
    event_type: Option<String>,
    /// The rule's name.
    rule: String,
    /// `slack` or `webhook`; null when the rule is no longer configured.
    #[schema(pattern = "^(slack|webhook)$")]
    target: Option<String>,
    /// `pending`, `sent` or `dead`.
    #[schema(pattern = "^(pending|sent|dead)$")]
    state: String,
    /// Attempts made so far.
    attempts: i32,
    /// Why the last attempt failed (e.g. `HTTP 500`, `timed out`).
    last_error: Option<String>,
    /// When a pending notification is tried next; null once sent or dead.
    #[schema(format = DateTime)]
    next_attempt_at: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    sent_at: Option<String>,
}

/// A page of `GET /notifications`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationPage {
    notifications: Vec<Notification>,
    /// Pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<String>,
}

/// The notification routes (behind the bearer token, see `auth`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/notifications", get(list_notifications))
        .route("/notifications/{id}/retry", post(retry_notification))
}

/// Notifications newest first, optionally of one state, paged.
#[utoipa::path(get, path = "/notifications", tag = "notifications",
    params(
        ("state" = Option<String>, Query, pattern = "^(pending|sent|dead)$", description = "Only this state"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "Page size, default 100"),
        ("cursor" = Option<String>, Query, min_length = 1, description = "nextCursor of the previous page"),
    ),
    responses(
        (status = 200, body = NotificationPage),
        (status = 400, description = "A parameter is invalid", body = ErrorBody),
        (status = 401, description = "Bearer token missing or wrong", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn list_notifications(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<NotificationPage>, AppError> {
    let filter = NotificationFilter::parse(query.as_deref())?;
    // The primary: an operator's retry must show in the listing that follows it.
    let mut rows = state.store.primary().list_notifications(&filter).await?;
    let next_cursor = (rows.len() > filter.limit as usize).then(|| {
        rows.truncate(filter.limit as usize);
        rows.last().map(|last| encode_cursor(last.id))
    });
    let notifications = rows.into_iter().map(|row| render(&state, row)).collect();
    Ok(Json(NotificationPage {
        notifications,
        next_cursor: next_cursor.flatten(),
    }))
}

/// Makes a dead notification pending again, due now, with its attempts reset.
#[utoipa::path(post, path = "/notifications/{id}/retry", tag = "notifications",
    params(("id" = i64, Path, minimum = 1, description = "The notification id")),
    responses(
        (status = 200, description = "Pending again", body = Notification),
        (status = 400, description = "The id is not valid UTF-8", body = ErrorBody),
        (status = 401, description = "Bearer token missing or wrong", body = ErrorBody),
        (status = 404, description = "No notification with this id", body = ErrorBody),
        (status = 409, description = "The notification is not dead", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn retry_notification(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Notification>, AppError> {
    let Path(id) = id.map_err(|err| AppError::BadRequest(format!("id: {}", err.body_text())))?;
    let not_found = || AppError::NotFound(format!("no notification with id {id:?}"));
    let number: i64 = id.parse().ok().filter(|n| *n > 0).ok_or_else(not_found)?;
    match state
        .store
        .retry_notification(number, state.config.clock.now_us())
        .await?
    {
        Revival::Revived(row) => {
            state.outbox.wake.notify_one();
            Ok(Json(render(&state, row)))
        }
        Revival::NotDead => Err(AppError::Conflict(format!(
            "notification {number} is not dead"
        ))),
        Revival::NotFound => Err(not_found()),
    }
}

fn render(state: &AppState, row: NotificationRow) -> Notification {
    let target = state
        .config
        .notify
        .rules
        .get(&row.rule)
        .map(|rule| rule.target.kind().to_owned());
    Notification {
        id: row.id,
        event_type: row
            .event_type
            .map(|t| String::from_utf8_lossy(&t).into_owned()),
        target,
        next_attempt_at: (row.state == NotificationState::Pending)
            .then(|| format_micros(row.next_attempt_us)),
        created_at: format_micros(row.created_us),
        sent_at: row.sent_us.map(format_micros),
        event_id: row.event_id,
        rule: row.rule,
        state: row.state.as_str().to_owned(),
        attempts: row.attempts,
        last_error: row.last_error,
    }
}
