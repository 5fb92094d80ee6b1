//! What `dash-events copy` reads and writes: every event (with its time of receipt) and its
//! notifications, read from the source in id order a page at a time, and written to the target
//! through the batch insert (`batch`), which keeps the daily and hourly totals as ingest does.
//! Opening both ends, and telling two databases apart, is `open`.

mod open;

pub use open::{Identity, identity};

use std::collections::HashSet;

use bytes::Bytes;
use sqlx::{Database, Encode, QueryBuilder, Type};

use super::notifications::NotificationState;
use super::outbox::Outbox;
use super::{InsertOutcome, Store, StoreError, on_pool};
use crate::event::{AuditFields, NewEvent};
use crate::signature::DIGEST_LEN;

const SELECT_EVENTS: &str = "select id, type, ts_us, received_us, content_hash, cost, \
    duration_ms, body, signature from events where id > $1 order by id limit $2";
const SELECT_NOTIFICATIONS: &str = "select event_id, rule, state, attempts, next_attempt_us, \
    lease_until_us, last_error, created_us, sent_us from notifications where event_id in (";
const UPSERT_NOTIFICATIONS: &str = "insert into notifications (event_id, rule, state, \
    attempts, next_attempt_us, lease_until_us, last_error, created_us, sent_us) ";
// A row the target already holds is brought up to date only while it is pending there and the
// source's has moved on (attempted again, sent or dead): never back from sent or dead, so a
// rerun after a receiver on the target sent it cannot make it due again.
const UPSERT_NOTIFICATIONS_CONFLICT: &str = " on conflict (event_id, rule) do update set \
    state = excluded.state, attempts = excluded.attempts, \
    next_attempt_us = excluded.next_attempt_us, lease_until_us = excluded.lease_until_us, \
    last_error = excluded.last_error, sent_us = excluded.sent_us \
    where notifications.state = 'pending' \
    and (excluded.state <> 'pending' or excluded.attempts > notifications.attempts)";

/// Notification rows per statement, well below either backend's limit on bound values.
const NOTIFICATIONS_PER_STATEMENT: usize = 1000;

/// An event as stored, every column a copy carries over.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CopiedEvent {
    /// The event id.
    pub id: String,
    /// The type, as stored (UTF-8 bytes).
    #[sqlx(rename = "type")]
    pub event_type: Vec<u8>,
    /// The event's own time, µs since the epoch.
    pub ts_us: i64,
    /// When the source's receiver committed it, µs since the epoch.
    pub received_us: i64,
    /// The hash that tells a duplicate from a conflict.
    pub content_hash: Vec<u8>,
    /// `data.cost`.
    pub cost: Option<f64>,
    /// `data.durationMs`.
    pub duration_ms: Option<f64>,
    /// The exact bytes Dash signed.
    pub body: Vec<u8>,
    /// The HMAC that verified the delivery; `None` for rows stored before it was kept.
    pub signature: Option<Vec<u8>>,
}

impl CopiedEvent {
    /// The event to insert and its time of receipt; `Err` names what a row changed behind the
    /// service's back holds that no delivery could have.
    pub fn into_new_event(self) -> Result<(NewEvent, i64), String> {
        let event_type =
            String::from_utf8(self.event_type).map_err(|_| "a type that is not UTF-8")?;
        let signature = match self.signature {
            None => None,
            Some(digest) => Some(
                <[u8; DIGEST_LEN]>::try_from(digest)
                    .map_err(|_| format!("a signature that is not {DIGEST_LEN} bytes long"))?,
            ),
        };
        let audit = AuditFields::of_body(&self.body);
        let event = NewEvent {
            id: self.id,
            event_type,
            timestamp_us: self.ts_us,
            content_hash: self.content_hash,
            cost: self.cost,
            duration_ms: self.duration_ms,
            body: Bytes::from(self.body),
            signature,
            audit,
        };
        Ok((event, self.received_us))
    }
}

/// A notification row, every column but its id (the target numbers its own rows).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CopiedNotification {
    /// The event it is about.
    pub event_id: String,
    /// The rule that matched.
    pub rule: String,
    /// Where it stands.
    pub state: NotificationState,
    /// Attempts made.
    pub attempts: i32,
    /// When it is next due.
    pub next_attempt_us: i64,
    /// Until when a worker holds it.
    pub lease_until_us: Option<i64>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was recorded.
    pub created_us: i64,
    /// When the endpoint accepted it.
    pub sent_us: Option<i64>,
}

impl Store {
    /// Up to `limit` events with an id after `after` (`""` for the first page), in id order.
    pub async fn events_after(
        &self,
        after: &str,
        limit: u32,
    ) -> Result<Vec<CopiedEvent>, StoreError> {
        on_pool!(self, read, pool => {
            Ok(sqlx::query_as(SELECT_EVENTS)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?)
        })
    }

    /// The notifications of the events `ids`, in the order they were recorded.
    pub async fn notifications_of(
        &self,
        ids: &[&str],
    ) -> Result<Vec<CopiedNotification>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        on_pool!(self, read, pool => {
            let mut select = QueryBuilder::new(SELECT_NOTIFICATIONS);
            let mut listed = select.separated(", ");
            for id in ids {
                listed.push_bind(*id);
            }
            select.push(") order by id");
            Ok(select.build_query_as().fetch_all(pool).await?)
        })
    }

    /// Stores `events` as `insert_batch` does (the totals included, in shard 0), and records the
    /// `notifications` of those it stored or already held with the same content, in one
    /// transaction; answers each event's outcome and how many notification rows were written.
    pub async fn copy_batch(
        &self,
        events: &[(&NewEvent, i64)],
        known_types: &HashSet<Vec<u8>>,
        notifications: &[CopiedNotification],
    ) -> Result<(Vec<InsertOutcome>, u64), StoreError> {
        let outbox = Outbox::Copied(notifications);
        self.write_batch(events, 0, known_types, outbox).await
    }
}

/// The upserts of `rows` into `notifications` (see `UPSERT_NOTIFICATIONS_CONFLICT`).
pub(super) fn upsert_notifications<'a, DB>(
    rows: &[&'a CopiedNotification],
) -> Vec<QueryBuilder<'a, DB>>
where
    DB: Database,
    i32: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
    Option<i64>: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
    Option<&'a str>: Encode<'a, DB> + Type<DB>,
    NotificationState: Encode<'a, DB> + Type<DB>,
{
    rows.chunks(NOTIFICATIONS_PER_STATEMENT)
        .map(|chunk| {
            let mut upsert = QueryBuilder::new(UPSERT_NOTIFICATIONS);
            upsert.push_values(chunk, |mut row, n| {
                row.push_bind(n.event_id.as_str())
                    .push_bind(n.rule.as_str())
                    .push_bind(n.state)
                    .push_bind(n.attempts)
                    .push_bind(n.next_attempt_us)
                    .push_bind(n.lease_until_us)
                    .push_bind(n.last_error.as_deref())
                    .push_bind(n.created_us)
                    .push_bind(n.sent_us);
            });
            upsert.push(UPSERT_NOTIFICATIONS_CONFLICT);
            upsert
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::notifications::tests::assert_only_states_quoted;

    fn row() -> CopiedEvent {
        CopiedEvent {
            id: "e1".into(),
            event_type: b"agent:complete".to_vec(),
            ts_us: 1,
            received_us: 2,
            content_hash: vec![3],
            cost: Some(0.5),
            duration_ms: None,
            body: b"{}".to_vec(),
            signature: Some(vec![9; DIGEST_LEN]),
        }
    }

    #[test]
    fn a_stored_row_becomes_the_same_event_with_its_time_of_receipt() {
        let (event, received_us) = row().into_new_event().expect("a valid row");
        assert_eq!(received_us, 2);
        assert_eq!(event.signature, Some([9; DIGEST_LEN]));
        assert_eq!(
            (event.event_type.as_str(), event.timestamp_us),
            ("agent:complete", 1)
        );
        let unsigned = CopiedEvent {
            signature: None,
            ..row()
        };
        assert_eq!(unsigned.into_new_event().expect("valid").0.signature, None);
    }

    #[test]
    fn rows_no_delivery_could_have_stored_are_refused_naming_the_column() {
        let bad_type = CopiedEvent {
            event_type: vec![0xff],
            ..row()
        };
        let short = CopiedEvent {
            signature: Some(vec![1; 5]),
            ..row()
        };
        assert!(bad_type.into_new_event().unwrap_err().contains("type"));
        assert!(short.into_new_event().unwrap_err().contains("signature"));
    }

    #[test]
    fn the_upsert_names_only_known_states() {
        assert_only_states_quoted(UPSERT_NOTIFICATIONS_CONFLICT);
    }
}
