-- Hourly totals per type for /stats/timeline, maintained like event_stats (the daily totals of
-- /stats) in the transaction that inserts or prunes the events: a month of hour buckets adds up
-- a few rows per type, hour and shard instead of reading every event of the month from the
-- index. Only the partial hours at the ends of a range are still read from the events. Shards
-- as in event_stats (concurrent writers would otherwise queue on one row lock per hour; the
-- queries add them up); a prune subtracts in shard 0 and drops an hour's rows once no event of
-- the type is left in it. Receivers of an older release still writing after this migration
-- would not add their events here: upgrade every receiver of the database together.
create table event_hours (
    type bytea not null,
    hour_us bigint not null,
    shard integer not null,
    events bigint not null,
    cost_sum double precision not null,
    primary key (type, hour_us, shard)
);

-- The events stored before this migration, in one pass, in the migration's transaction: a
-- receiver of this release migrates before it inserts, so none of its events is counted twice.
-- `%` truncates towards zero, so for a timestamp before 1970 the remainder is negative: adding
-- the hour and taking it again floors towards the past, as the service does (`floor_hour`).
insert into event_hours (type, hour_us, shard, events, cost_sum)
select type, hour_us, 0, count(*), coalesce(sum(cost), 0)
from (
    select type, ts_us - ((ts_us % 3600000000) + 3600000000) % 3600000000 as hour_us, cost
    from events
) as stamped
group by type, hour_us;
