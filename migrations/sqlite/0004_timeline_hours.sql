-- Hourly totals per type for /stats/timeline, maintained like event_stats (the daily totals of
-- /stats) in the transaction that inserts or prunes the events: a month of hour buckets adds up
-- a few rows per type and hour instead of reading every event of the month from the index. Only
-- the partial hours at the ends of a range are still read from the events. Shards as in
-- event_stats (the queries add them up); a prune subtracts in shard 0 and drops an hour's rows
-- once no event of the type is left in it. WITHOUT ROWID: the rows are small and always reached
-- by their key, so a timeline reads them in key order from one b-tree and an upsert writes one.
create table event_hours (
    type blob not null,
    hour_us integer not null,
    shard integer not null,
    events integer not null,
    cost_sum real not null,
    primary key (type, hour_us, shard)
) without rowid;

-- The events stored before this migration, in one pass. `%` truncates towards zero, so for a
-- timestamp before 1970 the remainder is negative: adding the hour and taking it again floors
-- towards the past, as the service does (`floor_hour`).
insert into event_hours (type, hour_us, shard, events, cost_sum)
select type, hour_us, 0, count(*), coalesce(sum(cost), 0)
from (
    select type, ts_us - ((ts_us % 3600000000) + 3600000000) % 3600000000 as hour_us, cost
    from events
) as stamped
group by type, hour_us;
