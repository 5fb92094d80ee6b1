-- Hourly totals per event type, maintained in the same transaction as the inserts, so /stats sums
-- at most a few thousand small rows instead of scanning the log. A bucket is split in shards
-- (several concurrent writers would otherwise all wait on the current hour's row lock); queries
-- add the shards up. hour_us is the event timestamp floored to the hour, in µs.
create table event_stats (
    type bytea not null,
    hour_us bigint not null,
    shard integer not null,
    events bigint not null,
    cost_sum double precision not null,
    duration_sum double precision not null,
    duration_count bigint not null,
    primary key (type, hour_us, shard)
);

-- Backfill from events stored before this migration.
insert into event_stats (type, hour_us, shard, events, cost_sum, duration_sum, duration_count)
select type, ts_us - ((ts_us % 3600000000) + 3600000000) % 3600000000, 0, count(*),
       coalesce(sum(cost), 0), coalesce(sum(duration_ms), 0), count(duration_ms)
from events
group by type, ts_us - ((ts_us % 3600000000) + 3600000000) % 3600000000;
