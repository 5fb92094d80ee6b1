//! Inserting a batch of events with one statement, which commits on its own: one commit (one
//! fsync) per batch, and no statement journal, which an explicit transaction around a multi-row
//! insert would make SQLite write. Rows are inserted in id order, so two receivers inserting
//! overlapping batches lock keys in the same order; an id already stored is skipped by the
//! database. The stored hashes of the skipped ids are read afterwards (rows are never updated, so
//! the read cannot see a different version) and decide duplicate or conflict.

use std::collections::{HashMap, HashSet};

use sqlx::QueryBuilder;

use super::{InsertOutcome, Store, on_pool};
use crate::event::NewEvent;

const INSERT_EVENTS: &str =
    "insert into events (id, type, ts_us, received_us, content_hash, cost, duration_ms, body) ";
const SELECT_HASHES: &str = "select id, content_hash from events where id in (";

impl Store {
    /// Stores each `(event, received_us)` whose id is free, in one atomic statement, and returns
    /// the outcome of each, in order.
    pub async fn insert_batch(
        &self,
        events: &[(&NewEvent, i64)],
    ) -> Result<Vec<InsertOutcome>, sqlx::Error> {
        let rows = first_of_each_id(events);
        let (inserted, stored): (Vec<String>, Vec<(String, Vec<u8>)>) = on_pool!(self, write, pool => {

            let mut insert = QueryBuilder::new(INSERT_EVENTS);
            insert.push_values(&rows, |mut row, (event, received_us)| {
                row.push_bind(event.id.as_str())
                    .push_bind(event.event_type.as_bytes())
                    .push_bind(event.timestamp_us)
                    .push_bind(*received_us)
                    .push_bind(event.content_hash.as_slice())
                    .push_bind(event.cost)
                    .push_bind(event.duration_ms)
                    .push_bind(event.body.as_ref());
            });
            insert.push(" on conflict (id) do nothing returning id");
            let inserted: Vec<String> = insert.build_query_scalar().fetch_all(pool).await?;
            let taken = already_stored(&rows, &inserted);
            let stored = if taken.is_empty() {
                Vec::new()
            } else {
                let mut select = QueryBuilder::new(SELECT_HASHES);
                let mut ids = select.separated(", ");
                for id in &taken {
                    ids.push_bind(*id);
                }
                select.push(")");
                select.build_query_as().fetch_all(pool).await?
            };
            (inserted, stored)
        });
        Ok(outcomes(events, &inserted, stored))
    }
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

fn already_stored<'a>(rows: &[(&'a NewEvent, i64)], inserted: &[String]) -> Vec<&'a str> {
    let inserted: HashSet<&str> = inserted.iter().map(String::as_str).collect();
    rows.iter()
        .map(|(e, _)| e.id.as_str())
        .filter(|id| !inserted.contains(id))
        .collect()
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
