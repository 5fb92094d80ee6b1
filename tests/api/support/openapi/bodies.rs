//! Reading an answer's body by its documented media type and validating it against a schema,
//! naming each problem's place (a JSON Pointer into the body) and what is wrong.

use jsonschema::Validator;
use serde_json::Value;

/// Validates `body`, of the documented `media_type`, against `schema`.
pub fn check(schema: &Validator, media_type: &str, body: &[u8]) -> Result<(), String> {
    match media_type {
        "application/json" => validate(schema, &parse_json(body)?),
        "application/x-ndjson" => validate_lines(schema, body),
        // Endless: not read as a whole; `support::sse` checks each message's data.
        "text/event-stream" => Ok(()),
        text if text.starts_with("text/") => {
            let text = std::str::from_utf8(body).map_err(|err| format!("not UTF-8: {err}"))?;
            validate(schema, &Value::from(text))
        }
        other => Err(format!("no way to read a body of type {other}")),
    }
}

pub fn validate(schema: &Validator, value: &Value) -> Result<(), String> {
    let problems: Vec<String> = schema
        .iter_errors(value)
        .take(5)
        .map(|error| {
            let at = error.instance_path().to_string();
            let at = if at.is_empty() {
                "(the body)".into()
            } else {
                at
            };
            format!("at {at}: {error}")
        })
        .collect();
    match problems.is_empty() {
        true => Ok(()),
        false => Err(problems.join("; ")),
    }
}

/// NDJSON: each line is one instance of the schema.
fn validate_lines(schema: &Validator, body: &[u8]) -> Result<(), String> {
    if !body.is_empty() && !body.ends_with(b"\n") {
        return Err("the last NDJSON line is not ended".into());
    }
    let lines = body.split(|b| *b == b'\n').filter(|line| !line.is_empty());
    for (number, line) in lines.enumerate() {
        validate(schema, &parse_json(line)?)
            .map_err(|problem| format!("line {}: {problem}", number + 1))?;
    }
    Ok(())
}

fn parse_json(bytes: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(bytes).map_err(|err| format!("not JSON: {err}"))
}
