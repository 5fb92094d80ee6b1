-- One row per event id. Times are microseconds since the Unix epoch in both backends, so the
-- same SQL orders and filters chronologically everywhere. The body is the exact signed bytes
-- (bytea, not jsonb: jsonb reorders keys and refuses \u0000). Ids compare bytewise ("C") so
-- keyset pages tie-break exactly as SQLite does.
create table events (
    id text collate "C" primary key,
    type bytea not null,
    ts_us bigint not null,
    received_us bigint not null,
    content_hash bytea not null,
    cost double precision,
    duration_ms double precision,
    body bytea not null
);

-- The type is kept as bytes: Dash may send any JSON string, and PostgreSQL text cannot hold NUL.

-- The recent events, and the events of some types since a time, both newest first.
create index events_by_time on events (ts_us desc, id desc);
create index events_by_type_time on events (type, ts_us desc, id desc);
