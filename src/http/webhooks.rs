//! `POST /webhooks/dash`: size, content type, signature (on the raw bytes), validation, the
//! retention window, then the commit — in that order, the first failure deciding the answer. Only a committed (or already
//! stored) event is acknowledged with 200.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::AppState;
use crate::error::AppError;
use crate::event::{NewEvent, parse_delivery};
use crate::signature::{self, SignatureError};
use crate::store::InsertOutcome;

/// The header Dash signs with.
pub const SIGNATURE_HEADER: &str = "x-dash-signature";

/// The answer to an accepted delivery.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Receipt {
    /// Always true.
    pub received: bool,
    /// True when this id was already stored with the same content.
    pub duplicate: bool,
    /// The event id.
    pub id: String,
}

/// The webhook route.
pub fn router() -> Router<AppState> {
    Router::new().route("/webhooks/dash", post(receive_webhook))
}

/// Receives one delivery from Dash.
#[utoipa::path(post, path = "/webhooks/dash", tag = "webhooks",
    request_body(content = super::openapi::Delivery, content_type = "application/json",
        description = "A Dash event, signed in X-Dash-Signature"),
    params(("X-Dash-Signature" = String, Header, description = "sha256=<hex HMAC-SHA256 of the body>")),
    responses(
        (status = 200, description = "Stored now, or already stored with the same content", body = Receipt),
        (status = 400, description = "Not JSON, or a field missing or invalid", body = super::openapi::ErrorBody),
        (status = 401, description = "Signature missing, malformed or not matching", body = super::openapi::ErrorBody),
        (status = 408, description = "The body did not arrive within 15 s", body = super::openapi::ErrorBody),
        (status = 409, description = "The id is stored with other content", body = super::openapi::ErrorBody),
        (status = 413, description = "Body larger than MAX_BODY_BYTES", body = super::openapi::ErrorBody),
        (status = 415, description = "Content-Type is not JSON", body = super::openapi::ErrorBody),
        (status = 422, description = "With RETENTION_DAYS set: the timestamp is older than the retention window; not stored", body = super::openapi::ErrorBody),
        (status = 503, description = "The database cannot take the write; retry", body = super::openapi::ErrorBody),
    ))]
pub async fn receive_webhook(State(state): State<AppState>, request: Request) -> Response {
    let _in_flight = state.metrics.delivery_in_flight();
    let event = match verified_event(&state, request).await {
        Ok(event) => event,
        Err(rejection) => {
            state.metrics.rejected(rejection_reason(&rejection));
            tracing::warn!(reason = %rejection, "delivery rejected");
            return rejection.into_response();
        }
    };
    let (id, event_type) = (event.id.clone(), event.event_type.clone());
    match state.writer.write(event, state.config.clock.now_us()).await {
        Ok(outcome) => {
            state.metrics.received(&event_type, outcome);
            tracing::debug!(event_id = %id, outcome = outcome.as_str(), "delivery received");
            answer(outcome, id)
        }
        Err(err) => {
            state.metrics.rejected("unavailable");
            AppError::commit_failed(err).into_response()
        }
    }
}

async fn verified_event(state: &AppState, request: Request) -> Result<NewEvent, AppError> {
    let (parts, body) = request.into_parts();
    let deadline = state.config.limits.body_read_timeout;
    let body = read_limited(body, &parts.headers, state.config.max_body_bytes, deadline).await?;
    check_content_type(&parts.headers)?;
    let header = parts.headers.get(SIGNATURE_HEADER).map(|v| v.as_bytes());
    let digest = signature::verified_digest(&state.config.webhook_secrets(), header, &body)?;
    let mut event = parse_delivery(body)?;
    if let Some(window) = &state.retention {
        // Prune deletes only events outside the window, so refusing those here is what keeps a
        // replayed delivery of a pruned event from coming back.
        if window.is_expired(event.timestamp_us) {
            return Err(AppError::Expired(window.days()));
        }
    }
    event.signature = Some(digest);
    Ok(event)
}

/// Reads the whole body, at most `limit` bytes within `deadline`. The deadline covers the whole
/// body, not each piece of it, so a body trickled a byte at a time is cut off too (tower-http's
/// `RequestBodyTimeoutLayer` restarts its timer at every frame, and its error is no 408).
async fn read_limited(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
    deadline: Duration,
) -> Result<Bytes, AppError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // Refuse a declared oversize body without reading it; a streamed one is cut at the limit.
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(AppError::PayloadTooLarge(limit));
    }
    let read = tokio::time::timeout(deadline, Limited::new(body, limit).collect());
    match read.await.map_err(|_| AppError::RequestTimeout(deadline))? {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => {
            Err(AppError::PayloadTooLarge(limit))
        }
        Err(_) => Err(AppError::BadRequest(
            "the request body could not be read".into(),
        )),
    }
}

/// `application/json`, any parameters, or a `+json` structured-syntax type.
fn check_content_type(headers: &HeaderMap) -> Result<(), AppError> {
    let essence = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .ok_or(AppError::UnsupportedMediaType)?;
    let is_json = essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"));
    if is_json {
        Ok(())
    } else {
        Err(AppError::UnsupportedMediaType)
    }
}

fn answer(outcome: InsertOutcome, id: String) -> Response {
    match outcome {
        InsertOutcome::Stored => Json(Receipt {
            received: true,
            duplicate: false,
            id,
        })
        .into_response(),
        InsertOutcome::Duplicate => Json(Receipt {
            received: true,
            duplicate: true,
            id,
        })
        .into_response(),
        InsertOutcome::Conflict => AppError::Conflict(format!(
            "event {id} is already stored with different content; the stored event was kept"
        ))
        .into_response(),
    }
}

fn rejection_reason(rejection: &AppError) -> &'static str {
    match rejection {
        AppError::PayloadTooLarge(_) => "body_too_large",
        AppError::UnsupportedMediaType => "unsupported_media_type",
        AppError::RequestTimeout(_) => "body_timeout",
        AppError::Signature(SignatureError::Missing) => "missing_signature",
        AppError::Signature(_) => "invalid_signature",
        AppError::Expired(_) => "expired",
        _ => "invalid_payload",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_type(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn json_content_types_are_accepted() {
        for value in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/vnd.dash+json",
        ] {
            assert!(check_content_type(&with_type(value)).is_ok(), "{value}");
        }
    }

    #[test]
    fn other_content_types_are_refused() {
        for value in [
            "text/plain",
            "application/jsonx",
            "text/json",
            "multipart/form-data",
            "",
        ] {
            assert!(check_content_type(&with_type(value)).is_err(), "{value}");
        }
        assert!(check_content_type(&HeaderMap::new()).is_err());
    }
}
