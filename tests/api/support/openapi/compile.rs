//! Compiling the document: every response schema becomes a validator, with the whole document
//! registered as one JSON Schema 2020-12 resource so that `$ref: #/components/schemas/…`
//! resolves as in the document itself.

use jsonschema::{Draft, Registry, Validator};
use reqwest::Method;
use serde_json::{Value, json};

use super::matching::PathTemplate;
use super::{Contract, Documentation, Operation};

/// The URI the document is registered under; nothing is ever fetched from it.
const BASE: &str = "urn:dash-events:openapi";

impl Contract {
    /// Compiles every response schema of `document` against the document as a whole.
    pub fn compile(document: Value) -> Contract {
        let registry = Registry::new()
            .add(BASE, Draft::Draft202012.create_resource(document.clone()))
            .and_then(|builder| builder.prepare())
            .expect("the OpenAPI document is a valid JSON Schema resource");
        let mut operations = Vec::new();
        for (path, item) in document["paths"].as_object().expect("paths") {
            for (key, operation) in item.as_object().expect("a path item") {
                // A path item also holds `parameters`, `summary` …: only methods are operations.
                if let Ok(method) = key.to_uppercase().parse::<Method>() {
                    let at = format!("/paths/{}/{key}", escape(path));
                    let responses = operation["responses"].as_object().expect("responses");
                    let responses = responses.iter().map(|(status, response)| {
                        let at = format!("{at}/responses/{status}");
                        documentation(&registry, &at, status, response)
                    });
                    operations.push(Operation {
                        method,
                        path: PathTemplate::new(path),
                        responses: responses.collect(),
                    });
                }
            }
        }
        Contract {
            error_body: compile_at(&registry, "/components/schemas/ErrorBody"),
            event: compile_at(&registry, "/components/schemas/Event"),
            operations,
            document,
        }
    }
}

/// The response at `at` (a JSON Pointer into the document), compiled.
fn documentation(
    registry: &Registry<'_>,
    at: &str,
    status: &str,
    response: &Value,
) -> Documentation {
    let media = response["content"].as_object().into_iter().flatten();
    let media = media.map(|(name, content)| {
        let at = format!("{at}/content/{}/schema", escape(name));
        let schema = content.get("schema").map(|_| compile_at(registry, &at));
        (name.to_lowercase(), schema)
    });
    Documentation {
        status: status.to_owned(),
        media: media.collect(),
    }
}

/// A validator of the schema at `pointer` in the registered document.
fn compile_at(registry: &Registry<'_>, pointer: &str) -> Validator {
    let reference = json!({ "$ref": format!("{BASE}#{}", percent_encode(pointer)) });
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .with_registry(registry)
        .should_validate_formats(true)
        .build(&reference)
        .unwrap_or_else(|err| panic!("the schema at {pointer} does not compile: {err}"))
}

/// A JSON Pointer token (RFC 6901).
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// A JSON Pointer as a URI fragment: `{` and `}` of path templates are not allowed there.
fn percent_encode(pointer: &str) -> String {
    pointer.replace('{', "%7B").replace('}', "%7D")
}
