//! The path the router sees: the one `serve` would have been asked for, below the API Gateway
//! stage. API Gateway names the stage differently per payload format: a REST API event (1.0)
//! carries the path below the stage in `path`, an HTTP API event (2.0) carries the stage in front
//! of `rawPath` unless the stage is `$default`. `lambda_http` then puts the stage in front of its
//! URI in both cases (unless `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` is set), so the URI is rebuilt
//! here from the event's own path, whatever that variable says.

use axum::http::Uri;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

/// The stage an HTTP API serves at the root of its URL.
const DEFAULT_STAGE: &str = "$default";

/// Which kind of event the request came from, as far as its path is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gateway {
    /// REST API, payload format 1.0: `path` is already below the stage.
    Rest,
    /// HTTP API, payload format 2.0: `rawPath` starts with the stage unless it is `$default`.
    Http,
    /// Anything else (an Application Load Balancer): the path as sent.
    Other,
}

/// Replaces the request's URI with the path below the stage and the query, in origin form.
pub fn strip_stage(request: &mut Request) {
    let (gateway, stage) = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => (Gateway::Rest, context.stage.clone()),
        Some(RequestContext::ApiGatewayV2(context)) => (Gateway::Http, context.stage.clone()),
        _ => (Gateway::Other, None),
    };
    let raw_path = match request.raw_http_path() {
        "" => request.uri().path().to_owned(),
        raw => raw.to_owned(),
    };
    let path = path_below_stage(gateway, &raw_path, stage.as_deref());
    if let Some(uri) = origin_form(path, request.uri().query()) {
        *request.uri_mut() = uri;
    }
}

fn path_below_stage<'a>(gateway: Gateway, raw_path: &'a str, stage: Option<&str>) -> &'a str {
    match stage {
        Some(stage) if gateway == Gateway::Http && stage != DEFAULT_STAGE => {
            match raw_path
                .strip_prefix('/')
                .and_then(|rest| rest.strip_prefix(stage))
            {
                Some("") => "/",
                Some(rest) if rest.starts_with('/') => rest,
                _ => raw_path,
            }
        }
        _ => raw_path,
    }
}

/// `path?query` as a URI, with the bytes a URI path may not hold percent-encoded (a REST API
/// event carries its path decoded).
fn origin_form(path: &str, query: Option<&str>) -> Option<Uri> {
    let mut text = String::with_capacity(path.len() + 1);
    if !path.starts_with('/') {
        text.push('/');
    }
    for byte in path.bytes() {
        if is_path_byte(byte) {
            text.push(char::from(byte));
        } else {
            text.push_str(&format!("%{byte:02X}"));
        }
    }
    if let Some(query) = query.filter(|query| !query.is_empty()) {
        text.push('?');
        text.push_str(query);
    }
    text.parse().ok()
}

/// RFC 3986 `pchar` and `/`, plus `%` for a path that is already encoded.
fn is_path_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/%".contains(&byte)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rest_api_path_is_already_below_its_stage() {
        for stage in [Some("prod"), Some("$default"), None] {
            let path = path_below_stage(Gateway::Rest, "/webhooks/dash", stage);
            assert_eq!(path, "/webhooks/dash", "{stage:?}");
        }
        // A stage named like the first segment is not taken out of a REST API path.
        let path = path_below_stage(Gateway::Rest, "/webhooks/dash", Some("webhooks"));
        assert_eq!(path, "/webhooks/dash");
    }

    #[test]
    fn an_http_api_path_loses_its_named_stage_only() {
        let cases = [
            ("/prod/webhooks/dash", Some("prod"), "/webhooks/dash"),
            ("/webhooks/dash", Some("$default"), "/webhooks/dash"),
            ("/webhooks/dash", None, "/webhooks/dash"),
            ("/prod", Some("prod"), "/"),
            ("/prod/", Some("prod"), "/"),
            ("/production/events", Some("prod"), "/production/events"),
            ("/events", Some("prod"), "/events"),
        ];
        for (raw, stage, expected) in cases {
            assert_eq!(
                path_below_stage(Gateway::Http, raw, stage),
                expected,
                "{raw}"
            );
        }
    }

    #[test]
    fn other_events_keep_their_path() {
        let path = path_below_stage(Gateway::Other, "/prod/webhooks/dash", Some("prod"));
        assert_eq!(path, "/prod/webhooks/dash");
    }

    #[test]
    fn the_uri_is_in_origin_form_with_its_query() {
        let uri = origin_form("/events", Some("type=agent%3Acomplete&limit=10")).expect("uri");
        assert_eq!(uri.to_string(), "/events?type=agent%3Acomplete&limit=10");
        assert_eq!(origin_form("/events", Some("")).expect("uri"), "/events");
        assert_eq!(origin_form("", None).expect("uri"), "/");
    }

    #[test]
    fn bytes_a_path_may_not_hold_are_encoded() {
        let uri = origin_form("/events/a b\"é", None).expect("uri");
        assert_eq!(uri.path(), "/events/a%20b%22%C3%A9");
        let uri = origin_form("/events/already%20encoded", None).expect("uri");
        assert_eq!(uri.path(), "/events/already%20encoded");
    }
}
