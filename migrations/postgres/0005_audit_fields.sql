-- The audit questions (by agent, swarm, workflow, instance; cost by group). The fields they ask
-- about are copied out of the body at insert (`event::AuditFields`), so that they can be indexed
-- and totalled without parsing JSON per row: an id only when it is a non-empty string,
-- `total_cost` only when `data.totalCost` is a number within the statistics' bound (1e15).
alter table events
    add column agent_id text,
    add column swarm_id text,
    add column workflow_id text,
    add column instance_id text,
    add column webhook_id text,
    add column total_cost double precision;

-- A stored body as PostgreSQL's jsonb. PostgreSQL refuses some escapes the service accepts: \u0000
-- and lone surrogates. Such a body is read again with each \u0000 as U+FFFF (a noncharacter,
-- which makes an id holding it NULL below, as the service leaves an id holding NUL unindexed) and
-- each lone surrogate as U+FFFD (as the service reads it). NULL if even that fails.
create function dash_events_json(body bytea) returns jsonb
language plpgsql immutable parallel safe as $$
declare
    text_body text := convert_from(body, 'UTF8');
begin
    begin
        return text_body::jsonb;
    exception when others then
        null;
    end;
    text_body := regexp_replace(text_body, '\\u0000', '\\uffff', 'g');
    text_body := regexp_replace(text_body,
        '\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])', '\\ufffd', 'g');
    text_body := regexp_replace(text_body,
        '(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}', '\\ufffd', 'g');
    return text_body::jsonb;
exception when others then
    return null;
end
$$;

-- Fields of a stored body, or NULL when absent or of another kind. Also used by the unindexed
-- `data.<field>` filter.
create function dash_events_json_string(body bytea, path text[]) returns text
language plpgsql immutable parallel safe as $$
declare
    field jsonb;
begin
    -- In the body, not the declaration: only the body's errors reach the handler below.
    field := dash_events_json(body) #> path;
    if jsonb_typeof(field) = 'string' and strpos(field #>> '{}', U&'\FFFF') = 0 then
        return field #>> '{}';
    end if;
    return null;
exception when others then
    return null;
end
$$;

create function dash_events_json_number(body bytea, path text[]) returns double precision
language plpgsql immutable parallel safe as $$
declare
    field jsonb;
begin
    -- In the body, not the declaration: only the body's errors reach the handler below.
    field := dash_events_json(body) #> path;
    if jsonb_typeof(field) = 'number' then
        return (field #>> '{}')::double precision;
    end if;
    return null;
exception when others then
    return null;
end
$$;

create function dash_events_json_boolean(body bytea, path text[]) returns boolean
language plpgsql immutable parallel safe as $$
declare
    field jsonb;
begin
    -- In the body, not the declaration: only the body's errors reach the handler below.
    field := dash_events_json(body) #> path;
    if jsonb_typeof(field) = 'boolean' then
        return (field #>> '{}')::boolean;
    end if;
    return null;
exception when others then
    return null;
end
$$;

-- The events stored before this migration, read from their bodies the way the service reads a
-- delivery.
update events set
    agent_id = nullif(dash_events_json_string(body, '{data,agentId}'), ''),
    swarm_id = nullif(dash_events_json_string(body, '{data,swarmId}'), ''),
    workflow_id = nullif(dash_events_json_string(body, '{data,workflowId}'), ''),
    instance_id = nullif(dash_events_json_string(body, '{instanceId}'), ''),
    webhook_id = nullif(dash_events_json_string(body, '{webhookId}'), ''),
    total_cost = (select n from (select dash_events_json_number(body, '{data,totalCost}') as n)
        as parsed where abs(n) <= 1e15);

-- A page filtered by one of them reads its own range of one index, newest first, as a page
-- filtered by type does. Partial: an index holds only the events that have its field.
create index events_by_agent on events (agent_id, ts_us desc, id desc) where agent_id is not null;
create index events_by_swarm on events (swarm_id, ts_us desc, id desc) where swarm_id is not null;
create index events_by_workflow on events (workflow_id, ts_us desc, id desc)
    where workflow_id is not null;
create index events_by_instance on events (instance_id, ts_us desc, id desc)
    where instance_id is not null;
create index events_by_webhook on events (webhook_id, ts_us desc, id desc)
    where webhook_id is not null;

-- Totals per hour and combination of type and ids (the "cube" behind /stats/groups), kept like
-- event_hours in the transaction that inserts or prunes the events, with shards per writer as
-- there. '' stands for an absent id (no id is empty), so that the key has no NULLs and the
-- upsert's conflict target matches. `duration_max` stays exact under prunes: a prune that
-- removes a key's largest duration recomputes that key's hour from its events
-- (`store::group_totals`).
create table event_groups (
    hour_us bigint not null,
    type bytea not null,
    agent_id text not null,
    swarm_id text not null,
    workflow_id text not null,
    instance_id text not null,
    webhook_id text not null,
    shard integer not null,
    events bigint not null,
    cost_sum double precision not null,
    total_cost_sum double precision not null,
    duration_count bigint not null,
    duration_sum double precision not null,
    duration_max double precision,
    primary key (hour_us, type, agent_id, swarm_id, workflow_id, instance_id, webhook_id, shard)
);

insert into event_groups
select hour_us, type, coalesce(agent_id, ''), coalesce(swarm_id, ''), coalesce(workflow_id, ''),
    coalesce(instance_id, ''), coalesce(webhook_id, ''), 0, count(*), coalesce(sum(cost), 0),
    coalesce(sum(total_cost), 0), count(duration_ms), coalesce(sum(duration_ms), 0),
    max(duration_ms)
from (
    select *, ts_us - ((ts_us % 3600000000) + 3600000000) % 3600000000 as hour_us from events
) as stamped
group by hour_us, type, agent_id, swarm_id, workflow_id, instance_id, webhook_id;
