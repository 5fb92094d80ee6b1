//! Download links: `POST /events/export/links` answers a URL of `GET /events/export` that works
//! without the bearer token for `LINK_LIFETIME`. A browser cannot add an `Authorization` header
//! to a link it follows, yet only a followed link streams a download to disk (a `fetch()`
//! would hold the whole export in memory); so the web view asks for a link with its token, then
//! follows it.
//!
//! The link carries `expires` (Unix seconds) and `signature`, the HMAC-SHA256 of the path and
//! query before it, keyed with the API token: it opens exactly that export (a changed filter
//! breaks the signature), only until it expires, and never reveals the token. The auth layer
//! checks it (`admit`) and hands the export its query without the two.

use axum::Json;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::routing::post;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use utoipa::ToSchema;

use super::AppState;
use super::openapi::{AuditFilterParams, ErrorBody};
use crate::error::AppError;
use crate::event::format_micros;
use crate::export::Format;
use crate::query::{ListParams, pairs};

/// The only path a download link opens.
pub const EXPORT_PATH: &str = "/events/export";
/// How long a link works: long enough for a browser to follow it at once, short enough that one
/// found later in a history or a log opens nothing.
pub const LINK_LIFETIME_S: i64 = 60;
/// Separates these signatures from any other use of the token as a key.
const CONTEXT: &[u8] = b"dash-events download link\n";
const SIGNATURE: &str = "&signature=";
const EXPIRES: &str = "expires=";

/// A download link.
#[derive(Debug, Serialize, ToSchema)]
pub struct DownloadLink {
    /// Path and query of `GET /events/export`, to follow without the bearer token.
    pub url: String,
    /// When it stops working; UTC, RFC 3339.
    #[serde(rename = "expiresAt")]
    #[schema(format = DateTime)]
    pub expires_at: String,
}

/// Why a link is refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// No `expires` or `signature` where a link has them, or not in their form.
    #[error("not a download link")]
    Malformed,
    /// The signature is not this service's for this path and query.
    #[error("the signature does not match")]
    Forged,
    /// Past `expires`.
    #[error("the link has expired")]
    Expired,
}

/// The link route (behind the bearer token, see `auth`).
pub fn router() -> Router<AppState> {
    Router::new().route("/events/export/links", post(create_download_link))
}

/// A link to the export with these parameters that works without the bearer token for 60 s.
#[utoipa::path(post, path = "/events/export/links", tag = "query",
    params(
        ("type" = Option<String>, Query, description = "As on GET /events/export"),
        ("since" = Option<String>, Query, format = DateTime, description = "As on GET /events/export"),
        ("until" = Option<String>, Query, format = DateTime, description = "As on GET /events/export"),
        AuditFilterParams,
        ("format" = Option<String>, Query, pattern = "^(ndjson|csv)$", description = "As on GET /events/export"),
    ),
    responses(
        (status = 200, body = DownloadLink, description = "The link, valid for 60 s"),
        (status = 400, description = "A parameter is invalid, as GET /events/export would say", body = ErrorBody),
        (status = 401, description = "Bearer token missing or wrong", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn create_download_link(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<DownloadLink>, AppError> {
    let query = query.unwrap_or_default();
    // Refused here, as the export would refuse them, rather than in the browser's download.
    let params = ListParams::parse_export(Some(&query))?;
    let now_us = state.config.clock.now_us();
    params.filters.check_window(&params.range, now_us)?;
    Format::parse(Some(&query))?;
    if let Some((key, _)) = pairs(Some(&query)).find(|(k, _)| k == "expires" || k == "signature") {
        return Err(AppError::BadRequest(format!("{key}: set by this service")));
    }
    let key = state
        .config
        .api_token
        .as_ref()
        .map(|t| t.expose().as_bytes());
    let expires_s = now_us / 1_000_000 + LINK_LIFETIME_S;
    Ok(Json(DownloadLink {
        url: sign(key.unwrap_or_default(), &query, expires_s),
        expires_at: format_micros(expires_s * 1_000_000),
    }))
}

/// The path and query of a link to the export of `query`, expiring at `expires_s`.
pub fn sign(key: &[u8], query: &str, expires_s: i64) -> String {
    let separator = if query.is_empty() { "" } else { "&" };
    let unsigned = format!("{EXPORT_PATH}?{query}{separator}{EXPIRES}{expires_s}");
    let signature = hex::encode(mac(key, &unsigned).finalize().into_bytes());
    format!("{unsigned}{SIGNATURE}{signature}")
}

/// Whether the query of a request to `path` is a link's (it carries a signature), so that the
/// auth layer checks it rather than asking for the bearer token.
pub fn is_link(path: &str, query: Option<&str>) -> bool {
    path == EXPORT_PATH
        && query.is_some_and(|q| q.contains(SIGNATURE) || q.starts_with(&SIGNATURE[1..]))
}

/// Checks a link's query at `now_s` against `key`; answers the export's own query, without
/// `expires` and `signature`.
pub fn verify<'q>(key: &[u8], query: &'q str, now_s: i64) -> Result<&'q str, LinkError> {
    let (signed, signature) = query.rsplit_once(SIGNATURE).ok_or(LinkError::Malformed)?;
    let signature = hex::decode(signature).map_err(|_| LinkError::Malformed)?;
    let (export_query, expires_s) = split_expires(signed)?;
    mac(key, &format!("{EXPORT_PATH}?{signed}"))
        .verify_slice(&signature)
        .map_err(|_| LinkError::Forged)?;
    if now_s >= expires_s {
        return Err(LinkError::Expired);
    }
    Ok(export_query)
}

/// Splits `<query>&expires=<s>` (or `expires=<s>` alone) into the query and the seconds.
fn split_expires(signed: &str) -> Result<(&str, i64), LinkError> {
    let (query, seconds) = match signed.rsplit_once(&format!("&{EXPIRES}")) {
        Some(split) => split,
        None => (
            "",
            signed.strip_prefix(EXPIRES).ok_or(LinkError::Malformed)?,
        ),
    };
    let seconds = seconds
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| seconds.parse().ok())
        .flatten()
        .ok_or(LinkError::Malformed)?;
    Ok((query, seconds))
}

fn mac(key: &[u8], message: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(CONTEXT);
    mac.update(message.as_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"s3cret";
    const NOW: i64 = 1_795_860_000;

    fn query_of(link: &str) -> &str {
        link.strip_prefix("/events/export?")
            .expect("a link to the export")
    }

    #[test]
    fn a_link_opens_its_own_query_until_it_expires() {
        let link = sign(KEY, "format=csv&type=agent%3Aerror", NOW + 60);
        assert!(is_link("/events/export", Some(query_of(&link))));
        assert_eq!(
            verify(KEY, query_of(&link), NOW),
            Ok("format=csv&type=agent%3Aerror")
        );
        assert_eq!(
            verify(KEY, query_of(&link), NOW + 59),
            Ok("format=csv&type=agent%3Aerror")
        );
        assert_eq!(
            verify(KEY, query_of(&link), NOW + 60),
            Err(LinkError::Expired)
        );
        let bare = sign(KEY, "", NOW + 60);
        assert_eq!(verify(KEY, query_of(&bare), NOW), Ok(""));
    }

    #[test]
    fn a_changed_query_expiry_or_key_breaks_the_signature() {
        let link = sign(KEY, "format=csv&type=a", NOW + 60);
        let query = query_of(&link);
        let changed = [
            query.replace("type=a", "type=b"),
            query.replace("format=csv&", ""),
            query.replace(
                &format!("expires={}", NOW + 60),
                &format!("expires={}", NOW + 9999),
            ),
            format!("since=2026-01-01T00:00:00Z&{query}"),
        ];
        for forged in &changed {
            assert_eq!(verify(KEY, forged, NOW), Err(LinkError::Forged), "{forged}");
        }
        assert_eq!(verify(b"other", query, NOW), Err(LinkError::Forged));
    }

    #[test]
    fn garbled_links_are_malformed_not_panics() {
        for query in [
            "",
            "signature=",
            "format=csv&signature=abc",
            "format=csv&expires=&signature=00",
            "format=csv&expires=-5&signature=00",
            "format=csv&expires=99999999999999999999999&signature=00",
            "format=csv&expires=10&signature=zz",
        ] {
            assert_eq!(
                verify(KEY, query, NOW),
                Err(LinkError::Malformed),
                "{query}"
            );
        }
        assert!(!is_link("/events", Some("signature=x")));
        assert!(!is_link("/events/export", Some("format=csv")));
        assert!(!is_link("/events/export", Some("data.signature=x")));
    }
}
