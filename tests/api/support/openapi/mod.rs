//! The service's own OpenAPI document as the judge of every answer the tests receive. The
//! helpers of `support::http` and `support::sse` pass each answer through [`contract`], so an
//! answer whose status, content type or body the document does not describe fails the test that
//! provoked it, on either backend. `compile` turns the document's response schemas into
//! validators, `matching` finds a request's operation, `bodies` reads and validates a body by
//! its media type.
//!
//! The document is `ApiDoc`, the value `/openapi.json` serves (`queries::schema_document`
//! checks that), loaded once per process. It is OpenAPI 3.1, whose schemas are JSON Schema draft
//! 2020-12, which the `jsonschema` crate validates, `format` included.
//!
//! A request outside the document's paths must answer the fallback 404 and one with a method
//! the path does not document the 405 (with `Allow` naming the documented methods); both bodies
//! are `ErrorBody`, the document's schema of "every error answer".

use std::sync::OnceLock;

use jsonschema::Validator;
use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use serde_json::Value;
use utoipa::OpenApi;

use matching::{PathTemplate, check_allow, media_essence};

mod bodies;
mod compile;
mod matching;

/// The documented answers of one operation.
struct Operation {
    method: Method,
    path: PathTemplate,
    responses: Vec<Documentation>,
}

/// One documented response of an operation.
struct Documentation {
    /// `"200"`, `"4XX"` or `"default"`.
    status: String,
    /// Each media type (lower case) with its body's validator (`None`: no schema).
    media: Vec<(String, Option<Validator>)>,
}

/// The document, compiled.
pub struct Contract {
    document: Value,
    operations: Vec<Operation>,
    error_body: Validator,
    event: Validator,
}

/// What was documented for an answer's status and content type, once its head is checked.
pub struct Documented<'a> {
    media_type: &'a str,
    schema: Option<&'a Validator>,
}

impl Documented<'_> {
    /// Whether the answer is an endless `text/event-stream`, not to be read as a whole.
    pub fn is_stream(&self) -> bool {
        self.media_type == "text/event-stream"
    }
}

/// The contract of this process (built on first use).
pub fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| {
        let document = serde_json::to_value(dash_events::http::ApiDoc::openapi())
            .expect("the OpenAPI document serializes");
        Contract::compile(document)
    })
}

impl Contract {
    /// The document itself.
    pub fn document(&self) -> &Value {
        &self.document
    }

    /// Every documented answer: (method, path template, status).
    pub fn documented_answers(&self) -> Vec<(Method, String, String)> {
        let mut answers = Vec::new();
        for operation in &self.operations {
            for response in &operation.responses {
                let template = operation.path.template().to_owned();
                answers.push((operation.method.clone(), template, response.status.clone()));
            }
        }
        answers
    }

    /// The documented path template `path` falls under, for `method`, if any.
    pub fn template_of(&self, method: &Method, path: &str) -> Option<&str> {
        self.operation(method, path).map(|op| op.path.template())
    }

    /// Checks an answer's status and content type (and for a 405 its `Allow`), answering what
    /// the document says of its body.
    pub fn check_head(
        &self,
        method: &Method,
        path: &str,
        status: u16,
        headers: &HeaderMap,
    ) -> Result<Documented<'_>, String> {
        let Some(operation) = self.operation(method, path) else {
            return self.check_fallback(method, path, status, headers);
        };
        let keys = [
            status.to_string(),
            format!("{}XX", status / 100),
            "default".into(),
        ];
        let documented = |key: &String| operation.responses.iter().find(|r| r.status == *key);
        let response = keys
            .iter()
            .find_map(documented)
            .ok_or_else(|| format!("the document lists no {status} for this operation"))?;
        response.content(headers)
    }

    /// Validates a whole body against what [`Contract::check_head`] found.
    pub fn check_body(&self, documented: &Documented<'_>, body: &[u8]) -> Result<(), String> {
        match documented.schema {
            Some(schema) => bodies::check(schema, documented.media_type, body),
            None if body.is_empty() => Ok(()),
            None => Err("a body the document does not describe".into()),
        }
    }

    /// Checks a whole answer: head and body.
    pub fn check(
        &self,
        method: &Method,
        path: &str,
        (status, headers, body): (u16, &HeaderMap, &[u8]),
    ) -> Result<(), String> {
        let documented = self.check_head(method, path, status, headers)?;
        self.check_body(&documented, body)
    }

    /// Validates one `data:` of the live stream, which its description says is an event as
    /// `GET /events` renders it: the `Event` schema.
    pub fn check_stream_data(&self, data: &Value) -> Result<(), String> {
        bodies::validate(&self.event, data)
    }

    fn operation(&self, method: &Method, path: &str) -> Option<&Operation> {
        let method = if *method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        self.best_match(path).and_then(|template| {
            self.operations
                .iter()
                .find(|op| op.method == *method && op.path.template() == template)
        })
    }

    /// The template that serves `path`: a literal segment wins over a parameter, as in the
    /// router (`/events/stream` is not `/events/{id}`).
    fn best_match(&self, path: &str) -> Option<&str> {
        self.operations
            .iter()
            .filter(|op| op.path.matches(path))
            .max_by_key(|op| op.path.literal_segments())
            .map(|op| op.path.template())
    }

    /// A request the document has no operation for: the router's fallback 404, or its 405 for
    /// a method the path does not document.
    fn check_fallback(
        &self,
        method: &Method,
        path: &str,
        status: u16,
        headers: &HeaderMap,
    ) -> Result<Documented<'_>, String> {
        match self.best_match(path) {
            None if status != 404 => {
                return Err(format!(
                    "{path} is not in the document, yet it answered {status}"
                ));
            }
            None => {}
            Some(template) => {
                let allowed: Vec<&str> = self
                    .operations
                    .iter()
                    .filter(|op| op.path.template() == template)
                    .map(|op| op.method.as_str())
                    .collect();
                if status != 405 {
                    return Err(format!(
                        "{method} is not documented for {template} (only {allowed:?}), \
                         yet it answered {status}"
                    ));
                }
                check_allow(headers, &allowed)?;
            }
        }
        let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
        match content_type.map(media_essence).as_deref() {
            Some("application/json") => Ok(Documented {
                media_type: "application/json",
                schema: Some(&self.error_body),
            }),
            other => Err(format!("a {status} of type {other:?}, not an ErrorBody")),
        }
    }
}

impl Documentation {
    /// What is documented for the answer's content type.
    fn content(&self, headers: &HeaderMap) -> Result<Documented<'_>, String> {
        let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
        let Some(essence) = content_type.map(media_essence) else {
            return match self.media.is_empty() {
                true => Ok(Documented {
                    media_type: "",
                    schema: None,
                }),
                false => Err(format!(
                    "no content type, but {} documents one",
                    self.status
                )),
            };
        };
        let (media_type, schema) = self
            .media
            .iter()
            .find(|(name, _)| *name == essence)
            .ok_or_else(|| {
                format!(
                    "content type {essence} is not documented for {}",
                    self.status
                )
            })?;
        Ok(Documented {
            media_type,
            schema: schema.as_ref(),
        })
    }
}
