//! The fields the audit questions ask about, copied out of the body when an event is stored so
//! that the database can index and total them: who did it (`data.agentId`, `data.swarmId`,
//! `data.workflowId`), which installation sent it (`instanceId`, `webhookId`) and what a swarm
//! cost in all (`data.totalCost`). The body stays the record; these are derived from it.

use serde_json::{Map, Value};

use super::{MAX_STATS_NUMBER, lenient};

/// The indexed fields of one event. An id is kept only when it is a non-empty string without
/// NUL: a number or an object under `agentId` is stored with the event but is not an agent id
/// to filter by.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFields {
    /// `data.agentId`.
    pub agent_id: Option<String>,
    /// `data.swarmId`.
    pub swarm_id: Option<String>,
    /// `data.workflowId`.
    pub workflow_id: Option<String>,
    /// Top-level `instanceId`.
    pub instance_id: Option<String>,
    /// Top-level `webhookId`.
    pub webhook_id: Option<String>,
    /// `data.totalCost` when it is a number within `MAX_STATS_NUMBER`.
    pub total_cost: Option<f64>,
}

impl AuditFields {
    /// The fields of an event whose top level is `object` (already validated).
    pub fn of(object: &Map<String, Value>) -> Self {
        let data = object.get("data").and_then(Value::as_object);
        let from_data = |field| data.and_then(|data| id_field(data, field));
        Self {
            agent_id: from_data("agentId"),
            swarm_id: from_data("swarmId"),
            workflow_id: from_data("workflowId"),
            instance_id: id_field(object, "instanceId"),
            webhook_id: id_field(object, "webhookId"),
            total_cost: data.and_then(|data| finite_number(data, "totalCost")),
        }
    }

    /// The fields of a stored body, read the way a delivery is; a body that is not a JSON
    /// object (none is ever stored) has none.
    pub fn of_body(body: &[u8]) -> Self {
        match lenient::parse::<Value>(body) {
            Ok((Value::Object(object), _)) => Self::of(&object),
            _ => Self::default(),
        }
    }
}

fn id_field(object: &Map<String, Value>, field: &str) -> Option<String> {
    object
        .get(field)
        .and_then(Value::as_str)
        // PostgreSQL text cannot hold NUL: such an id is stored in the body but not indexed.
        .filter(|id| !id.is_empty() && !id.contains('\0'))
        .map(str::to_owned)
}

/// A number a statistic may sum: finite and within `MAX_STATS_NUMBER`.
pub(super) fn finite_number(data: &Map<String, Value>, field: &str) -> Option<f64> {
    data.get(field)
        .and_then(Value::as_f64)
        .filter(|n| n.abs() <= MAX_STATS_NUMBER)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(body: &str) -> AuditFields {
        AuditFields::of_body(body.as_bytes())
    }

    #[test]
    fn ids_come_from_data_and_the_top_level() {
        let audit = fields(
            r#"{"data":{"agentId":"a-1","swarmId":"s-1","workflowId":"wf-1","totalCost":0.42},
                "instanceId":"inst","webhookId":"wh"}"#,
        );
        assert_eq!(audit.agent_id.as_deref(), Some("a-1"));
        assert_eq!(audit.swarm_id.as_deref(), Some("s-1"));
        assert_eq!(audit.workflow_id.as_deref(), Some("wf-1"));
        assert_eq!(audit.instance_id.as_deref(), Some("inst"));
        assert_eq!(audit.webhook_id.as_deref(), Some("wh"));
        assert_eq!(audit.total_cost, Some(0.42));
    }

    #[test]
    fn only_non_empty_strings_are_ids_and_only_bounded_numbers_are_costs() {
        let audit = fields(
            r#"{"data":{"agentId":7,"swarmId":"","workflowId":{"id":"x"},"totalCost":1e300},
                "agentId":"top-level is not data","instanceId":null}"#,
        );
        assert_eq!(audit, AuditFields::default());
        assert_eq!(fields(r#"{"data":{"totalCost":"3"}}"#).total_cost, None);
        assert_eq!(fields(r#"{"data":{"agentId":"a\u0000b"}}"#).agent_id, None);
    }

    #[test]
    fn bodies_that_are_not_objects_have_no_fields() {
        assert_eq!(fields("[1]"), AuditFields::default());
        assert_eq!(fields("{"), AuditFields::default());
        assert_eq!(fields(r#"{"data":[]}"#), AuditFields::default());
    }
}
