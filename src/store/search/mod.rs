//! Text search (`q=`): an index of each event's words (see `event::words`), SQLite FTS5 keyed by
//! the event's seq or a PostgreSQL tsvector under a GIN index, and the page of the events that
//! hold every word of a query. The index is optional (`SearchIndex`): a writer that keeps it adds
//! the words of the events it stores in the same transaction, a prune removes them with their
//! events whether or not it is on, and `build_search_batch` indexes an existing log, resumably.
//! A search reads its matches from the index, never the log: its cost grows with the number of
//! events that hold the words, filtered by type and window and sorted into pages after that.

mod build;

use std::collections::HashSet;

use sqlx::{Database, Encode, QueryBuilder, Type};

use super::filters::{FilterSql, IdFilter, push_residual};
use super::{Store, StoreError, StoredEvent, on_pool};
use crate::event::{NewEvent, event_words, query_words};
use crate::query::{AuditFilters, ListParams};

pub use build::BUILD_BATCH;

/// Whether writers keep the text index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SearchIndex {
    /// No words are written; `q=` is refused.
    #[default]
    Off,
    /// Each stored event's words are written with it.
    On,
}

// The events' words are already cut and lower-cased; SQLite's `ascii` tokenizer splits them on
// the spaces, PostgreSQL takes them as they are, as lexemes.
const INSERT_WORDS_SQLITE: &str =
    "insert into event_words (rowid, words) select events.seq, fresh.column2 from (";
const INSERT_WORDS_SQLITE_END: &str = ") as fresh join events on events.id = fresh.column1";
const INSERT_WORDS_PG: &str = "insert into event_words (id, type, ts_us, words) ";
const INSERT_WORDS_PG_CONFLICT: &str = " on conflict (id) do nothing";
const SPLIT_WORDS_PG: &str = "array_to_tsvector(string_to_array(";

/// On SQLite, a prune removes the words of the events it is about to delete: the same rows as
/// its `DELETE_OLDEST` (same statement text, same transaction on the single writer connection,
/// so the same plan over the same b-tree), read while their seqs still exist. On PostgreSQL the
/// foreign key deletes them with the events.
pub(super) const FORGET_OLDEST_SQLITE: &str = "delete from event_words where rowid in \
    (select seq from events where type = $1 and ts_us < $2 order by ts_us limit $3)";

const SEARCH_SQLITE: &str = "select events.id, events.ts_us, events.received_us, events.body \
    from event_words cross join events on events.seq = event_words.rowid \
    where event_words match ";
const SEARCH_PG: &str = "select id, ts_us, received_us, body from events where id in \
    (select id from event_words where words @@ ";

/// The words of each of `rows` to store with it when `index` is on, as one string (the words
/// separated by spaces); events without words are left out. Computed before the batch's
/// transaction, so the writer lock is not held while bodies are parsed.
pub(super) fn words_to_index<'a>(
    rows: &[(&'a NewEvent, i64)],
    index: SearchIndex,
) -> Vec<(&'a NewEvent, String)> {
    if index == SearchIndex::Off {
        return Vec::new();
    }
    rows.iter()
        .map(|(event, _)| (*event, event_words(&event.body).join(" ")))
        .filter(|(_, words)| !words.is_empty())
        .collect()
}

/// The insert of the words of the events this batch stored (`fresh`), if it stored any with
/// words.
pub(super) fn insert_words<'a, DB>(
    sqlite: bool,
    words: &'a [(&'a NewEvent, String)],
    fresh: &HashSet<&str>,
) -> Option<QueryBuilder<'a, DB>>
where
    DB: Database,
    i64: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
    &'a [u8]: Encode<'a, DB> + Type<DB>,
{
    let stored: Vec<_> = words
        .iter()
        .filter(|(event, _)| fresh.contains(event.id.as_str()))
        .collect();
    if stored.is_empty() {
        return None;
    }
    if sqlite {
        let mut insert = QueryBuilder::new(INSERT_WORDS_SQLITE);
        insert.push_values(stored, |mut row, (event, words)| {
            row.push_bind(event.id.as_str()).push_bind(words.as_str());
        });
        insert.push(INSERT_WORDS_SQLITE_END);
        return Some(insert);
    }
    let mut insert = QueryBuilder::new(INSERT_WORDS_PG);
    insert.push_values(stored, |mut row, (event, words)| {
        row.push_bind(event.id.as_str())
            .push_bind(event.event_type.as_bytes())
            .push_bind(event.timestamp_us)
            .push(SPLIT_WORDS_PG)
            .push_bind_unseparated(words.as_str())
            .push_unseparated(", ' '))");
    });
    insert.push(INSERT_WORDS_PG_CONFLICT);
    Some(insert)
}

impl Store {
    /// One page of the events holding every word of `params.search`, newest first, with one
    /// extra row (if there is one) so the caller knows whether another page follows: the page
    /// of `list_events`, its matches read from the text index.
    pub(super) async fn search_events(
        &self,
        params: &ListParams,
        search: &str,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let sqlite = self.is_sqlite();
        if query_words(search).is_empty() {
            // No letter or digit: no word to hold, so no event matches (and neither engine
            // takes an empty match expression).
            return Ok(Vec::new());
        }
        let matching = match_expression(sqlite, search);
        on_pool!(self, read, pool => {
            let mut query = QueryBuilder::new("");
            push_search_query(&mut query, sqlite, &matching, params);
            Ok(query.build_query_as().fetch_all(pool).await?)
        })
    }

    /// The database's plan for `search_events(params, search)`, one line per step.
    pub(super) async fn search_events_plan(
        &self,
        params: &ListParams,
        search: &str,
    ) -> Result<Vec<String>, StoreError> {
        let matching = match_expression(self.is_sqlite(), search);
        match self {
            Self::Sqlite { reader, .. } => {
                let mut query = QueryBuilder::new("explain query plan ");
                push_search_query(&mut query, true, &matching, params);
                let steps: Vec<(i64, i64, i64, String)> =
                    query.build_query_as().fetch_all(reader).await?;
                Ok(steps.into_iter().map(|step| step.3).collect())
            }
            Self::Postgres { primary, replica } => {
                let mut query = QueryBuilder::new("explain ");
                push_search_query(&mut query, false, &matching, params);
                let pool = replica.as_ref().unwrap_or(primary);
                Ok(query.build_query_scalar().fetch_all(pool).await?)
            }
        }
    }
}

/// The words of `search` as the backend's match expression: an FTS5 query of quoted words
/// (implicitly AND-ed) or a tsquery of quoted lexemes joined by `&`. Words hold only letters and
/// digits, so neither quoting can be escaped from; the expression is bound all the same.
fn match_expression(sqlite: bool, search: &str) -> String {
    let words = query_words(search);
    if sqlite {
        let quoted: Vec<String> = words.iter().map(|w| format!("\"{w}\"")).collect();
        quoted.join(" ")
    } else {
        let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
        quoted.join(" & ")
    }
}

/// The search page: on SQLite the FTS5 matches (outer loop, forced by `cross join`) joined to
/// their events by seq; on PostgreSQL the GIN matches filtered and cut to a page in
/// `event_words`, whose type and time are there, then the page's bodies read from `events`.
fn push_search_query<'a, DB>(
    query: &mut QueryBuilder<'a, DB>,
    sqlite: bool,
    matching: &'a str,
    params: &'a ListParams,
) where
    DB: FilterSql,
    i64: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
    &'a [u8]: Encode<'a, DB> + Type<DB>,
{
    if sqlite {
        query.push(SEARCH_SQLITE).push_bind(matching);
        // Only `events` has these columns here, so they need no qualifying.
        push_residual(query, &[], &params.filters, None);
        push_window(query, params);
        return;
    }
    query.push(SEARCH_PG).push_bind(matching).push("::tsquery");
    if has_audit_filters(&params.filters) {
        // `event_words` holds type and time only: the other filters are read from `events`.
        query.push(" and id in (select id from events where true");
        push_residual(query, &[], &params.filters, None);
        query.push(")");
    }
    push_window(query, params);
    query.push(") order by ts_us desc, id desc");
}

/// Whether `filters` hold any filter but the search itself.
fn has_audit_filters(filters: &AuditFilters) -> bool {
    IdFilter::ALL
        .iter()
        .any(|id| !id.values(filters).is_empty())
        || !filters.data.is_empty()
}

/// The type, window and cursor conditions and the page's order and size (columns unqualified:
/// only `events` or `event_words` on PostgreSQL has them, and FTS5's table only `words`).
fn push_window<'a, DB>(query: &mut QueryBuilder<'a, DB>, params: &'a ListParams)
where
    DB: Database,
    i64: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
    &'a [u8]: Encode<'a, DB> + Type<DB>,
{
    if !params.types.is_empty() {
        query.push(" and type in (");
        let mut listed = query.separated(", ");
        for event_type in &params.types {
            listed.push_bind(event_type.as_bytes());
        }
        query.push(")");
    }
    query
        .push(" and ts_us >= ")
        .push_bind(params.range.since_us);
    query.push(" and ts_us < ").push_bind(params.page_end_us());
    if let Some(cursor) = &params.cursor {
        query
            .push(" and (ts_us, id) < (")
            .push_bind(cursor.timestamp_us);
        query.push(", ").push_bind(cursor.id.as_str()).push(")");
    }
    query.push(" order by ts_us desc, id desc limit ");
    query.push_bind(i64::from(params.limit) + 1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_expressions_quote_each_word() {
        let search = "Migration  db.EXAMPLE, migration";
        assert_eq!(
            match_expression(true, search),
            r#""migration" "db" "example""#
        );
        assert_eq!(
            match_expression(false, search),
            "'migration' & 'db' & 'example'"
        );
    }
}
