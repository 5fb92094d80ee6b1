-- A stream position and the signature that verified each delivery.
--
-- `seq` is the rowid, made explicit: SQLite has one writer connection, so rowid order is commit
-- order, and `GET /events/stream` reads "every event after seq N" without gaps. AUTOINCREMENT
-- (against the usual advice) so that a seq is never handed out twice, even after every row was
-- deleted: a client resuming from an old position must not skip a newer event that reused it.
-- `signature` holds the 32 raw bytes of the HMAC that verified the delivery; rows stored before
-- this migration have none. SQLite cannot add a primary key to a table, so the table is rebuilt,
-- keeping its rows in their insertion order, and the id stays unique (the duplicate check).
create table events_new (
    seq integer primary key autoincrement,
    id text not null unique,
    type blob not null,
    ts_us integer not null,
    received_us integer not null,
    content_hash blob not null,
    cost real,
    duration_ms real,
    body blob not null,
    signature blob
);

insert into events_new (id, type, ts_us, received_us, content_hash, cost, duration_ms, body)
select id, type, ts_us, received_us, content_hash, cost, duration_ms, body
from events
order by rowid;

drop table events;
alter table events_new rename to events;

create index events_by_type_time on events (type, ts_us desc, id desc, cost, duration_ms);
