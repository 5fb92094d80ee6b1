//! The bearer token in front of the query API, and the download links (`download_link`) that
//! open one export without it.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Uri, header};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AppState;
use super::download_link;
use crate::error::AppError;

/// Lets the request through when no token is configured, the right one is presented, or it
/// follows a valid download link (whose `expires` and `signature` are then taken off the query).
pub async fn require_api_token(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, AppError> {
    let expected = state.config.api_token.as_ref().map(|t| t.expose());
    if download_link::is_link(request.uri().path(), request.uri().query()) {
        let now_s = state.config.clock.now_us() / 1_000_000;
        admit_link(&mut request, expected.unwrap_or_default(), now_s)?;
    } else if let Some(expected) = expected {
        let presented = bearer_token(request.headers()).ok_or(AppError::Unauthorized)?;
        if !tokens_match(presented, expected) {
            tracing::warn!("query API request with a wrong bearer token");
            return Err(AppError::Unauthorized);
        }
    }
    Ok(next.run(request).await)
}

/// Checks a download link and leaves the request with the export's own query.
fn admit_link(request: &mut Request, key: &str, now_s: i64) -> Result<(), AppError> {
    let query = request.uri().query().unwrap_or_default();
    let export_query = download_link::verify(key.as_bytes(), query, now_s).map_err(|err| {
        tracing::warn!(reason = %err, "download link refused");
        AppError::Unauthorized
    })?;
    let uri = format!("{}?{export_query}", request.uri().path());
    // The query was part of a valid URI, so what is left of it is one too.
    *request.uri_mut() = uri.parse::<Uri>().map_err(|_| AppError::Unauthorized)?;
    Ok(())
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Compares digests in constant time, so neither the content nor the length of the expected
/// token leaks through timing.
fn tokens_match(presented: &str, expected: &str) -> bool {
    let presented = Sha256::digest(presented.as_bytes());
    let expected = Sha256::digest(expected.as_bytes());
    presented.ct_eq(&expected).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token(&headers("Bearer abc")), Some("abc"));
        assert_eq!(bearer_token(&headers("bearer abc")), Some("abc"));
        assert_eq!(bearer_token(&headers("Basic abc")), None);
        assert_eq!(bearer_token(&headers("Bearer")), None);
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }

    #[test]
    fn only_the_exact_token_matches() {
        assert!(tokens_match("s3cret", "s3cret"));
        assert!(!tokens_match("s3cre", "s3cret"));
        assert!(!tokens_match("s3cret ", "s3cret"));
        assert!(!tokens_match("", "s3cret"));
    }
}
