//! Reading events back, and the outcome of storing one (the insert itself is in `batch`).

use sqlx::{Database, Encode, QueryBuilder, Type};

use super::{Store, on_pool};
use crate::query::ListParams;

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
            push_list_filters(&mut query, params);
            query.build_query_as().fetch_all(pool).await
        })
    }

    /// The database's plan for `list_events(params)`, one line per step: the evidence that
    /// the pages are read through an index.
    pub async fn list_events_plan(&self, params: &ListParams) -> Result<Vec<String>, sqlx::Error> {
        match self {
            Self::Sqlite { reader, .. } => {
                let mut query = QueryBuilder::new("explain query plan ");
                query.push(SELECT_EVENTS);
                push_list_filters(&mut query, params);
                let steps: Vec<(i64, i64, i64, String)> =
                    query.build_query_as().fetch_all(reader).await?;
                Ok(steps.into_iter().map(|step| step.3).collect())
            }
            Self::Postgres(pool) => {
                let mut query = QueryBuilder::new("explain ");
                query.push(SELECT_EVENTS);
                push_list_filters(&mut query, params);
                query.build_query_scalar().fetch_all(pool).await
            }
        }
    }
}

/// The filters, keyset position, order and limit of a page, after `SELECT_EVENTS`. Only
/// placeholders are pushed into the SQL: every value travels as a bound parameter.
fn push_list_filters<'a, DB>(query: &mut QueryBuilder<'a, DB>, params: &'a ListParams)
where
    DB: Database,
    i64: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
    &'a [u8]: Encode<'a, DB> + Type<DB>,
{
    query.push_bind(params.range.since_us);
    query.push(" and ts_us < ").push_bind(params.range.until_us);
    if !params.types.is_empty() {
        query.push(" and type in (");
        let mut types = query.separated(", ");
        for event_type in &params.types {
            types.push_bind(event_type.as_bytes());
        }
        query.push(")");
    }
    if let Some(cursor) = &params.cursor {
        // The plain bound lets SQLite start the index scan at the cursor; it does not use the
        // row value alone as a range bound, and would walk every newer entry to get there.
        query.push(" and ts_us <= ").push_bind(cursor.timestamp_us);
        query
            .push(" and (ts_us, id) < (")
            .push_bind(cursor.timestamp_us);
        query.push(", ").push_bind(cursor.id.as_str()).push(")");
    }
    query.push(" order by ts_us desc, id desc limit ");
    query.push_bind(i64::from(params.limit) + 1);
}
