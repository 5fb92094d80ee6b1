-- One row per event id: the primary key is what makes a redelivery a duplicate. Times are
-- microseconds since the Unix epoch in both backends, so the same SQL orders and filters
-- chronologically everywhere. The body is the exact signed bytes (not a JSON type: those reorder
-- keys or refuse \u0000) and the type is kept as bytes for the same reason (PostgreSQL text cannot
-- hold NUL). The content hash decides whether a redelivery is a duplicate or a conflict.
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

-- Events of a type since a time, newest first. The recent events of all types are read through
-- it too, one range per type merged by the query, which spares every insert a second random
-- index page. Cost and duration make it covering for the partial days of /stats.
create index events_by_type_time on events (type, ts_us desc, id desc, cost, duration_ms);

-- The types ever stored, for the queries that merge one range per type.
create table event_types (
    type blob primary key
);

-- Daily totals per type, maintained in the insert's transaction, so /stats adds up a few rows
-- per day instead of scanning the log. A day's totals may be split in shards (several concurrent
-- writers would otherwise all wait on the same row lock); queries add the shards up.
create table event_stats (
    type blob not null,
    day_us integer not null,
    shard integer not null,
    events integer not null,
    cost_sum real not null,
    duration_sum real not null,
    duration_count integer not null,
    primary key (type, day_us, shard)
);
