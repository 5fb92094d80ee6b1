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
use crate::query::{BadParam, pairs};
use crate::retention::now_us;
use crate::store::{NotificationFilter, NotificationRow, Revival};
use crate::token;

/// Largest page.
const MAX_LIMIT: u32 = 500;
/// Page size when `limit` is absent.
const DEFAULT_LIMIT: u32 = 100;
const STATES: [&str; 3] = ["pending", "sent", "dead"];

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
    target: Option<String>,
    /// `pending`, `sent` or `dead`.
    #[schema(pattern = "^(pending|sent|dead)$")]
    state: String,
    /// Attempts made so far.
    attempts: i32,
    /// Why the last attempt failed (e.g. `HTTP 500`, `timed out`).
    last_error: Option<String>,
    /// When a pending notification is tried next; null once sent or dead.
    next_attempt_at: Option<String>,
    created_at: String,
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
    let filter = parse_filter(query.as_deref())?;
    let mut rows = state.store.list_notifications(&filter).await?;
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
    match state.store.retry_notification(number, now_us()).await? {
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
        next_attempt_at: (row.state == "pending").then(|| format_micros(row.next_attempt_us)),
        created_at: format_micros(row.created_us),
        sent_at: row.sent_us.map(format_micros),
        event_id: row.event_id,
        rule: row.rule,
        state: row.state,
        attempts: row.attempts,
        last_error: row.last_error,
    }
}

/// Parses `state`, `limit` and `cursor`; other parameters are ignored, as on `GET /events`.
fn parse_filter(query: Option<&str>) -> Result<NotificationFilter, BadParam> {
    let mut filter = NotificationFilter {
        state: None,
        limit: DEFAULT_LIMIT,
        before_id: None,
    };
    for (key, value) in pairs(query) {
        match key.as_str() {
            "state" if STATES.contains(&value.as_str()) => filter.state = Some(value),
            "state" => return Err(BadParam("state: must be pending, sent or dead".into())),
            "limit" => filter.limit = parse_limit(&value)?,
            "cursor" => filter.before_id = Some(decode_cursor(&value)?),
            _ => {}
        }
    }
    Ok(filter)
}

fn parse_limit(value: &str) -> Result<u32, BadParam> {
    value
        .parse()
        .ok()
        .filter(|n| (1..=MAX_LIMIT).contains(n))
        .ok_or_else(|| {
            BadParam(format!(
                "limit: must be a whole number from 1 to {MAX_LIMIT}"
            ))
        })
}

/// The cursor is the last id of the page, `n<id>` made opaque by the shared codec (`token`).
fn encode_cursor(id: i64) -> String {
    token::encode(format!("n{id}"))
}

fn decode_cursor(text: &str) -> Result<i64, BadParam> {
    let bad = || BadParam("cursor: not a cursor of this endpoint".into());
    let text = token::decode_text(text).map_err(|_| bad())?;
    let digits = text.strip_prefix('n').ok_or_else(bad)?;
    // `i64`'s own parsing, as these cursors have always been read.
    digits
        .parse()
        .ok()
        .filter(|id: &i64| *id > 0)
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_parse_and_bad_ones_name_themselves() {
        let filter = parse_filter(Some("state=dead&limit=5&other=x")).unwrap();
        assert_eq!((filter.state.as_deref(), filter.limit), (Some("dead"), 5));
        let cursor = encode_cursor(42);
        let filter = parse_filter(Some(&format!("cursor={cursor}"))).unwrap();
        assert_eq!(filter.before_id, Some(42));
        for (query, word) in [
            ("state=gone", "state"),
            ("state=", "state"),
            ("limit=0", "limit"),
            ("limit=501", "limit"),
            ("limit=x", "limit"),
            ("cursor=", "cursor"),
            ("cursor=bjA", "cursor"),
            ("cursor=%21", "cursor"),
        ] {
            let err = parse_filter(Some(query)).expect_err(query);
            assert!(err.0.starts_with(word), "{query}: {}", err.0);
        }
    }

    /// Cursors made before the shared token codec: the same text encodes and decodes the same.
    #[test]
    fn known_cursors_are_pinned() {
        for (id, text) in [(42, "bjQy"), (i64::MAX, "bjkyMjMzNzIwMzY4NTQ3NzU4MDc")] {
            assert_eq!(encode_cursor(id), text);
            assert_eq!(decode_cursor(text), Ok(id));
        }
    }
}
