//! Slack messages: an event rendered as Block Kit — a header saying what happened, the fields an
//! operator reads first, and a context line with the event id, instance and time — plus a `text`
//! fallback for notifications and clients without blocks. Pure: the event's JSON in, the message
//! out. A missing or odd-typed field is left out, never an error: Dash may send anything.

use serde_json::{Map, Value, json};

/// Longest task or result shown, in characters.
const MAX_TASK_CHARS: usize = 300;
/// Longest error message shown, in characters (a section's text may hold 3000).
const MAX_ERROR_CHARS: usize = 1500;
/// Longest other value shown, in characters.
const MAX_FIELD_CHARS: usize = 200;

/// The Block Kit message for `event` (an event as `GET /events` renders it).
pub fn message(event: &Value) -> Value {
    let event_type = text(event, "type").unwrap_or_default();
    let empty = Map::new();
    let data = event
        .get("data")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let (title, mut blocks) = match event_type {
        "agent:complete" => agent_complete(data),
        "agent:error" => agent_error(data),
        "budget:warning" => budget("⚠️ Budget warning", data),
        "budget:exceeded" => budget("🛑 Budget exceeded", data),
        other => other_event(other, data),
    };
    blocks.insert(0, header(&title));
    blocks.extend(context(event));
    json!({ "text": fallback(&title, event_type, data), "blocks": blocks })
}

fn agent_complete(data: &Map<String, Value>) -> (String, Vec<Value>) {
    let task = text_of(data, "task").or_else(|| text_of(data, "result"));
    let fields = [
        ("Task", task.map(|t| truncate(t, MAX_TASK_CHARS))),
        ("Duration", number(data, "durationMs").map(duration)),
        ("Cost", number(data, "cost").map(cost)),
        ("Agent", short_text(data, "agentId")),
    ];
    ("✅ Agent completed".into(), section_of(fields))
}

fn agent_error(data: &Map<String, Value>) -> (String, Vec<Value>) {
    let mut blocks = Vec::new();
    if let Some(error) = text_of(data, "error") {
        let shown = truncate(error, MAX_ERROR_CHARS).replace("```", "'''");
        blocks.push(mrkdwn_section(&format!("```{}```", escape(&shown))));
    }
    blocks.extend(section_of([("Agent", short_text(data, "agentId"))]));
    ("❌ Agent error".into(), blocks)
}

fn budget(title: &str, data: &Map<String, Value>) -> (String, Vec<Value>) {
    let (current, limit) = (number(data, "current"), number(data, "limit"));
    let percentage = number(data, "percentage").or_else(|| match (current, limit) {
        (Some(current), Some(limit)) if limit != 0.0 => Some(current / limit * 100.0),
        _ => None,
    });
    let spent = match (current, limit) {
        (Some(current), Some(limit)) => Some(format!("{} of {}", dollars(current), dollars(limit))),
        (Some(current), None) => Some(dollars(current)),
        _ => None,
    };
    let fields = [
        (
            "Usage",
            percentage.map(|p| format!("{} %", trim_number(p, 1))),
        ),
        ("Spent", spent),
    ];
    (title.into(), section_of(fields))
}

fn other_event(event_type: &str, data: &Map<String, Value>) -> (String, Vec<Value>) {
    let mut blocks = vec![mrkdwn_section(&format!(
        "Dash event `{}`",
        escape(&truncate(event_type, MAX_FIELD_CHARS))
    ))];
    let known = [
        ("Name", short_text(data, "name")),
        ("Status", short_text(data, "status")),
        ("Agent", short_text(data, "agentId")),
        ("Swarm", short_text(data, "swarmId")),
        ("Workflow", short_text(data, "workflowId")),
        ("Step", short_text(data, "stepId")),
        ("Action", short_text(data, "action")),
        ("Reason", short_text(data, "reason")),
        ("Duration", number(data, "durationMs").map(duration)),
        (
            "Cost",
            number(data, "totalCost").or(number(data, "cost")).map(cost),
        ),
    ];
    blocks.extend(section_of(known));
    (format!("Dash event {event_type}"), blocks)
}

fn header(title: &str) -> Value {
    json!({ "type": "header", "text": { "type": "plain_text", "text": title, "emoji": true } })
}

fn mrkdwn_section(text: &str) -> Value {
    json!({ "type": "section", "text": { "type": "mrkdwn", "text": text } })
}

/// One section with a field per present value (`*Label*` over the value); none when all are
/// missing, since Slack refuses a section without fields or text.
fn section_of<const N: usize>(fields: [(&str, Option<String>); N]) -> Vec<Value> {
    let fields: Vec<Value> = fields
        .into_iter()
        .filter_map(|(label, value)| {
            let text = format!("*{label}*\n{}", escape(&value?));
            Some(json!({ "type": "mrkdwn", "text": text }))
        })
        .collect();
    if fields.is_empty() {
        return Vec::new();
    }
    vec![json!({ "type": "section", "fields": fields })]
}

/// The context line; none for an event without id, instance or time (Slack refuses empty text).
fn context(event: &Value) -> Option<Value> {
    let mut parts = Vec::new();
    for (label, field) in [("Event", "id"), ("Instance", "instanceId")] {
        if let Some(value) = text(event, field) {
            parts.push(format!(
                "{label} `{}`",
                escape(&truncate(value, MAX_FIELD_CHARS))
            ));
        }
    }
    if let Some(time) = text(event, "timestamp") {
        parts.push(escape(&truncate(time, MAX_FIELD_CHARS)));
    }
    let text = parts.join(" · ");
    (!parts.is_empty())
        .then(|| json!({ "type": "context", "elements": [{ "type": "mrkdwn", "text": text }] }))
}

/// The plain-text summary: the title and the one detail that matters most.
fn fallback(title: &str, event_type: &str, data: &Map<String, Value>) -> String {
    let detail = match event_type {
        "agent:complete" => text_of(data, "task").or_else(|| text_of(data, "result")),
        "agent:error" => text_of(data, "error"),
        _ => None,
    };
    match detail {
        Some(detail) => format!("{title}: {}", escape(&truncate(detail, MAX_FIELD_CHARS))),
        None => escape(title),
    }
}

/// Escapes the three characters Slack's mrkdwn gives a meaning to (links, mentions).
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `text` cut to `max` characters, with an ellipsis when cut.
fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// A duration in ms for people: `850 ms`, `42 s`, `1 m 23 s`, `2 h 5 m`.
pub fn duration(ms: f64) -> String {
    if ms < 1000.0 {
        return format!("{} ms", ms.max(0.0).round());
    }
    let seconds = (ms / 1000.0).round() as u64;
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} m {} s", seconds / 60, seconds % 60),
        _ => format!("{} h {} m", seconds / 3600, seconds % 3600 / 60),
    }
}

/// A cost: four decimals below a dollar (agent runs cost cents), two above.
pub fn cost(amount: f64) -> String {
    if amount.abs() < 1.0 {
        format!("${amount:.4}")
    } else {
        dollars(amount)
    }
}

fn dollars(amount: f64) -> String {
    format!("${amount:.2}")
}

/// `85` for 85.0, `85.5` for 85.5: no trailing zeros.
fn trim_number(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    match text.contains('.') {
        true => text.trim_end_matches('0').trim_end_matches('.').to_owned(),
        false => text,
    }
}

fn text<'a>(event: &'a Value, field: &str) -> Option<&'a str> {
    event
        .get(field)
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
}

fn text_of<'a>(data: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    data.get(field)
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
}

fn short_text(data: &Map<String, Value>, field: &str) -> Option<String> {
    text_of(data, field).map(|t| truncate(t, MAX_FIELD_CHARS))
}

/// A finite number field (a string or an infinity is left out).
fn number(data: &Map<String, Value>, field: &str) -> Option<f64> {
    data.get(field)
        .and_then(Value::as_f64)
        .filter(|n| n.is_finite() && n.abs() < 1e15)
}

#[cfg(test)]
mod tests;
