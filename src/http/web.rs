//! The audit log viewer: `GET /` and its scripts and styles under `/assets/`, compiled into the
//! binary (`web/` in the repository) so the page works offline and ships with the service. The
//! page and assets are public; the data they fetch stays behind the bearer token.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use super::openapi::ErrorBody;
use crate::error::AppError;

/// Only this origin's own scripts, styles and requests: event content shown on the page can
/// never load or run anything, and the page cannot be framed.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

const INDEX_HTML: &str = include_str!("../../web/index.html");

const JS: &str = "text/javascript; charset=utf-8";

/// Every asset: its name under `/assets/`, its content type and its text.
const ASSETS: [(&str, &str, &str); 9] = [
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../../web/app.css"),
    ),
    ("app.js", JS, include_str!("../../web/app.js")),
    ("api.js", JS, include_str!("../../web/api.js")),
    ("charts.js", JS, include_str!("../../web/charts.js")),
    ("detail.js", JS, include_str!("../../web/detail.js")),
    ("filters.js", JS, include_str!("../../web/filters.js")),
    ("groups.js", JS, include_str!("../../web/groups.js")),
    ("sse.js", JS, include_str!("../../web/sse.js")),
    ("table.js", JS, include_str!("../../web/table.js")),
];

/// The page and its assets (public).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{name}", get(asset))
}

/// The audit log viewer.
#[utoipa::path(get, path = "/", tag = "web",
    responses((status = 200, description = "The audit log viewer (HTML)", body = String, content_type = "text/html")))]
pub async fn index() -> Response {
    with_headers(INDEX_HTML, "text/html; charset=utf-8")
}

/// One script or style sheet of the viewer.
#[utoipa::path(get, path = "/assets/{name}", tag = "web",
    params(("name" = String, Path, example = "app.js", description = "The file name")),
    responses(
        (status = 200, description = "The script or style sheet", content(
            (String = "text/javascript"), (String = "text/css"))),
        (status = 404, description = "No asset of this name", body = ErrorBody),
    ))]
pub async fn asset(Path(name): Path<String>) -> Result<Response, AppError> {
    let (_, content_type, text) = ASSETS
        .iter()
        .find(|(asset, _, _)| *asset == name)
        .ok_or_else(|| AppError::NotFound(format!("no asset named {name:?}")))?;
    Ok(with_headers(text, content_type))
}

fn with_headers(text: &'static str, content_type: &'static str) -> Response {
    let mut response = text.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Revalidated on every load, so a new binary's page is never mixed with old scripts.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    response
}
