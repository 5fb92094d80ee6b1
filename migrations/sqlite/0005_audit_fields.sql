-- The audit questions (issue: by agent, swarm, workflow, instance; cost by group). The fields
-- they ask about are copied out of the body at insert (`event::AuditFields`), so that they can be
-- indexed and totalled without parsing JSON per row: an id only when it is a non-empty string,
-- `total_cost` only when `data.totalCost` is a number within the statistics' bound (1e15).
alter table events add column agent_id text;
alter table events add column swarm_id text;
alter table events add column workflow_id text;
alter table events add column instance_id text;
alter table events add column webhook_id text;
alter table events add column total_cost real;

-- The events stored before this migration, read from their bodies the way the service reads a
-- delivery. `cast(… as text)`: SQLite reads a blob argument as its binary JSONB format, and the
-- bodies are JSON text. A body SQLite cannot parse (none should exist) keeps NULLs, and so does an
-- id holding NUL (PostgreSQL text cannot, and both backends keep the same columns). An id written
-- with a surrogate escape (\ud800-\udfff) is left NULL too: SQLite turns a lone one into bytes
-- that are not UTF-8, which no reader could decode (such ids are indexed when delivered now).
update events set
    agent_id = (select case when json_type(j, '$.data.agentId') = 'text'
            and instr(lower(j -> '$.data.agentId'), '\u0000') = 0
            and instr(lower(j -> '$.data.agentId'), '\ud') = 0
        then nullif(json_extract(j, '$.data.agentId'), '') end
        from (select cast(events.body as text) as j) where json_valid(j)),
    swarm_id = (select case when json_type(j, '$.data.swarmId') = 'text'
            and instr(lower(j -> '$.data.swarmId'), '\u0000') = 0
            and instr(lower(j -> '$.data.swarmId'), '\ud') = 0
        then nullif(json_extract(j, '$.data.swarmId'), '') end
        from (select cast(events.body as text) as j) where json_valid(j)),
    workflow_id = (select case when json_type(j, '$.data.workflowId') = 'text'
            and instr(lower(j -> '$.data.workflowId'), '\u0000') = 0
            and instr(lower(j -> '$.data.workflowId'), '\ud') = 0
        then nullif(json_extract(j, '$.data.workflowId'), '') end
        from (select cast(events.body as text) as j) where json_valid(j)),
    instance_id = (select case when json_type(j, '$.instanceId') = 'text'
            and instr(lower(j -> '$.instanceId'), '\u0000') = 0
            and instr(lower(j -> '$.instanceId'), '\ud') = 0
        then nullif(json_extract(j, '$.instanceId'), '') end
        from (select cast(events.body as text) as j) where json_valid(j)),
    webhook_id = (select case when json_type(j, '$.webhookId') = 'text'
            and instr(lower(j -> '$.webhookId'), '\u0000') = 0
            and instr(lower(j -> '$.webhookId'), '\ud') = 0
        then nullif(json_extract(j, '$.webhookId'), '') end
        from (select cast(events.body as text) as j) where json_valid(j)),
    total_cost = (select case when json_type(j, '$.data.totalCost') in ('integer', 'real')
            and abs(json_extract(j, '$.data.totalCost')) <= 1e15
        then json_extract(j, '$.data.totalCost') end
        from (select cast(events.body as text) as j) where json_valid(j));

-- A page filtered by one of them reads its own range of one index, newest first, as a page
-- filtered by type does. Partial: most events carry one or two of the ids, and an index holds
-- only the events that have its field.
create index events_by_agent on events (agent_id, ts_us desc, id desc) where agent_id is not null;
create index events_by_swarm on events (swarm_id, ts_us desc, id desc) where swarm_id is not null;
create index events_by_workflow on events (workflow_id, ts_us desc, id desc)
    where workflow_id is not null;
create index events_by_instance on events (instance_id, ts_us desc, id desc)
    where instance_id is not null;
create index events_by_webhook on events (webhook_id, ts_us desc, id desc)
    where webhook_id is not null;

-- Totals per hour and combination of type and ids (the "cube" behind /stats/groups), kept like
-- event_hours in the transaction that inserts or prunes the events, so that a month grouped by
-- agent adds up a few rows per agent and hour instead of reading millions of events. '' stands
-- for an absent id (a key column cannot be NULL in a WITHOUT ROWID table, and no id is empty).
-- `duration_max` stays exact under prunes: a prune that removes a key's largest duration
-- recomputes that key's hour from its events (`store::group_totals`).
create table event_groups (
    hour_us integer not null,
    type blob not null,
    agent_id text not null,
    swarm_id text not null,
    workflow_id text not null,
    instance_id text not null,
    webhook_id text not null,
    shard integer not null,
    events integer not null,
    cost_sum real not null,
    total_cost_sum real not null,
    duration_count integer not null,
    duration_sum real not null,
    duration_max real,
    primary key (hour_us, type, agent_id, swarm_id, workflow_id, instance_id, webhook_id, shard)
) without rowid;

insert into event_groups
select hour_us, type, coalesce(agent_id, ''), coalesce(swarm_id, ''), coalesce(workflow_id, ''),
    coalesce(instance_id, ''), coalesce(webhook_id, ''), 0, count(*), coalesce(sum(cost), 0),
    coalesce(sum(total_cost), 0), count(duration_ms), coalesce(sum(duration_ms), 0),
    max(duration_ms)
from (
    select *, ts_us - ((ts_us % 3600000000) + 3600000000) % 3600000000 as hour_us from events
) as stamped
group by hour_us, type, agent_id, swarm_id, workflow_id, instance_id, webhook_id;
