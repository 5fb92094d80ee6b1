-- The type/time index and the five audit indexes in ascending order. Each range of these indexes
-- takes its new entries at its newest end. Descending, that end is the range's first leaf, and
-- SQLite rebalances a leaf that fills at the front with its siblings: several pages rewritten per
-- commit. Ascending, it is the last leaf, and the last range of an index (an installation's one
-- instance and webhook, the newest swarm) grows by whole new pages. Measured on a log of 10⁶
-- events under live traffic (`bench/wal_frames.py`): 18.1 KiB written per event against 19.6.
-- Pages are still read newest first: SQLite walks an ascending index backwards as cheaply.
drop index events_by_type_time;
create index events_by_type_time on events (type, ts_us, id, cost, duration_ms);

drop index events_by_agent;
create index events_by_agent on events (agent_id, ts_us, id) where agent_id is not null;
drop index events_by_swarm;
create index events_by_swarm on events (swarm_id, ts_us, id) where swarm_id is not null;
drop index events_by_workflow;
create index events_by_workflow on events (workflow_id, ts_us, id) where workflow_id is not null;
drop index events_by_instance;
create index events_by_instance on events (instance_id, ts_us, id) where instance_id is not null;
drop index events_by_webhook;
create index events_by_webhook on events (webhook_id, ts_us, id) where webhook_id is not null;
