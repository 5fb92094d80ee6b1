//! Storing and reading events. A duplicate is decided by the database: the insert does nothing
//! when the id exists, and only then is the stored content compared, so the answer is right across
//! restarts and across receivers sharing one PostgreSQL table.

use sqlx::QueryBuilder;

use super::{Store, on_pool};
use crate::event::NewEvent;
use crate::query::ListParams;

const INSERT_EVENT: &str = "insert into events \
    (id, type, ts_us, received_us, content_hash, cost, duration_ms, body) \
    values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict (id) do nothing returning id";
const SELECT_CONTENT_HASH: &str = "select content_hash from events where id = $1";
const SELECT_EVENT: &str = "select id, ts_us, received_us, body from events where id = $1";
const SELECT_EVENTS: &str = "select id, ts_us, received_us, body from events where ts_us >= ";

/// What storing a delivery did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    /// The event is new and now committed.
    Stored,
    /// The same content was already stored under this id.
    Duplicate,
    /// Other content is stored under this id; it was left untouched.
    Conflict,
}

impl InsertOutcome {
    /// The label used in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stored => "stored",
            Self::Duplicate => "duplicate",
            Self::Conflict => "conflict",
        }
    }
}

/// An event as read back from the store.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredEvent {
    /// The event id.
    pub id: String,
    /// The event's own time, µs since the epoch.
    pub ts_us: i64,
    /// When this service committed it, µs since the epoch.
    pub received_us: i64,
    /// The exact bytes Dash signed.
    pub body: Vec<u8>,
}

impl Store {
    /// Stores `event` unless its id is taken, and says which case it was.
    #[tracing::instrument(skip_all, fields(event_id = %event.id, event_type = %event.event_type))]
    pub async fn insert_event(
        &self,
        event: &NewEvent,
        received_us: i64,
    ) -> Result<InsertOutcome, sqlx::Error> {
        let inserted: Option<String> = on_pool!(self, write, pool => {
            sqlx::query_scalar(INSERT_EVENT)
                .bind(&event.id)
                .bind(&event.event_type)
                .bind(event.timestamp_us)
                .bind(received_us)
                .bind(&event.content_hash)
                .bind(event.cost)
                .bind(event.duration_ms)
                .bind(event.body.as_ref())
                .fetch_optional(pool)
                .await?
        });
        if inserted.is_some() {
            return Ok(InsertOutcome::Stored);
        }
        let stored_hash: Vec<u8> = on_pool!(self, write, pool => {
            sqlx::query_scalar(SELECT_CONTENT_HASH).bind(&event.id).fetch_one(pool).await?
        });
        Ok(if stored_hash == event.content_hash {
            InsertOutcome::Duplicate
        } else {
            InsertOutcome::Conflict
        })
    }

    /// The event with this id, if stored.
    pub async fn get_event(&self, id: &str) -> Result<Option<StoredEvent>, sqlx::Error> {
        on_pool!(self, read, pool => {
            sqlx::query_as(SELECT_EVENT).bind(id).fetch_optional(pool).await
        })
    }

    /// One page of events matching `params`, newest first, with one extra row (if there is
    /// one) so the caller knows whether another page follows.
    pub async fn list_events(&self, params: &ListParams) -> Result<Vec<StoredEvent>, sqlx::Error> {
        on_pool!(self, read, pool => {
            let mut query = QueryBuilder::new(SELECT_EVENTS);
            query.push_bind(params.range.since_us);
            query.push(" and ts_us < ").push_bind(params.range.until_us);
            if !params.types.is_empty() {
                // Only placeholders are pushed: the values travel as bound parameters.
                query.push(" and type in (");
                let mut types = query.separated(", ");
                for event_type in &params.types {
                    types.push_bind(event_type.as_str());
                }
                query.push(")");
            }
            if let Some(cursor) = &params.cursor {
                query.push(" and (ts_us, id) < (").push_bind(cursor.timestamp_us);
                query.push(", ").push_bind(cursor.id.as_str()).push(")");
            }
            query.push(" order by ts_us desc, id desc limit ").push_bind(i64::from(params.limit) + 1);
            query.build_query_as().fetch_all(pool).await
        })
    }
}
