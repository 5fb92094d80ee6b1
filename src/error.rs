//! `AppError`, the one error type of the HTTP layer, and the only place where an error becomes a
//! status code. Every error answer is `{"error": "<what is wrong>"}`. A database that cannot be
//! reached or written answers 503 with `Retry-After`, so Dash retries rather than dropping; a
//! read that fails for a reason a retry cannot mend (a rejected statement, a value that does not
//! decode) is a bug and answers 500, so that it is seen instead of retried forever. A delivery
//! whose commit fails answers 503 whatever the cause (`commit_failed`): a 200 means committed,
//! and anything else must leave Dash retrying, never dropping.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::event::InvalidEvent;
use crate::export::ExportError;
use crate::query::BadParam;
use crate::signature::SignatureError;
use crate::store::StoreError;

/// Seconds a client is asked to wait after a 503.
pub const RETRY_AFTER_SECONDS: u64 = 5;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The body is larger than `MAX_BODY_BYTES`.
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// The delivery is not declared as JSON.
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    /// The webhook signature is missing or wrong.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// The query API's bearer token is missing or wrong.
    #[error("missing or invalid bearer token")]
    Unauthorized,
    /// The input is malformed; the message names the field or parameter.
    #[error("{0}")]
    BadRequest(String),
    /// No such resource.
    #[error("{0}")]
    NotFound(String),
    /// The request body did not arrive within its bound (`limits::BODY_READ_TIMEOUT`).
    #[error("the request body did not arrive within {0:?}")]
    RequestTimeout(Duration),
    /// The route exists but not with this method.
    #[error("method not allowed on this endpoint")]
    MethodNotAllowed,
    /// The id is already stored with other content.
    #[error("{0}")]
    Conflict(String),
    /// The event's timestamp is older than the retention window (in days): it would be pruned,
    /// and a pruned event must not come back.
    #[error("timestamp: older than the retention window of {0} days; not stored")]
    Expired(u32),
    /// The database could not answer or commit.
    #[error("the database is unavailable; retry later")]
    Unavailable(#[source] StoreError),
    /// A bug: never expected, logged with its cause chain.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl AppError {
    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Signature(_) | Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Expired(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl AppError {
    /// A delivery whose commit failed. Whatever the cause, the answer is 503: the event is not
    /// stored, and Dash must send it again rather than drop it. A cause a retry cannot mend (a
    /// schema changed behind the service's back) is still logged as one, so it is seen.
    pub fn commit_failed(err: StoreError) -> Self {
        if !err.is_transient() {
            tracing::error!(error = ?err, "a commit failed for a reason a retry will not mend");
        }
        Self::Unavailable(err)
    }
}

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        if err.is_transient() {
            Self::Unavailable(err)
        } else {
            Self::Internal(anyhow::Error::new(err))
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        StoreError::from(err).into()
    }
}

impl From<ExportError> for AppError {
    fn from(err: ExportError) -> Self {
        match err {
            ExportError::Database(err) => err.into(),
            err @ (ExportError::Render(..) | ExportError::Csv(..)) => Self::Internal(err.into()),
        }
    }
}

impl From<InvalidEvent> for AppError {
    fn from(err: InvalidEvent) -> Self {
        Self::BadRequest(err.0)
    }
}

impl From<BadParam> for AppError {
    fn from(err: BadParam) -> Self {
        Self::BadRequest(err.0)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            Self::Unavailable(cause) => tracing::error!(error = ?cause, "database unavailable"),
            Self::Internal(cause) => tracing::error!(error = ?cause, "internal error"),
            _ => {}
        }
        let body = Json(serde_json::json!({ "error": self.to_string() }));
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        match self {
            Self::Unavailable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
            }
            Self::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            // The rest of the body is still unread: the connection cannot carry another request.
            Self::RequestTimeout(_) => {
                headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_maps_to_its_status() {
        let cases = [
            (AppError::PayloadTooLarge(1), 413),
            (AppError::UnsupportedMediaType, 415),
            (AppError::Signature(SignatureError::Missing), 401),
            (AppError::Unauthorized, 401),
            (AppError::BadRequest("x".into()), 400),
            (AppError::NotFound("x".into()), 404),
            (AppError::RequestTimeout(Duration::from_secs(1)), 408),
            (AppError::MethodNotAllowed, 405),
            (AppError::Conflict("x".into()), 409),
            (AppError::Expired(30), 422),
            (AppError::Unavailable(StoreError::WriterStopped), 503),
        ];
        for (err, status) in cases {
            assert_eq!(err.status().as_u16(), status, "{err:?}");
        }
    }

    #[test]
    fn database_errors_are_503_when_a_retry_may_succeed_and_500_when_it_cannot() {
        let busy = AppError::from(sqlx::Error::PoolTimedOut);
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        let io = AppError::from(sqlx::Error::Io(std::io::Error::other("no space left")));
        assert_eq!(io.status(), StatusCode::SERVICE_UNAVAILABLE);
        let bug = AppError::from(sqlx::Error::ColumnNotFound("cost".into()));
        assert_eq!(bug.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let decode = AppError::from(sqlx::Error::Decode("not a number".into()));
        assert_eq!(decode.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn unavailable_carries_retry_after_and_a_generic_message() {
        let response = AppError::Unavailable(StoreError::WriterStopped).into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "5");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
