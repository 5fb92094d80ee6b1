use serde_json::{Value, json};

use super::*;

fn event(event_type: &str, data: Value) -> Value {
    json!({
        "id": "evt-1", "type": event_type, "timestamp": "2026-11-28T10:00:00Z",
        "data": data, "webhookId": "wh_1", "instanceId": "inst_1",
        "receivedAt": "2026-11-28T10:00:01Z"
    })
}

fn header_of(message: &Value) -> &str {
    assert_eq!(message["blocks"][0]["type"], "header", "{message}");
    message["blocks"][0]["text"]["text"].as_str().unwrap()
}

/// Every field of every section, as `Label: value`.
fn fields_of(message: &Value) -> Vec<String> {
    message["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|block| block["fields"].as_array())
        .flatten()
        .map(|f| {
            f["text"]
                .as_str()
                .unwrap()
                .replace('*', "")
                .replace('\n', ": ")
        })
        .collect()
}

fn context_of(message: &Value) -> &str {
    let last = message["blocks"].as_array().unwrap().last().unwrap();
    assert_eq!(last["type"], "context", "{message}");
    last["elements"][0]["text"].as_str().unwrap()
}

#[test]
fn agent_complete_shows_task_duration_cost_and_agent() {
    let data = json!({"agentId": "agent-7", "task": "Refactor auth", "durationMs": 83_400, "cost": 0.0123});
    let message = message(&event("agent:complete", data));
    assert_eq!(header_of(&message), "✅ Agent completed");
    assert_eq!(
        fields_of(&message),
        [
            "Task: Refactor auth",
            "Duration: 1 m 23 s",
            "Cost: $0.0123",
            "Agent: agent-7"
        ]
    );
    assert_eq!(message["text"], "✅ Agent completed: Refactor auth");
    assert_eq!(
        context_of(&message),
        "Event `evt-1` · Instance `inst_1` · 2026-11-28T10:00:00Z"
    );
}

#[test]
fn agent_complete_falls_back_to_a_truncated_result() {
    let data = json!({"result": "x".repeat(1000)});
    let message = message(&event("agent:complete", data));
    let task = &fields_of(&message)[0];
    assert!(
        task.starts_with("Task: xxx") && task.ends_with('…'),
        "{task}"
    );
    assert_eq!(task.chars().count(), "Task: ".len() + MAX_TASK_CHARS + 1);
}

#[test]
fn budget_warning_shows_percentage_and_amounts() {
    let data = json!({"current": 42.5, "limit": 50, "percentage": 85});
    let message = message(&event("budget:warning", data));
    assert_eq!(header_of(&message), "⚠️ Budget warning");
    assert_eq!(
        fields_of(&message),
        ["Usage: 85 %", "Spent: $42.50 of $50.00"]
    );
    let exceeded = message_for("budget:exceeded", json!({"current": 60, "limit": 50}));
    assert_eq!(header_of(&exceeded), "🛑 Budget exceeded");
    assert_eq!(
        fields_of(&exceeded),
        ["Usage: 120 %", "Spent: $60.00 of $50.00"]
    );
}

fn message_for(event_type: &str, data: Value) -> Value {
    message(&event(event_type, data))
}

#[test]
fn agent_error_shows_the_message_in_a_code_block_escaped() {
    let data = json!({"agentId": "a-1", "error": "x < y && <@U123> > z"});
    let message = message_for("agent:error", data);
    assert_eq!(header_of(&message), "❌ Agent error");
    assert_eq!(
        message["blocks"][1]["text"]["text"],
        "```x &lt; y &amp;&amp; &lt;@U123&gt; &gt; z```"
    );
    assert_eq!(fields_of(&message), ["Agent: a-1"]);
    assert_eq!(
        message["text"],
        "❌ Agent error: x &lt; y &amp;&amp; &lt;@U123&gt; &gt; z"
    );
}

#[test]
fn other_types_name_the_type_and_known_fields() {
    let data = json!({"swarmId": "s-<1>", "totalCost": 2.5, "results": [1, 2]});
    let message = message_for("swarm:complete", data);
    assert_eq!(header_of(&message), "Dash event swarm:complete");
    assert_eq!(
        message["blocks"][1]["text"]["text"],
        "Dash event `swarm:complete`"
    );
    assert_eq!(fields_of(&message), ["Swarm: s-&lt;1&gt;", "Cost: $2.50"]);
}

#[test]
fn missing_or_odd_typed_fields_are_left_out() {
    let odd = json!({"task": 5, "durationMs": "long", "cost": null, "agentId": {"x": 1},
        "current": "42", "limit": [], "error": false});
    for event_type in ["agent:complete", "budget:warning", "agent:error", "made:up"] {
        for data in [json!({}), odd.clone()] {
            let message = message_for(event_type, data);
            assert!(fields_of(&message).is_empty(), "{event_type}: {message}");
            assert!(message["text"].is_string());
            for block in message["blocks"].as_array().unwrap() {
                assert!(
                    block["text"].is_object()
                        || block["fields"].is_array()
                        || block["elements"].is_array()
                );
            }
        }
    }
    let bare = message(&json!({"type": "agent:complete"}));
    assert_eq!(
        bare["blocks"].as_array().unwrap().len(),
        1,
        "only the header: {bare}"
    );
}

#[test]
fn durations_and_costs_read_well() {
    let cases = [
        (0.0, "0 ms"),
        (850.0, "850 ms"),
        (5000.0, "5 s"),
        (83_400.0, "1 m 23 s"),
        (7_500_000.0, "2 h 5 m"),
    ];
    for (ms, expected) in cases {
        assert_eq!(duration(ms), expected);
    }
    assert_eq!(cost(0.05), "$0.0500");
    assert_eq!(cost(12.345), "$12.35");
    assert_eq!(escape("a&b<c>"), "a&amp;b&lt;c&gt;");
}
