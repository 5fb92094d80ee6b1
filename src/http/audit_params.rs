//! The audit filters' query parameters as the OpenAPI document describes them, shared by the
//! operations that take them (`query::AuditFilters` parses them). `data.<field>` parameters have
//! no fixed name, so each operation's description tells of them instead.

use utoipa::IntoParams;

/// The named id filters.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "describes parameters read by AuditFilters::parse")]
pub struct AuditIdParams {
    /// Only events whose `data.agentId` is one of these: comma-separated or repeated, at most 20,
    /// none empty.
    #[param(rename = "agentId", pattern = "^[^,]+(,[^,]+)*$")]
    agent_id: Option<String>,
    /// Only events whose `data.swarmId` is one of these (as `agentId`).
    #[param(rename = "swarmId", pattern = "^[^,]+(,[^,]+)*$")]
    swarm_id: Option<String>,
    /// Only events whose `data.workflowId` is one of these (as `agentId`).
    #[param(rename = "workflowId", pattern = "^[^,]+(,[^,]+)*$")]
    workflow_id: Option<String>,
    /// Only events whose top-level `instanceId` is one of these (as `agentId`).
    #[param(rename = "instanceId", pattern = "^[^,]+(,[^,]+)*$")]
    instance_id: Option<String>,
    /// Only events whose top-level `webhookId` is one of these (as `agentId`).
    #[param(rename = "webhookId", pattern = "^[^,]+(,[^,]+)*$")]
    webhook_id: Option<String>,
}
