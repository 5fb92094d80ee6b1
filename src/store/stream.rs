//! Reading the log in commit order for `GET /events/stream`, from a `Position` onwards, without
//! gaps (see the 0002 migrations for why each backend's position is gap-free).
//!
//! Each read first fixes a *horizon*: on SQLite the largest `seq`; on PostgreSQL the xmin of a
//! current snapshot, below which every transaction has finished. It then returns the matching
//! events between the position and the horizon, one page at a time. When the page is not full,
//! the whole span up to the horizon was read, so the next position is the horizon itself: events
//! the filters leave out are skipped once, not scanned again at every poll.
//!
//! On PostgreSQL the stream reads the primary, also when the query API reads a replica
//! (`DATABASE_READ_URL`). A stream reads as soon as a local commit is acknowledged, before a
//! replica has replayed it: on a replica every event would wait for a later poll. And the
//! no-gap argument above is made for the primary's snapshots; a standby does answer
//! `pg_current_snapshot()`, but from the transactions its replay has learnt of, and resting the
//! promise on that buys nothing, since one stream's reads are cheap.

use super::StoreError;
use sqlx::QueryBuilder;

use super::filters::{FilterSql, push_residual};
use super::{Store, StoredEvent};
use crate::position::Position;
use crate::query::StreamParams;

const SQLITE_HORIZON: &str = "select coalesce(max(seq), 0) from events";
const SQLITE_PAGE: &str = "select seq, id, ts_us, received_us, body from events where seq > ";
// xid8 has no cast to bigint; it travels as text. (Under another name: `order by txid` must
// sort by the xid8, not by its text.)
const PG_HORIZON: &str = "select cast(pg_snapshot_xmin(pg_current_snapshot()) as text)";
const PG_PAGE: &str = "select cast(txid as text) as txid_text, id, ts_us, received_us, body \
    from events where (txid, id) > (cast(";

/// Events read for a stream, and where the next read starts.
#[derive(Debug)]
pub struct StreamPage {
    /// The matching events after the position, in commit order, each with its own position.
    pub events: Vec<(Position, StoredEvent)>,
    /// Where the next read starts.
    pub next: Position,
    /// True when the page was full: more may be readable at once.
    pub more: bool,
}

#[derive(sqlx::FromRow)]
struct SeqRow {
    seq: i64,
    #[sqlx(flatten)]
    event: StoredEvent,
}

#[derive(sqlx::FromRow)]
struct TxidRow {
    txid_text: String,
    #[sqlx(flatten)]
    event: StoredEvent,
}

impl Store {
    /// The current end of the log: a stream starting here sends only events stored from now on.
    pub async fn stream_end(&self) -> Result<Position, StoreError> {
        match self {
            Self::Sqlite { reader, .. } => {
                let seq = sqlx::query_scalar(SQLITE_HORIZON).fetch_one(reader).await?;
                Ok(Position::Seq(seq))
            }
            Self::Postgres { primary, .. } => Ok(Position::Txid {
                txid: pg_horizon(primary).await?,
                id: String::new(),
            }),
        }
    }

    /// Whether `position` was made by this backend.
    pub fn owns(&self, position: &Position) -> bool {
        matches!(
            (self, position),
            (Self::Sqlite { .. }, Position::Seq(_))
                | (Self::Postgres { .. }, Position::Txid { .. })
        )
    }

    /// Up to `limit` events matching `filter` after `after`, in commit order. A position made by
    /// the other backend (see `owns`) reads as the end of the log.
    pub async fn stream_page(
        &self,
        filter: &StreamParams,
        after: &Position,
        limit: usize,
    ) -> Result<StreamPage, StoreError> {
        let limit = limit.max(1);
        match (self, after) {
            (Self::Sqlite { reader, .. }, Position::Seq(seq)) => {
                let horizon: i64 = sqlx::query_scalar(SQLITE_HORIZON).fetch_one(reader).await?;
                let mut query = QueryBuilder::new(SQLITE_PAGE);
                query
                    .push_bind(*seq)
                    .push(" and seq <= ")
                    .push_bind(horizon);
                push_filter(&mut query, filter);
                query.push(" order by seq limit ").push_bind(limit as i64);
                let rows: Vec<SeqRow> = query.build_query_as().fetch_all(reader).await?;
                let events = rows
                    .into_iter()
                    .map(|row| (Position::Seq(row.seq), row.event));
                Ok(page(events.collect(), limit, after, Position::Seq(horizon)))
            }
            (Self::Postgres { primary: pool, .. }, Position::Txid { txid, id }) => {
                let horizon = pg_horizon(pool).await?;
                let mut query = QueryBuilder::new(PG_PAGE);
                query.push_bind(txid.to_string()).push(" as xid8), ");
                query.push_bind(id.as_str()).push(") and txid < cast(");
                query.push_bind(horizon.to_string()).push(" as xid8)");
                push_filter(&mut query, filter);
                query
                    .push(" order by txid, id limit ")
                    .push_bind(limit as i64);
                let rows: Vec<TxidRow> = query.build_query_as().fetch_all(pool).await?;
                let mut events = Vec::with_capacity(rows.len());
                for row in rows {
                    let txid = parse_txid(&row.txid_text)?;
                    let id = row.event.id.clone();
                    events.push((Position::Txid { txid, id }, row.event));
                }
                let end = Position::Txid {
                    txid: horizon,
                    id: String::new(),
                };
                Ok(page(events, limit, after, end))
            }
            _ => Ok(StreamPage {
                events: Vec::new(),
                next: self.stream_end().await?,
                more: false,
            }),
        }
    }
}

async fn pg_horizon(pool: &super::PostgresPool) -> Result<u64, sqlx::Error> {
    let text: String = sqlx::query_scalar(PG_HORIZON).fetch_one(pool).await?;
    parse_txid(&text)
}

fn parse_txid(text: &str) -> Result<u64, sqlx::Error> {
    text.parse()
        .map_err(|err| sqlx::Error::Decode(format!("transaction id {text:?}: {err}").into()))
}

/// A full page continues after its last event; a partial one read everything up to `horizon`
/// (unless the client's position was already beyond it: a stream never moves backwards).
fn page(
    events: Vec<(Position, StoredEvent)>,
    limit: usize,
    after: &Position,
    horizon: Position,
) -> StreamPage {
    let more = events.len() >= limit;
    let next = match events.last() {
        Some((last, _)) if more => last.clone(),
        Some((last, _)) => later(last.clone(), horizon),
        None => later(after.clone(), horizon),
    };
    StreamPage { events, next, more }
}

/// The later of two positions of the same backend.
fn later(a: Position, b: Position) -> Position {
    let a_first = match (&a, &b) {
        (Position::Seq(x), Position::Seq(y)) => x < y,
        (Position::Txid { txid: t, id: i }, Position::Txid { txid: u, id: j }) => (t, i) < (u, j),
        _ => false,
    };
    if a_first { b } else { a }
}

/// The filters of `GET /events` (types, time, ids, `data.` fields), as bound values: all of
/// them residual, since a stream reads by position, not by an index of the filters.
fn push_filter<'a, DB>(query: &mut QueryBuilder<'a, DB>, filter: &'a StreamParams)
where
    DB: FilterSql,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    &'a [u8]: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    query
        .push(" and ts_us >= ")
        .push_bind(filter.range.since_us);
    query.push(" and ts_us < ").push_bind(filter.range.until_us);
    push_residual(query, &filter.types, &filter.filters, None);
}
