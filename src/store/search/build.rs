//! Building the text index for events stored while it was off (`dash-events search-index
//! build`): the events are read in key order (seq on SQLite, id on PostgreSQL), a batch per
//! transaction, their words written (replacing, or skipping, what a writer already indexed), and
//! the last key recorded in `search_build` in the same transaction, so an interrupted build
//! resumes where it stopped. A pass that reaches the end deletes the record; the next build
//! starts a new pass. Writers may run meanwhile: they index what they store themselves.

use sqlx::{Connection, QueryBuilder};

use super::{INSERT_WORDS_PG, INSERT_WORDS_PG_CONFLICT, SPLIT_WORDS_PG};
use crate::event::event_words;
use crate::store::{Store, StoreError};

/// Events indexed per transaction.
pub const BUILD_BATCH: i64 = 1000;

const POSITION_SQLITE: &str = "select after_seq from search_build";
const READ_SQLITE: &str = "select seq, body from events where seq > $1 order by seq limit $2";
// An event a writer indexed since the pass began is indexed again: REPLACE keeps one entry.
const INSERT_SQLITE: &str = "insert or replace into event_words (rowid, words) ";
const SAVE_SQLITE: &str = "insert into search_build (id, after_seq) values (1, $1) \
    on conflict (id) do update set after_seq = excluded.after_seq";
// FOR UPDATE: two builds at once take turns rather than index the same batch twice.
const POSITION_PG: &str = "select after_id from search_build for update";
const READ_PG: &str = "select id, type, ts_us, body from events where id > $1 order by id limit $2";
const SAVE_PG: &str = "insert into search_build (id, after_id) values (1, $1) \
    on conflict (id) do update set after_id = excluded.after_id";
const PASS_DONE: &str = "delete from search_build";

/// An event as the PostgreSQL build reads it.
type PgRow = (String, Vec<u8>, i64, Vec<u8>);

impl Store {
    /// Indexes the next `BUILD_BATCH` events of the current pass (starting one if none is under
    /// way); answers how many it read, fewer than `BUILD_BATCH` when the pass is complete.
    pub async fn build_search_batch(&self) -> Result<u64, StoreError> {
        let read = match self {
            Self::Sqlite { writer, .. } => {
                let mut conn = writer.acquire().await?;
                let step = build_step_sqlite(&mut conn).await;
                if step.is_err() {
                    // As in `insert_batch`: a SQLite connection whose transaction failed may be
                    // out of step with sqlx's count of open transactions; never reuse it.
                    let _ = conn.close().await;
                }
                step?
            }
            Self::Postgres { primary, .. } => {
                let mut tx = primary.begin().await?;
                let after: Option<String> = sqlx::query_scalar(POSITION_PG)
                    .fetch_optional(&mut *tx)
                    .await?;
                let rows: Vec<PgRow> = sqlx::query_as(READ_PG)
                    .bind(after.unwrap_or_default())
                    .bind(BUILD_BATCH)
                    .fetch_all(&mut *tx)
                    .await?;
                insert_pg(&mut tx, &rows).await?;
                let last = rows.last().map(|row| row.0.as_str());
                finish_step_pg(&mut tx, last, rows.len()).await?;
                tx.commit().await?;
                rows.len()
            }
        };
        Ok(read as u64)
    }
}

/// One step on SQLite's writer connection, in one transaction; answers how many events it read.
async fn build_step_sqlite(conn: &mut sqlx::SqliteConnection) -> Result<usize, sqlx::Error> {
    let mut tx = Connection::begin(conn).await?;
    let after: Option<i64> = sqlx::query_scalar(POSITION_SQLITE)
        .fetch_optional(&mut *tx)
        .await?;
    let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(READ_SQLITE)
        .bind(after.unwrap_or(i64::MIN))
        .bind(BUILD_BATCH)
        .fetch_all(&mut *tx)
        .await?;
    let words: Vec<(i64, String)> = rows
        .iter()
        .map(|(seq, body)| (*seq, event_words(body).join(" ")))
        .filter(|(_, words)| !words.is_empty())
        .collect();
    if !words.is_empty() {
        let mut insert = QueryBuilder::new(INSERT_SQLITE);
        insert.push_values(&words, |mut row, (seq, words)| {
            row.push_bind(*seq).push_bind(words.as_str());
        });
        insert.build().execute(&mut *tx).await?;
    }
    let last = rows.last().map(|(seq, _)| *seq);
    finish_step_sqlite(&mut tx, last, rows.len()).await?;
    tx.commit().await?;
    Ok(rows.len())
}

/// Writes the words of `rows` that have any, skipping events already indexed.
async fn insert_pg(tx: &mut sqlx::PgConnection, rows: &[PgRow]) -> Result<(), sqlx::Error> {
    let words: Vec<(&PgRow, String)> = rows
        .iter()
        .map(|row| (row, event_words(&row.3).join(" ")))
        .filter(|(_, words)| !words.is_empty())
        .collect();
    if words.is_empty() {
        return Ok(());
    }
    let mut insert = QueryBuilder::new(INSERT_WORDS_PG);
    insert.push_values(&words, |mut row, ((id, event_type, ts_us, _), words)| {
        row.push_bind(id.as_str())
            .push_bind(event_type.as_slice())
            .push_bind(*ts_us)
            .push(SPLIT_WORDS_PG)
            .push_bind_unseparated(words.as_str())
            .push_unseparated(", ' '))");
    });
    insert.push(INSERT_WORDS_PG_CONFLICT);
    insert.build().execute(&mut *tx).await?;
    Ok(())
}

/// Records how far the pass got, or ends it when this batch was its last.
async fn finish_step_sqlite(
    tx: &mut sqlx::SqliteConnection,
    last: Option<i64>,
    read: usize,
) -> Result<(), sqlx::Error> {
    match last {
        Some(seq) if read as i64 == BUILD_BATCH => {
            sqlx::query(SAVE_SQLITE).bind(seq).execute(&mut *tx).await?
        }
        _ => sqlx::query(PASS_DONE).execute(&mut *tx).await?,
    };
    Ok(())
}

/// `finish_step_sqlite` for PostgreSQL, whose position is an id.
async fn finish_step_pg(
    tx: &mut sqlx::PgConnection,
    last: Option<&str>,
    read: usize,
) -> Result<(), sqlx::Error> {
    match last {
        Some(id) if read as i64 == BUILD_BATCH => {
            sqlx::query(SAVE_PG).bind(id).execute(&mut *tx).await?
        }
        _ => sqlx::query(PASS_DONE).execute(&mut *tx).await?,
    };
    Ok(())
}
