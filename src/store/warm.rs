//! Reading SQLite's id index into the page cache once `serve` has started. Every insert looks
//! its id up at a random place in that index, inside the single writer's transaction; on a cold
//! page cache each lookup waits for a disk read. A receiver restarted on a 10⁷-event log ingested
//! at 3 000–9 000 events/s for its first ~80 s while the index (~600 MB) came back page by page.
//! Read through in key ranges on several connections at once, so that the disk serves many
//! reads at a time, it is cached in seconds: measured on that log from a cold cache, 18.3 s on
//! one connection, 3.7 s on 4, 2.1 s on 16.

use std::sync::Arc;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, QueryBuilder, Sqlite, SqliteConnection};

use super::{Store, StoreError};

/// Connections reading at once.
const CONNECTIONS: usize = 8;
/// The first characters of ids that split the key space: Dash's ids are UUIDs, whose first
/// character is a hex digit, so each of these ranges holds a sixteenth of them.
const SPLITS: [&str; 17] = [
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f", "g",
];
/// The index `id text not null unique` makes; named so that no plan can read the table instead.
const COUNT_IDS: &str =
    "select count(*) from events indexed by sqlite_autoindex_events_1 where true";

/// A range of ids: `[from, to)`, unbounded where `None`.
pub type IdRange = (Option<&'static str>, Option<&'static str>);

/// Contiguous ranges that cover every id exactly once.
pub fn id_ranges() -> Vec<IdRange> {
    let bounds: Vec<Option<&'static str>> = std::iter::once(None)
        .chain(SPLITS.iter().copied().map(Some))
        .chain(std::iter::once(None))
        .collect();
    bounds.windows(2).map(|pair| (pair[0], pair[1])).collect()
}

impl Store {
    /// On SQLite, reads the id index through (see the module) and answers how many ids it read;
    /// on PostgreSQL (whose caches are the server's) and in memory nothing.
    pub async fn warm_id_index(&self) -> Result<i64, StoreError> {
        let Self::Sqlite { reader, .. } = self else {
            return Ok(0);
        };
        let options = reader.connect_options();
        // A connection of its own to an in-memory database would open another, empty one.
        if options
            .get_filename()
            .to_string_lossy()
            .contains(":memory:")
        {
            return Ok(0);
        }
        // Counting a range takes seconds on a cold cache: not a slow statement to warn about.
        let quiet = Arc::new((*options).clone().disable_statement_logging());
        let ranges = id_ranges();
        let mut readers = tokio::task::JoinSet::new();
        for first in 0..CONNECTIONS {
            let share: Vec<IdRange> = ranges
                .iter()
                .copied()
                .skip(first)
                .step_by(CONNECTIONS)
                .collect();
            readers.spawn(count_ids(Arc::clone(&quiet), share));
        }
        let mut ids = 0;
        while let Some(counted) = readers.join_next().await {
            // A reader that panicked counts as one that failed.
            ids += counted.unwrap_or(Err(sqlx::Error::WorkerCrashed))?;
        }
        Ok(ids)
    }
}

/// Counts the ids of `ranges` through the id index, one range after the other, on a connection
/// of its own.
async fn count_ids(
    options: Arc<SqliteConnectOptions>,
    ranges: Vec<IdRange>,
) -> Result<i64, sqlx::Error> {
    let mut conn = SqliteConnection::connect_with(&options).await?;
    let mut ids = 0;
    for (from, to) in ranges {
        let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(COUNT_IDS);
        if let Some(from) = from {
            query.push(" and id >= ").push_bind(from);
        }
        if let Some(to) = to {
            query.push(" and id < ").push_bind(to);
        }
        let counted: i64 = query.build_query_scalar().fetch_one(&mut conn).await?;
        ids += counted;
    }
    conn.close().await?;
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ranges_cover_every_id_once() {
        let ranges = id_ranges();
        assert_eq!(ranges.len(), SPLITS.len() + 1);
        assert_eq!(ranges.first().map(|r| r.0), Some(None));
        assert_eq!(ranges.last().map(|r| r.1), Some(None));
        for pair in ranges.windows(2) {
            assert_eq!(pair[0].1, pair[1].0, "contiguous");
            assert!(pair[0].1.is_some());
        }
        assert!(SPLITS.windows(2).all(|pair| pair[0] < pair[1]), "ascending");
    }
}
