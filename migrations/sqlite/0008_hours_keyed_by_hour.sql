-- The hourly totals keyed hour first. Keyed type first, each type's current hour was the last row
-- of that type's range, on a leaf of its own: a batch updated one leaf per type it held (10 pages
-- per commit of ~57 events under the benchmark's mix of 12 types, `bench/wal_frames.py`). Hour
-- first, the current hour's rows of every type sit together on one leaf. A timeline reads the
-- hours of its range for all its types at once either way; for one type it now passes over the
-- other types' rows of those hours (12 per hour here) in the table.
create table event_hours_by_hour (
    type blob not null,
    hour_us integer not null,
    shard integer not null,
    events integer not null,
    cost_sum real not null,
    primary key (hour_us, type, shard)
) without rowid;

insert into event_hours_by_hour (type, hour_us, shard, events, cost_sum)
select type, hour_us, shard, events, cost_sum from event_hours;

drop table event_hours;
alter table event_hours_by_hour rename to event_hours;
