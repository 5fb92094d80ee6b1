//! Reading events back, and the outcome of storing one (the insert itself is in `batch`).

use super::StoreError;
use sqlx::{Encode, QueryBuilder, Type};

use super::filters::{Driver, FilterSql, RangeKey, push_residual};
use super::{Store, on_pool};
use crate::query::ListParams;

const SELECT_EVENT: &str = "select id, ts_us, received_us, body from events where id = $1";
const SELECT_EVENTS: &str = "select id, ts_us, received_us, body from events";
const SELECT_KEYS: &str = "select ts_us, id from events";
const SELECT_PAGE_BY_KEYS: &str = "select id, ts_us, received_us, body from events \
    where id in (select id from (";
const SELECT_TYPES: &str = "select type from event_types";

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
    pub async fn get_event(&self, id: &str) -> Result<Option<StoredEvent>, StoreError> {
        on_pool!(self, read, pool => {
            Ok(sqlx::query_as(SELECT_EVENT).bind(id).fetch_optional(pool).await?)
        })
    }

    /// One page of events matching `params`, newest first, with one extra row (if there is
    /// one) so the caller knows whether another page follows. With a search, the page is read
    /// from the text index (see `search`).
    pub async fn list_events(&self, params: &ListParams) -> Result<Vec<StoredEvent>, StoreError> {
        if let Some(search) = &params.filters.search {
            return self.search_events(params, search).await;
        }
        let types = self.types_to_read(params).await?;
        let driver = Driver::of(&params.filters, &types);
        if driver.keys.is_empty() {
            return Ok(Vec::new());
        }
        on_pool!(self, read, pool => {
            let mut query = QueryBuilder::new("");
            push_page_query(&mut query, &driver, params);
            Ok(query.build_query_as().fetch_all(pool).await?)
        })
    }

    /// The database's plan for `list_events(params)`, one line per step: the evidence that
    /// pages are read through the index.
    pub async fn list_events_plan(&self, params: &ListParams) -> Result<Vec<String>, StoreError> {
        if let Some(search) = &params.filters.search {
            return self.search_events_plan(params, search).await;
        }
        let types = self.types_to_read(params).await?;
        let driver = Driver::of(&params.filters, &types);
        if driver.keys.is_empty() {
            return Ok(vec!["no event types stored: nothing to read".into()]);
        }
        match self {
            Self::Sqlite { reader, .. } => {
                let mut query = QueryBuilder::new("explain query plan ");
                push_page_query(&mut query, &driver, params);
                let steps: Vec<(i64, i64, i64, String)> =
                    query.build_query_as().fetch_all(reader).await?;
                Ok(steps.into_iter().map(|step| step.3).collect())
            }
            Self::Postgres { primary, replica } => {
                let mut query = QueryBuilder::new("explain ");
                push_page_query(&mut query, &driver, params);
                let pool = replica.as_ref().unwrap_or(primary);
                Ok(query.build_query_scalar().fetch_all(pool).await?)
            }
        }
    }

    /// Every type ever stored.
    pub async fn known_types(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        on_pool!(self, read, pool => Ok(sqlx::query_scalar(SELECT_TYPES).fetch_all(pool).await?))
    }

    /// The types whose ranges a page reads: none when an id filter drives it (the types asked
    /// for are then a residual condition), else those asked for, or every type stored.
    pub(super) async fn types_to_read(
        &self,
        params: &ListParams,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        if !Driver::by_type(&params.filters) {
            Ok(Vec::new())
        } else if params.types.is_empty() {
            self.known_types().await
        } else {
            Ok(params.types.iter().map(|t| t.as_bytes().to_vec()).collect())
        }
    }
}

/// A page over the driver's ranges (one per type, or per value of the driving id): each already
/// in page order and cut at the page size, merged by an outer sort of at most
/// `ranges × (limit + 1)` keys. (A single `type in (…)` range would make the database sort every
/// matching event.) Without residual filters the ranges read only their index; the bodies are
/// then fetched for the page's rows alone, not for every range's candidates (with a dozen types
/// that was twelve bodies read per body answered).
pub(super) fn push_page_query<'a, DB>(
    query: &mut QueryBuilder<'a, DB>,
    driver: &Driver<'a>,
    params: &'a ListParams,
) where
    DB: FilterSql,
    i64: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
    &'a [u8]: Encode<'a, DB> + Type<DB>,
{
    let page = i64::from(params.limit) + 1;
    if let [key] = driver.keys.as_slice() {
        query.push(SELECT_EVENTS);
        push_range(query, driver.column, *key, params);
        return;
    }
    query.push(SELECT_PAGE_BY_KEYS);
    for (n, key) in driver.keys.iter().enumerate() {
        if n > 0 {
            query.push(" union all ");
        }
        query.push("select * from (").push(SELECT_KEYS);
        push_range(query, driver.column, *key, params);
        // A generated alias, not input: derived tables must be named in PostgreSQL.
        query.push(format_args!(") as t{n}"));
    }
    query
        .push(" order by ts_us desc, id desc limit ")
        .push_bind(page)
        .push(") as page) order by ts_us desc, id desc");
}

/// The events of one range (one type, or one value of the driving id) in the window, after the
/// cursor, passing the residual filters, newest first, one page and one.
fn push_range<'a, DB>(
    query: &mut QueryBuilder<'a, DB>,
    column: &'static str,
    key: RangeKey<'a>,
    params: &'a ListParams,
) where
    DB: FilterSql,
    i64: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
    &'a [u8]: Encode<'a, DB> + Type<DB>,
{
    // `column` is `type` or a column of the fixed list in `IdFilter`, never input.
    query.push(format_args!(" where {column} = "));
    match key {
        RangeKey::Type(event_type) => query.push_bind(event_type),
        RangeKey::Id(id) => query.push_bind(id),
    };
    query
        .push(" and ts_us >= ")
        .push_bind(params.range.since_us);
    // One plain upper bound (see `page_end_us`): SQLite does not bound an index range by the
    // row value below, and would walk every newer entry to reach the cursor.
    query.push(" and ts_us < ").push_bind(params.page_end_us());
    if let Some(cursor) = &params.cursor {
        query
            .push(" and (ts_us, id) < (")
            .push_bind(cursor.timestamp_us);
        query.push(", ").push_bind(cursor.id.as_str()).push(")");
    }
    push_residual(query, &params.types, &params.filters, Some(column));
    query.push(" order by ts_us desc, id desc limit ");
    query.push_bind(i64::from(params.limit) + 1);
}
