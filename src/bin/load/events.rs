//! The events a run sends: Dash's documented types in a realistic mix, bodies of 300–800 bytes,
//! random UUIDv4 ids. Two traffic shapes: `backfill` spreads timestamps over the past month and
//! signs everything before the clock starts; `live` stamps each event with the time it is first
//! sent (as Dash does), so its body is finished and signed then. A resend always repeats the
//! exact bytes of its original, as Dash's retries do.

use std::sync::OnceLock;

use bytes::Bytes;
use dash_events::signature::sign;

/// How often each type occurs, out of 100: progress and completions dominate real swarms.
const MIX: [(&str, u32); 12] = [
    ("agent:complete", 30),
    ("agent:start", 20),
    ("swarm:progress", 15),
    ("workflow:step:complete", 10),
    ("agent:error", 5),
    ("swarm:start", 4),
    ("swarm:complete", 4),
    ("workflow:start", 4),
    ("workflow:complete", 4),
    ("budget:warning", 2),
    ("safety:block", 1),
    ("budget:exceeded", 1),
];
const MONTH_SECONDS: i64 = 30 * 24 * 3600;
const WORDS: [&str; 12] = [
    "summarise",
    "the",
    "open",
    "issues",
    "and",
    "draft",
    "release",
    "notes",
    "for",
    "review",
    "agent",
    "swarm",
];

/// When the events of a run say they happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    /// The time of sending, as Dash sends them: new rows cluster at the end of the time index.
    Live,
    /// Spread over the past month, as a replay of history: new rows land all over it.
    Backfill,
}

/// The placeholder a live body carries until it is sent: as long as a real timestamp.
const UNSTAMPED: &str = "0000-00-00T00:00:00.000Z";

/// One delivery of the plan.
pub struct Delivery {
    /// The body, with `UNSTAMPED` in place of the timestamp for a live original.
    template: Bytes,
    /// The delivery whose bytes this one sends: itself, or the original it resends.
    original: usize,
    /// The finished body and its `X-Dash-Signature`, once made.
    signed: OnceLock<(Bytes, String)>,
    /// Whether this delivery resends an id sent earlier in the plan.
    pub is_resend: bool,
}

/// The deliveries of a run, in sending order.
pub struct Plan {
    /// Every delivery; resends share the bytes of their original.
    deliveries: Vec<Delivery>,
    secret: String,
}

impl Plan {
    /// `total` deliveries, of which about `duplicate_share` resend an earlier one.
    pub fn build(total: usize, duplicate_share: f64, secret: &str, shape: Shape) -> Self {
        let mut rng = fastrand::Rng::new();
        let start = chrono::Utc::now().timestamp() - MONTH_SECONDS;
        let mut deliveries: Vec<Delivery> = Vec::with_capacity(total);
        let mut originals: Vec<usize> = Vec::new();
        for index in 0..total {
            if !originals.is_empty() && rng.f64() < duplicate_share {
                deliveries.push(Delivery {
                    template: Bytes::new(),
                    original: originals[rng.usize(..originals.len())],
                    signed: OnceLock::new(),
                    is_resend: true,
                });
                continue;
            }
            let timestamp = match shape {
                Shape::Live => UNSTAMPED.to_owned(),
                Shape::Backfill => backfill_time(&mut rng, start),
            };
            originals.push(index);
            deliveries.push(Delivery {
                template: Bytes::from(event_body(&mut rng, &timestamp)),
                original: index,
                signed: OnceLock::new(),
                is_resend: false,
            });
        }
        let plan = Self {
            deliveries,
            secret: secret.to_owned(),
        };
        if shape == Shape::Backfill {
            // Signing is then no part of the timed run.
            (0..total).for_each(|i| {
                plan.signed(i);
            });
        }
        plan
    }

    /// Delivery `index`, if the plan has it.
    pub fn get(&self, index: usize) -> Option<&Delivery> {
        self.deliveries.get(index)
    }

    /// The body and signature delivery `index` sends; a live original is stamped with the
    /// current time the first time it (or a resend of it) is sent.
    pub fn signed(&self, index: usize) -> &(Bytes, String) {
        let original = &self.deliveries[self.deliveries[index].original];
        original.signed.get_or_init(|| {
            let body = stamp(&original.template);
            let signature = sign(self.secret.as_bytes(), &body);
            (body, signature)
        })
    }
}

fn backfill_time(rng: &mut fastrand::Rng, month_start: i64) -> String {
    let millis = (month_start + rng.i64(0..MONTH_SECONDS)) * 1000 + rng.i64(0..1000);
    timestamp_of(millis)
}

/// Dash's timestamp format for `millis` since the Unix epoch.
pub fn timestamp_of(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .expect("within range")
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// `template` with its placeholder, if any, replaced by the current time.
fn stamp(template: &Bytes) -> Bytes {
    let Some(at) = find(template, UNSTAMPED.as_bytes()) else {
        return template.clone();
    };
    let now = timestamp_of(chrono::Utc::now().timestamp_millis());
    let mut body = template.to_vec();
    body[at..at + UNSTAMPED.len()].copy_from_slice(now.as_bytes());
    Bytes::from(body)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A body of the benchmark's shape with a random type and id, saying it happened at `timestamp`.
pub fn event_body(rng: &mut fastrand::Rng, timestamp: &str) -> String {
    let event_type = pick_type(rng);
    let mut data = dash_events::commands::send_test::sample_data(event_type, rng.u64(0..10_000));
    // Real payloads carry prose (task, results); it brings the body to 300–800 bytes.
    let target = rng.usize(300..=800);
    let envelope = |data: &serde_json::Value| {
        format!(
            r#"{{"id":"{}","type":"{event_type}","timestamp":"{timestamp}","data":{data},"webhookId":"wh_bench","instanceId":"inst_bench"}}"#,
            uuid::Uuid::new_v4()
        )
    };
    let bare = envelope(&data).len();
    data["notes"] = serde_json::Value::String(prose(rng, target.saturating_sub(bare + 11)));
    envelope(&data)
}

fn pick_type(rng: &mut fastrand::Rng) -> &'static str {
    let mut roll = rng.u32(0..100);
    for (event_type, weight) in MIX {
        if roll < weight {
            return event_type;
        }
        roll -= weight;
    }
    MIX[0].0
}

fn prose(rng: &mut fastrand::Rng, len: usize) -> String {
    let mut text = String::with_capacity(len + 12);
    while text.len() < len {
        text.push_str(WORDS[rng.usize(..WORDS.len())]);
        text.push(' ');
    }
    text.truncate(len);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_valid_events_of_the_requested_size() {
        for shape in [Shape::Live, Shape::Backfill] {
            let plan = Plan::build(500, 0.2, "k", shape);
            for index in 0..plan.deliveries.len() {
                let (body, signature) = plan.signed(index);
                let event = dash_events::event::parse_delivery(body.clone()).expect("valid");
                assert!((290..=820).contains(&body.len()), "{} bytes", body.len());
                assert!(dash_events::event::DOCUMENTED_TYPES.contains(&event.event_type.as_str()));
                assert_eq!(*signature, sign(b"k", body));
            }
            let resends = plan.deliveries.iter().filter(|d| d.is_resend).count();
            assert!((50..=150).contains(&resends), "{resends} resends of 500");
        }
    }

    #[test]
    fn live_events_carry_their_sending_time_and_resends_repeat_it() {
        let plan = Plan::build(200, 0.5, "k", Shape::Live);
        let before = chrono::Utc::now().timestamp_micros() / 1000 * 1000;
        let resend = (0..plan.deliveries.len())
            .find(|&i| plan.get(i).unwrap().is_resend)
            .unwrap();
        let (body, _) = plan.signed(resend);
        let event = dash_events::event::parse_delivery(body.clone()).expect("valid");
        assert!(
            event.timestamp_us >= before,
            "stamped at sending, not before"
        );
        let original = plan.get(resend).unwrap().original;
        assert_eq!(
            plan.signed(original).0,
            *body,
            "a resend repeats its original's bytes"
        );
    }
}
