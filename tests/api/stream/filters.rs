//! The audit filters on `GET /events/stream`: a stream sends only the events matching its
//! `agentId` … `webhookId` and `data.` filters (with `type`, `since` and `until`), live and after
//! a resume with `Last-Event-ID`; on PostgreSQL also an event whose body the database's json
//! cannot read passes through the `data.` filter as no match, without failing the stream.

use serde_json::{Value, json};

use crate::backend::TestDb;
use crate::support::app::App;
use crate::support::sse::{Message, SseStream};

both_backends_on_stream_cluster!(audit_filters_select_what_is_streamed_live_and_on_resume);

/// The filters of the first stream: ids, types, a `data.` field and a window.
const BY_AGENT: [(&str, &str); 5] = [
    ("agentId", "a-1,a-2"),
    ("type", "agent:complete,agent:error"),
    ("data.n", "42"),
    ("since", "2026-11-28T00:00:00Z"),
    ("until", "2026-11-29T00:00:00Z"),
];
/// The filters of the second stream: every other id.
const BY_THE_OTHER_IDS: [(&str, &str); 4] = [
    ("swarmId", "s-1"),
    ("workflowId", "w-1"),
    ("instanceId", "i-1"),
    ("webhookId", "wh-1,wh-2"),
];

/// An event: (type, agent, swarm, workflow, instance, webhook, n, hour of 2026-11-28).
type Shape = (
    &'static str,
    Value,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Value,
    u32,
);

fn body(id: &str, shape: &Shape) -> Value {
    let (event_type, agent, swarm, workflow, instance, webhook, n, hour) = shape;
    json!({
        "id": id, "type": event_type,
        "timestamp": format!("2026-11-{}T{:02}:00:00Z", 28 + hour / 24, hour % 24),
        "data": { "agentId": agent, "swarmId": swarm, "workflowId": workflow, "n": n },
        "instanceId": instance, "webhookId": webhook,
    })
}

/// Events that match one stream, both, or neither (each differs from a match in one field).
fn shapes() -> Vec<Shape> {
    let (a, n) = (json!("a-1"), json!(42));
    vec![
        (
            "agent:complete",
            a.clone(),
            "s-1",
            "w-1",
            "i-1",
            "wh-1",
            n.clone(),
            10,
        ),
        (
            "agent:error",
            json!("a-2"),
            "s-2",
            "w-1",
            "i-1",
            "wh-1",
            json!(42.0),
            11,
        ),
        (
            "agent:start",
            a.clone(),
            "s-1",
            "w-1",
            "i-1",
            "wh-2",
            n.clone(),
            12,
        ),
        (
            "agent:complete",
            json!("a-3"),
            "s-1",
            "w-1",
            "i-1",
            "wh-2",
            n.clone(),
            12,
        ),
        (
            "agent:complete",
            a.clone(),
            "s-1",
            "w-1",
            "i-2",
            "wh-1",
            json!("42"),
            13,
        ),
        (
            "agent:complete",
            a.clone(),
            "s-1",
            "w-2",
            "i-1",
            "wh-1",
            json!(true),
            13,
        ),
        (
            "agent:complete",
            a.clone(),
            "s-1",
            "w-1",
            "i-1",
            "wh-3",
            n.clone(),
            14,
        ),
        (
            "agent:complete",
            json!(7),
            "s-1",
            "w-1",
            "i-1",
            "wh-1",
            n.clone(),
            15,
        ),
        (
            "agent:error",
            a.clone(),
            "s-1",
            "w-1",
            "i-1",
            "wh-1",
            n.clone(),
            24,
        ),
        (
            "agent:error",
            a.clone(),
            "s-9",
            "w-1",
            "i-1",
            "wh-1",
            n.clone(),
            23,
        ),
    ]
}

/// Whether `shape` passes `query`: the model the stream is checked against.
fn passes(shape: &Shape, query: &[(&str, &str)]) -> bool {
    let (event_type, agent, swarm, workflow, instance, webhook, n, hour) = shape;
    query.iter().all(|(name, values)| {
        let any = |field: &str| values.split(',').any(|v| v == field);
        match *name {
            "agentId" => agent.as_str().is_some_and(any),
            "type" => any(event_type),
            "data.n" => n.as_f64() == Some(42.0),
            "since" => true,
            "until" => *hour < 24,
            "swarmId" => any(swarm),
            "workflowId" => any(workflow),
            "instanceId" => any(instance),
            "webhookId" => any(webhook),
            other => panic!("no model of {other}"),
        }
    })
}

/// Stores every shape under a fresh id with `prefix`, answering the ids each query passes.
async fn store_shapes(app: &App, prefix: &str, queries: [&[(&str, &str)]; 2]) -> [Vec<String>; 2] {
    let mut expected = [Vec::new(), Vec::new()];
    for (n, shape) in shapes().iter().enumerate() {
        let id = format!("{prefix}-{n}");
        app.store(&body(&id, shape)).await;
        for (query, ids) in queries.iter().zip(expected.iter_mut()) {
            if passes(shape, query) {
                ids.push(id.clone());
            }
        }
    }
    expected
}

/// Reads `stream` until it has sent `expected` (a non-empty list), and checks it sent nothing else.
async fn assert_streams(stream: &mut SseStream, expected: &[String]) -> Vec<Message> {
    let last = expected.last().expect("a case with matches").clone();
    let received = stream
        .messages_until(|r| r.iter().any(|m| m.event_id() == last))
        .await;
    let ids: Vec<String> = received.iter().map(Message::event_id).collect();
    assert_eq!(
        ids, expected,
        "exactly the matching events, in commit order"
    );
    received
}

async fn audit_filters_select_what_is_streamed_live_and_on_resume(db: TestDb) {
    let app = App::start(&db).await;
    let queries: [&[(&str, &str)]; 2] = [&BY_AGENT, &BY_THE_OTHER_IDS];
    let mut by_agent = SseStream::open(&app, &BY_AGENT, None).await;
    let mut by_others = SseStream::open(&app, &BY_THE_OTHER_IDS, None).await;

    let [agent_ids, other_ids] = store_shapes(&app, "live", queries).await;
    let received = assert_streams(&mut by_agent, &agent_ids).await;
    assert_streams(&mut by_others, &other_ids).await;
    drop((by_agent, by_others));

    // Resumed after the first match, with more events stored while it was away.
    let after_first = received[0].id.clone();
    let [more_agent_ids, _] = store_shapes(&app, "later", queries).await;
    let mut resumed = SseStream::open(&app, &BY_AGENT, Some(&after_first)).await;
    let expected: Vec<String> = agent_ids[1..]
        .iter()
        .chain(&more_agent_ids)
        .cloned()
        .collect();
    assert_streams(&mut resumed, &expected).await;
}
