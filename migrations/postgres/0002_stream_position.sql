-- A stream position and the signature that verified each delivery.
--
-- Several writers and several receivers commit concurrently, so a sequence is not in commit
-- order: a reader could pass seq 11 while seq 10 is still uncommitted, and miss it for good.
-- Each row records instead the transaction that inserted it. A reader only returns rows whose
-- transaction is below the xmin horizon of a current snapshot (every transaction below it has
-- finished, so no row can later appear behind the reader's position) in (txid, id) order.
-- Existing rows get the migration's own transaction id, which is below every later one.
alter table events add column txid xid8 not null default pg_current_xact_id();

-- The 32 raw bytes of the HMAC that verified the delivery; null for rows stored before this.
alter table events add column signature bytea;

-- Appended to on the right (transaction ids grow), so it costs an insert little.
create index events_by_txid on events (txid, id);
