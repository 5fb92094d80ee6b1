-- Text search (`q=` on GET /events and its export, when the search index is on). Each event's
-- words (cut and lower-cased by the service, see `event::words`) are one FTS5 row whose rowid is
-- the event's seq, written in the transaction that stores the event and deleted in the one that
-- prunes it. Contentless (the words are not stored twice, only the index), with
-- contentless_delete so a prune can delete by rowid; detail=none keeps only which events hold a
-- word (no positions: a query is a set of words, never a phrase). The service has already cut
-- the words, so the `ascii` tokenizer only splits them on the spaces between them.
create virtual table event_words using fts5(
    words,
    content = '',
    contentless_delete = 1,
    detail = none,
    tokenize = 'ascii'
);

-- How far `dash-events search-index build` got: it indexes the events in seq order and records
-- the last one here in each batch's transaction, so an interrupted build resumes; the row is
-- deleted when a pass reaches the end.
create table search_build (
    id integer primary key check (id = 1),
    after_seq integer not null
);
