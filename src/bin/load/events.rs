//! The events a run sends, signed before the clock starts: Dash's documented types in a
//! realistic mix, bodies of 300–800 bytes, timestamps spread over a month.

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

/// One pre-signed delivery.
pub struct Delivery {
    /// The JSON body.
    pub body: Bytes,
    /// Its `X-Dash-Signature`.
    pub signature: String,
    /// Whether this delivery resends an id sent earlier in the plan.
    pub is_resend: bool,
}

/// The deliveries of a run, in sending order.
pub struct Plan {
    /// Every delivery; resends share the body and signature of their original.
    pub deliveries: Vec<Delivery>,
}

impl Plan {
    /// `total` deliveries, of which about `duplicate_share` resend an earlier one.
    pub fn build(total: usize, duplicate_share: f64, secret: &str) -> Self {
        let mut rng = fastrand::Rng::new();
        let start = chrono::Utc::now().timestamp() - MONTH_SECONDS;
        let mut deliveries: Vec<Delivery> = Vec::with_capacity(total);
        let mut originals: Vec<usize> = Vec::new();
        for _ in 0..total {
            if !originals.is_empty() && rng.f64() < duplicate_share {
                let original = &deliveries[originals[rng.usize(..originals.len())]];
                let (body, signature) = (original.body.clone(), original.signature.clone());
                deliveries.push(Delivery {
                    body,
                    signature,
                    is_resend: true,
                });
                continue;
            }
            let body = Bytes::from(event_body(&mut rng, start));
            let signature = sign(secret.as_bytes(), &body);
            originals.push(deliveries.len());
            deliveries.push(Delivery {
                body,
                signature,
                is_resend: false,
            });
        }
        Self { deliveries }
    }
}

fn event_body(rng: &mut fastrand::Rng, month_start: i64) -> String {
    let event_type = pick_type(rng);
    let seconds = month_start + rng.i64(0..MONTH_SECONDS);
    let timestamp = chrono::DateTime::from_timestamp(seconds, rng.u32(0..1000) * 1_000_000)
        .expect("within range")
        .format("%Y-%m-%dT%H:%M:%S%.3fZ");
    let mut data = dash_events::send_test::sample_data(event_type, rng.u64(0..10_000));
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
        let plan = Plan::build(500, 0.2, "k");
        for delivery in &plan.deliveries {
            let event = dash_events::event::parse_delivery(delivery.body.clone()).expect("valid");
            assert!(
                (290..=820).contains(&delivery.body.len()),
                "{} bytes",
                delivery.body.len()
            );
            assert!(dash_events::event::DOCUMENTED_TYPES.contains(&event.event_type.as_str()));
        }
        let resends = plan.deliveries.iter().filter(|d| d.is_resend).count();
        assert!((50..=150).contains(&resends), "{resends} resends of 500");
    }
}
