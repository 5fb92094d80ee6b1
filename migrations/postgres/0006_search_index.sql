-- Text search (`q=` on GET /events and its export, when the search index is on). Each event's
-- words (cut and lower-cased by the service, see `event::words`, so PostgreSQL's parser does not
-- decide what a word is) are one tsvector, written in the transaction that stores the event.
-- The type and time are kept beside them so a search filters and orders its matches here and
-- reads the events' bodies for one page only. The foreign key deletes the row with its event,
-- so a prune needs nothing more.
create table event_words (
    id text collate "C" primary key references events (id) on delete cascade,
    type bytea not null,
    ts_us bigint not null,
    words tsvector not null
);

create index event_words_match on event_words using gin (words);

-- How far `dash-events search-index build` got: it indexes the events in id order and records
-- the last one here in each batch's transaction, so an interrupted build resumes; the row is
-- deleted when a pass reaches the end.
create table search_build (
    id integer primary key check (id = 1),
    after_id text collate "C" not null
);
