-- The notification outbox: one row per (event, rule) that must be sent, inserted in the
-- transaction that stores the event, so an event is never stored without its notifications and
-- a redelivery (which inserts no event) never adds one. The row holds no URL and no body: the
-- worker reads the event from `events` and the URL from the rule in the configuration.
-- state: 'pending' (to send at next_attempt_us, unless a worker holds it until lease_until_us),
-- 'sent' or 'dead' (gave up after the configured attempts; an operator may retry it).
create table notifications (
    id bigserial primary key,
    event_id text collate "C" not null,
    rule text not null,
    state text not null,
    attempts integer not null,
    next_attempt_us bigint not null,
    lease_until_us bigint,
    last_error text,
    created_us bigint not null,
    sent_us bigint,
    unique (event_id, rule)
);

-- The worker's claim: the due pending rows, oldest due first.
create index notifications_due on notifications (state, next_attempt_us);

-- GET /notifications?state=…, newest first: the few dead rows among many sent ones, read through
-- the index instead of walking every id.
create index notifications_by_state on notifications (state, id);
