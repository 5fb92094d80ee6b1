-- One row per event id. Times are microseconds since the Unix epoch in both backends, so the
-- same SQL orders and filters chronologically everywhere. The body is the exact signed bytes;
-- the content hash decides whether a redelivery is a duplicate or a conflict.
create table events (
    id text primary key not null,
    type blob not null,
    ts_us integer not null,
    received_us integer not null,
    content_hash blob not null,
    cost real,
    duration_ms real,
    body blob not null
);

-- The type is kept as bytes: Dash may send any JSON string, and PostgreSQL text cannot hold NUL.

-- The recent events, and the events of some types since a time, both newest first.
create index events_by_time on events (ts_us desc, id desc);
create index events_by_type_time on events (type, ts_us desc, id desc);
