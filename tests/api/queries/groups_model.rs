//! What `/stats/groups` must answer, computed here from the events a test knows the log holds:
//! the events (every shape of id: strings, absent, empty, not a string), their bodies, the
//! groups of a window under filters in either order, and a check that pages every group of the
//! answer once (following `nextCursor`) and compares it with the model.

use std::collections::{BTreeMap, HashSet};

use chrono::DateTime;
use serde_json::{Map, Value, json};

use crate::support::app::App;

pub const HOUR_US: i64 = 3_600_000_000;
pub const DAY_US: i64 = 24 * HOUR_US;
/// 2026-11-27T22:00:00Z, µs.
pub const START_US: i64 = 1_795_816_800_000_000;

/// Every `by` of the API.
pub const BY: [&str; 7] = [
    "agentId",
    "swarmId",
    "workflowId",
    "instanceId",
    "webhookId",
    "type",
    "day",
];

/// An event as sent: its id and body.
#[derive(Debug, Clone)]
pub struct Sent {
    pub at: i64,
    pub body: Value,
}

/// A small deterministic generator (splitmix64), so that a failure can be replayed.
pub struct Rng(pub u64);

impl Rng {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len() as u64) as usize]
    }
}

/// An id field's value: mostly one of `names`, sometimes absent, empty or not a string (in
/// `data`; the top-level ids are a string or null).
fn id_value(rng: &mut Rng, names: &[&str], in_data: bool) -> Option<Value> {
    match rng.below(10) {
        0 => None,
        1 => Some(json!("")),
        2 if in_data => Some(json!(7)),
        2 => Some(Value::Null),
        _ => Some(json!(rng.pick(names))),
    }
}

/// An event at `at` of a random type, ids, cost, totalCost and duration (multiples of 1/64
/// and whole milliseconds: sums are exact, so orders are too).
pub fn random_event(rng: &mut Rng, id: &str, at: i64) -> Sent {
    let event_type = rng.pick(&[
        "agent:complete",
        "agent:error",
        "swarm:complete",
        "workflow:step:complete",
    ]);
    let mut data = Map::new();
    let fields = [
        ("agentId", &["agent-1", "agent-2", "agent-3", "agent-4"][..]),
        ("swarmId", &["swarm-a", "swarm-b"]),
        ("workflowId", &["wf-1", "wf-2", "wf-3"]),
    ];
    for (field, names) in fields {
        data.extend(id_value(rng, names, true).map(|v| (field.to_owned(), v)));
    }
    if rng.below(4) != 0 {
        data.insert("cost".into(), json!(rng.below(200) as f64 / 64.0));
    }
    match rng.below(6) {
        0 => data.insert("totalCost".into(), json!("0.5")),
        1 | 2 => data.insert("totalCost".into(), json!(rng.below(100) as f64 / 8.0)),
        _ => None,
    };
    if rng.below(3) != 0 {
        data.insert("durationMs".into(), json!(rng.below(10_000)));
    }
    data.insert("model".into(), json!(rng.pick(&["opus", "sonnet"])));
    let mut body = json!({ "id": id, "type": event_type, "timestamp": rfc3339(at), "data": data });
    for (field, names) in [
        ("instanceId", &["inst-1", "inst-2"][..]),
        ("webhookId", &["wh-1"]),
    ] {
        body.as_object_mut()
            .expect("an object")
            .extend(id_value(rng, names, false).map(|v| (field.to_owned(), v)));
    }
    Sent { at, body }
}

pub fn rfc3339(micros: i64) -> String {
    DateTime::from_timestamp_micros(micros)
        .expect("in range")
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// A question: a window (either bound open), types, id filters and `data.` filters.
#[derive(Debug, Clone, Default)]
pub struct Ask {
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// `(parameter, comma-separated values)`: `type`, `agentId`, …, `data.model`.
    pub filters: Vec<(&'static str, &'static str)>,
}

impl Ask {
    pub fn window(since: i64, until: i64) -> Self {
        Self {
            since: Some(since),
            until: Some(until),
            filters: Vec::new(),
        }
    }

    pub fn with(mut self, parameter: &'static str, values: &'static str) -> Self {
        self.filters.push((parameter, values));
        self
    }

    /// The query string's pairs.
    pub fn query(&self) -> Vec<(String, String)> {
        let mut query: Vec<(String, String)> = self
            .filters
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        query.extend(self.since.map(|s| ("since".into(), rfc3339(s))));
        query.extend(self.until.map(|u| ("until".into(), rfc3339(u))));
        query
    }

    /// Whether `sent` is counted.
    pub fn holds(&self, sent: &Sent) -> bool {
        let inside =
            self.since.is_none_or(|s| sent.at >= s) && self.until.is_none_or(|u| sent.at < u);
        inside
            && self.filters.iter().all(|(parameter, values)| {
                let field = match parameter.strip_prefix("data.") {
                    Some(field) => sent.body["data"]
                        .get(field)
                        .map(|v| v.to_string().trim_matches('"').to_owned()),
                    None => key_of(sent, parameter),
                };
                field.is_some_and(|f| values.split(',').any(|v| v == f))
            })
    }
}

/// The key of `sent` under `by` (or the field named by a filter parameter).
pub fn key_of(sent: &Sent, by: &str) -> Option<String> {
    let field = match by {
        "type" => return sent.body["type"].as_str().map(str::to_owned),
        "day" => {
            let day = sent.at - sent.at.rem_euclid(DAY_US);
            return Some(rfc3339(day)[..10].to_owned());
        }
        "instanceId" | "webhookId" => &sent.body[by],
        _ => &sent.body["data"][by],
    };
    field
        .as_str()
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}

/// A number as the statistics count it.
fn number(value: &Value) -> Option<f64> {
    value.as_f64()
}

/// The expected groups of `held` for `by` and `ask`, in the order of `sort`.
pub fn expected(held: &[Sent], by: &str, ask: &Ask, sort: &str) -> Vec<Value> {
    let mut groups: BTreeMap<Option<String>, (i64, f64, f64, Vec<f64>)> = BTreeMap::new();
    for sent in held.iter().filter(|s| ask.holds(s)) {
        let group = groups.entry(key_of(sent, by)).or_default();
        let data = &sent.body["data"];
        group.0 += 1;
        group.1 += number(&data["cost"]).unwrap_or(0.0);
        group.2 += number(&data["totalCost"]).unwrap_or(0.0);
        group.3.extend(number(&data["durationMs"]));
    }
    let mut listed: Vec<_> = groups.into_iter().collect();
    listed.sort_by(|(ka, a), (kb, b)| {
        let (cost, events) = (b.1.total_cmp(&a.1), b.0.cmp(&a.0));
        let metrics = if sort == "events" {
            events.then(cost)
        } else {
            cost.then(events)
        };
        metrics.then_with(|| (ka.is_none(), ka).cmp(&(kb.is_none(), kb)))
    });
    listed
        .into_iter()
        .map(|(key, (events, cost, total_cost, durations))| {
            let count = durations.len();
            let mean = (count > 0).then(|| durations.iter().sum::<f64>() / count as f64);
            let max = durations.iter().copied().reduce(f64::max);
            json!({ "key": key, "events": events, "cost": cost, "totalCost": total_cost,
                "durationCount": count, "durationMeanMs": mean, "durationMaxMs": max })
        })
        .collect()
}

/// Every group of the answer to `by`, `sort` and `ask`, read `limit` at a time; each key once.
pub async fn all_pages(app: &App, by: &str, sort: &str, ask: &Ask, limit: usize) -> Vec<Value> {
    let mut query = ask.query();
    query.extend([
        ("by".into(), by.into()),
        ("sort".into(), sort.into()),
        ("limit".into(), limit.to_string()),
    ]);
    let mut groups: Vec<Value> = Vec::new();
    loop {
        let pairs: Vec<(&str, &str)> = query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let (status, page) = app.get_query("/stats/groups", &pairs).await;
        assert_eq!(status, 200, "{pairs:?}: {page}");
        assert_eq!(page["by"], by, "{page}");
        let listed = page["groups"].as_array().expect("groups");
        assert!(listed.len() <= limit, "{pairs:?}: {page}");
        groups.extend(listed.iter().cloned());
        let Some(cursor) = page["nextCursor"].as_str() else {
            break;
        };
        query.retain(|(k, _)| k != "cursor");
        query.push(("cursor".into(), cursor.to_owned()));
    }
    let keys: HashSet<String> = groups.iter().map(|g| g["key"].to_string()).collect();
    assert_eq!(keys.len(), groups.len(), "a group came twice: {groups:?}");
    groups
}

/// Asks `ask` grouped by every `by`, in both orders, and compares each answer with the model.
pub async fn assert_groups(app: &App, held: &[Sent], ask: &Ask, limit: usize) {
    for by in BY {
        for sort in ["cost", "events"] {
            let answered = all_pages(app, by, sort, ask, limit).await;
            let expected = expected(held, by, ask, sort);
            let case = format!("by={by} sort={sort} {:?}", ask.query());
            assert_same_groups(&answered, &expected, &case);
        }
    }
}

fn assert_same_groups(answered: &[Value], expected: &[Value], case: &str) {
    let keys = |groups: &[Value]| groups.iter().map(|g| g["key"].clone()).collect::<Vec<_>>();
    assert_eq!(
        keys(answered),
        keys(expected),
        "{case}: the groups or their order differ"
    );
    for (a, e) in answered.iter().zip(expected) {
        for field in ["events", "durationCount", "durationMaxMs"] {
            assert_eq!(a[field], e[field], "{case}: {field} of {}", e["key"]);
        }
        for field in ["cost", "totalCost", "durationMeanMs"] {
            let close = match (a[field].as_f64(), e[field].as_f64()) {
                (Some(x), Some(y)) => (x - y).abs() < 1e-9,
                (x, y) => x == y,
            };
            assert!(
                close,
                "{case}: {field} of {}: {} != {}",
                e["key"], a[field], e[field]
            );
        }
    }
}
