//! Inserting a batch of events in one transaction: one multi-row insert that skips ids already
//! stored, then for the events it did insert their new types, an upsert of their daily and
//! hourly totals, their group totals and their notifications (see `outbox`, also for a copy's), and one commit (one
//! fsync). Rows are inserted in id order and totals in (type, day) then (type, hour) order, so
//! two receivers writing overlapping batches take their locks in the same order. The stored
//! hashes of the skipped ids decide duplicate or conflict.

use super::StoreError;
use std::collections::{BTreeSet, HashMap, HashSet};

use sqlx::{Connection, Database, Encode, QueryBuilder, Type};

use super::outbox::{self, Outbox};
use super::{InsertOutcome, Store, group_totals, hours, on_pool, rollup};
use crate::event::NewEvent;

const INSERT_EVENTS: &str = "insert into events (id, type, ts_us, received_us, content_hash, \
    cost, duration_ms, body, signature, agent_id, swarm_id, workflow_id, instance_id, \
    webhook_id, total_cost) ";
const INSERT_TYPES: &str = "insert into event_types (type) ";
const SELECT_HASHES: &str = "select id, content_hash from events where id in (";
pub(super) const UPSERT_STATS: &str = "insert into event_stats \
    (type, day_us, shard, events, cost_sum, duration_sum, duration_count) ";
pub(super) const UPSERT_STATS_CONFLICT: &str = " on conflict (type, day_us, shard) do update set \
    events = event_stats.events + excluded.events, \
    cost_sum = event_stats.cost_sum + excluded.cost_sum, \
    duration_sum = event_stats.duration_sum + excluded.duration_sum, \
    duration_count = event_stats.duration_count + excluded.duration_count";

/// A notification to record for an event if this batch is what stores it: one per event and
/// matching rule, computed by the caller (see `ingest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingNotification<'a> {
    /// The event it is about.
    pub event_id: &'a str,
    /// The rule that matched.
    pub rule: &'a str,
    /// When it is first due (the event's time of receipt).
    pub due_us: i64,
}

/// Events with their time of receipt.
type Rows<'a> = Vec<(&'a NewEvent, i64)>;

/// What one batch did: each event's outcome, and how many notification rows it wrote.
type Written = (Vec<InsertOutcome>, u64);

impl Store {
    /// Stores each `(event, received_us)` whose id is free, records the types not in
    /// `known_types`, adds the new events to the daily and hourly totals (in row `shard` of
    /// their day and hour) and records the `notifications` of the events it stored, in one
    /// transaction; returns the outcome of each event, in order.
    pub async fn insert_batch(
        &self,
        events: &[(&NewEvent, i64)],
        shard: i32,
        known_types: &HashSet<Vec<u8>>,
        notifications: &[PendingNotification<'_>],
    ) -> Result<Vec<InsertOutcome>, StoreError> {
        let written = self.write_batch(events, shard, known_types, Outbox::Due(notifications));
        Ok(written.await?.0)
    }

    /// `insert_batch` recording `outbox`; also answers how many notification rows it wrote.
    pub(super) async fn write_batch(
        &self,
        events: &[(&NewEvent, i64)],
        shard: i32,
        known_types: &HashSet<Vec<u8>>,
        outbox: Outbox<'_>,
    ) -> Result<(Vec<InsertOutcome>, u64), StoreError> {
        let rows = first_of_each_id(events);
        let written: Written = on_pool!(self, write, pool => {
            let mut conn = pool.acquire().await?;
            let written: Result<Written, sqlx::Error> = async {
                let mut tx = Connection::begin(&mut *conn).await?;
                let mut insert = insert_events(&rows);
                insert.push(" returning id");
                let inserted: Vec<String> = insert.build_query_scalar().fetch_all(&mut *tx).await?;
                let fresh: HashSet<&str> = inserted.iter().map(String::as_str).collect();
                let (new_rows, taken): (Rows, Rows) =
                    rows.iter().copied().partition(|(e, _)| fresh.contains(e.id.as_str()));
                let new_events: Vec<&NewEvent> = new_rows.iter().map(|(e, _)| *e).collect();
                for mut query in side_tables(&new_events, shard, known_types) {
                    query.build().execute(&mut *tx).await?;
                }
                let stored: Vec<(String, Vec<u8>)> = if taken.is_empty() {
                    Vec::new()
                } else {
                    let ids = taken.iter().map(|(e, _)| e.id.as_str());
                    select_hashes(ids).build_query_as().fetch_all(&mut *tx).await?
                };
                let outcomes = outcomes(events, &inserted, stored);
                let held: HashSet<&str> = events
                    .iter()
                    .zip(&outcomes)
                    .filter(|(_, outcome)| **outcome != InsertOutcome::Conflict)
                    .map(|((e, _), _)| e.id.as_str())
                    .collect();
                let mut noted = 0;
                for mut query in outbox::statements(outbox, &fresh, &held) {
                    noted += query.build().execute(&mut *tx).await?.rows_affected();
                }
                tx.commit().await?;
                Ok((outcomes, noted))
            }
            .await;
            if written.is_err() {
                // After a failed statement or COMMIT (disk full, I/O error) SQLite may already
                // have rolled the transaction back, and sqlx's count of open transactions on this
                // connection no longer matches: its next "transaction" would be a savepoint that
                // never commits, and acknowledged events would be lost. Never reuse it.
                let _ = conn.close().await;
            }
            written?
        });
        Ok(written)
    }
}

/// `insert … on conflict (id) do nothing` of `rows`, in their order.
fn insert_events<'a, DB>(rows: &'a [(&'a NewEvent, i64)]) -> QueryBuilder<'a, DB>
where
    DB: Database,
    i64: Encode<'a, DB> + Type<DB>,
    Option<f64>: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
    &'a [u8]: Encode<'a, DB> + Type<DB>,
    Option<&'a [u8]>: Encode<'a, DB> + Type<DB>,
    Option<&'a str>: Encode<'a, DB> + Type<DB>,
{
    let mut insert = QueryBuilder::new(INSERT_EVENTS);
    insert.push_values(rows, |mut row, (event, received_us)| {
        row.push_bind(event.id.as_str())
            .push_bind(event.event_type.as_bytes())
            .push_bind(event.timestamp_us)
            .push_bind(*received_us)
            .push_bind(event.content_hash.as_slice())
            .push_bind(event.cost)
            .push_bind(event.duration_ms)
            .push_bind(event.body.as_ref())
            .push_bind(event.signature.as_ref().map(<[u8; 32]>::as_slice));
        let audit = &event.audit;
        row.push_bind(audit.agent_id.as_deref())
            .push_bind(audit.swarm_id.as_deref())
            .push_bind(audit.workflow_id.as_deref())
            .push_bind(audit.instance_id.as_deref())
            .push_bind(audit.webhook_id.as_deref())
            .push_bind(audit.total_cost);
    });
    insert.push(" on conflict (id) do nothing");
    insert
}

/// `select id, content_hash` of the stored events among `ids`.
fn select_hashes<'a, DB>(ids: impl Iterator<Item = &'a str>) -> QueryBuilder<'a, DB>
where
    DB: Database,
    &'a str: Encode<'a, DB> + Type<DB>,
{
    let mut select = QueryBuilder::new(SELECT_HASHES);
    let mut listed = select.separated(", ");
    for id in ids {
        listed.push_bind(id);
    }
    select.push(")");
    select
}

/// The statements that keep `event_types`, `event_stats` and `event_hours` in step with
/// `new_events`.
fn side_tables<'a, DB>(
    new_events: &[&'a NewEvent],
    shard: i32,
    known_types: &HashSet<Vec<u8>>,
) -> Vec<QueryBuilder<'a, DB>>
where
    DB: Database,
    i32: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
    f64: Encode<'a, DB> + Type<DB>,
    Option<f64>: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
    &'a [u8]: Encode<'a, DB> + Type<DB>,
{
    let buckets = rollup::buckets(new_events.iter().copied());
    let mut queries = Vec::new();
    let new_types: BTreeSet<&[u8]> = buckets
        .iter()
        .map(|b| b.event_type)
        .filter(|t| !known_types.contains(*t))
        .collect();
    if !new_types.is_empty() {
        let mut types = QueryBuilder::new(INSERT_TYPES);
        types.push_values(new_types, |mut row, event_type| {
            row.push_bind(event_type);
        });
        types.push(" on conflict (type) do nothing");
        queries.push(types);
    }
    if !buckets.is_empty() {
        let mut upsert = QueryBuilder::new(UPSERT_STATS);
        upsert.push_values(buckets, |mut row, bucket| {
            row.push_bind(bucket.event_type)
                .push_bind(bucket.day_us)
                .push_bind(shard)
                .push_bind(bucket.events)
                .push_bind(bucket.cost_sum)
                .push_bind(bucket.duration_sum)
                .push_bind(bucket.duration_count);
        });
        upsert.push(UPSERT_STATS_CONFLICT);
        queries.push(upsert);
        let by_hour = hours::inserted_hours(new_events.iter().copied());
        queries.push(hours::upsert_hours(by_hour, shard));
        let by_group = group_totals::inserted_groups(new_events.iter().copied());
        let rows = by_group
            .into_iter()
            .map(|((t, key), totals)| (t, key, totals));
        queries.push(group_totals::upsert_groups(rows, shard));
    }
    queries
}

/// The first event of each distinct id, sorted by id.
fn first_of_each_id<'a>(events: &[(&'a NewEvent, i64)]) -> Vec<(&'a NewEvent, i64)> {
    let mut seen = HashSet::new();
    let mut rows: Vec<_> = events
        .iter()
        .copied()
        .filter(|(e, _)| seen.insert(e.id.as_str()))
        .collect();
    rows.sort_unstable_by(|a, b| a.0.id.cmp(&b.0.id));
    rows
}

/// Decides each event's outcome: the first event of a newly inserted id is `Stored`; every other
/// event is compared with the content now stored under its id (inserted by this batch or before).
fn outcomes(
    events: &[(&NewEvent, i64)],
    inserted: &[String],
    stored: Vec<(String, Vec<u8>)>,
) -> Vec<InsertOutcome> {
    let mut content: HashMap<&str, &[u8]> = stored
        .iter()
        .map(|(id, h)| (id.as_str(), h.as_slice()))
        .collect();
    let mut fresh: HashSet<&str> = inserted.iter().map(String::as_str).collect();
    events
        .iter()
        .map(|(event, _)| {
            let id = event.id.as_str();
            if fresh.remove(id) {
                content.insert(id, &event.content_hash);
                return InsertOutcome::Stored;
            }
            match content.get(id) {
                Some(hash) if *hash == event.content_hash.as_slice() => InsertOutcome::Duplicate,
                _ => InsertOutcome::Conflict,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn event(id: &str, hash: u8) -> NewEvent {
        NewEvent {
            id: id.into(),
            event_type: "t".into(),
            timestamp_us: 0,
            content_hash: vec![hash],
            cost: None,
            duration_ms: None,
            body: Bytes::new(),
            signature: None,
            audit: Default::default(),
        }
    }

    #[test]
    fn duplicates_within_a_batch_are_inserted_once_in_id_order() {
        let (a1, b, a2) = (event("a", 1), event("b", 1), event("a", 1));
        let events = [(&b, 0), (&a1, 0), (&a2, 0)];
        let rows = first_of_each_id(&events);
        let ids: Vec<&str> = rows.iter().map(|(e, _)| e.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
    }

    #[test]
    fn outcomes_follow_the_first_occurrence_in_the_batch() {
        let (a1, a_same, a_other) = (event("a", 1), event("a", 1), event("a", 2));
        let events = [(&a1, 0), (&a_same, 0), (&a_other, 0)];
        let result = outcomes(&events, &["a".into()], vec![]);
        use InsertOutcome::*;
        assert_eq!(result, [Stored, Duplicate, Conflict]);
    }

    #[test]
    fn outcomes_compare_with_what_was_stored_before() {
        let (same, other, new) = (event("x", 7), event("y", 1), event("z", 1));
        let events = [(&same, 0), (&other, 0), (&new, 0)];
        let stored = vec![("x".into(), vec![7]), ("y".into(), vec![9])];
        let result = outcomes(&events, &["z".into()], stored);
        use InsertOutcome::*;
        assert_eq!(result, [Duplicate, Conflict, Stored]);
    }
}
