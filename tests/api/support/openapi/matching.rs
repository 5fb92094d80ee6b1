//! Matching a concrete request to the OpenAPI document: a URL path to a path template such as
//! `/events/{id}`, a `Content-Type` header to a documented media type, and a 405's `Allow` to
//! the methods documented for its path.

use reqwest::header::{ALLOW, HeaderMap};

/// One segment of a path template.
enum Segment {
    Literal(String),
    /// `{name}`: any one non-empty segment, as the router's `{name}` takes.
    Parameter,
}

/// A path template of the document, e.g. `/events/{id}/body`.
pub struct PathTemplate {
    template: String,
    segments: Vec<Segment>,
}

impl PathTemplate {
    pub fn new(template: &str) -> PathTemplate {
        let segments = template
            .split('/')
            .skip(1)
            .map(
                |segment| match segment.starts_with('{') && segment.ends_with('}') {
                    true => Segment::Parameter,
                    false => Segment::Literal(segment.to_owned()),
                },
            )
            .collect();
        PathTemplate {
            template: template.to_owned(),
            segments,
        }
    }

    pub fn template(&self) -> &str {
        &self.template
    }

    /// Whether the (percent-encoded) URL path `path` falls under this template.
    pub fn matches(&self, path: &str) -> bool {
        let Some(rest) = path.strip_prefix('/') else {
            return false;
        };
        let segments: Vec<&str> = rest.split('/').collect();
        segments.len() == self.segments.len()
            && self
                .segments
                .iter()
                .zip(&segments)
                .all(|(template, segment)| match template {
                    Segment::Literal(literal) => literal == segment,
                    Segment::Parameter => !segment.is_empty(),
                })
    }

    /// How many segments are fixed text: the more, the more specific the template.
    pub fn literal_segments(&self) -> usize {
        let literal = |segment: &&Segment| matches!(segment, Segment::Literal(_));
        self.segments.iter().filter(literal).count()
    }
}

/// The media type of a `Content-Type` value without its parameters, in lower case
/// (`text/plain; version=0.0.4` is `text/plain`).
pub fn media_essence(content_type: &str) -> String {
    let essence = content_type.split(';').next().unwrap_or_default();
    essence.trim().to_ascii_lowercase()
}

/// Checks that a 405's `Allow` names exactly the documented methods (and `HEAD` beside `GET`).
pub fn check_allow(headers: &HeaderMap, documented: &[&str]) -> Result<(), String> {
    let allow = headers
        .get(ALLOW)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let mut allowed: Vec<&str> = allow
        .split(',')
        .map(str::trim)
        .filter(|m| *m != "HEAD")
        .collect();
    let mut expected = documented.to_vec();
    allowed.sort_unstable();
    expected.sort_unstable();
    match allowed == expected {
        true => Ok(()),
        false => Err(format!(
            "Allow: {allow:?}, but the document has {expected:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parameter_takes_one_non_empty_segment() {
        let template = PathTemplate::new("/events/{id}/body");
        assert!(template.matches("/events/abc%2Fdef/body"));
        assert!(!template.matches("/events//body"));
        assert!(!template.matches("/events/a/b/body"));
        assert!(!template.matches("/events/a"));
        assert!(PathTemplate::new("/").matches("/"));
        assert!(!PathTemplate::new("/assets/{name}").matches("/assets/"));
    }
}
