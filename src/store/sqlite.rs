//! SQLite specifics: one writer connection and a pool of readers over a WAL database, and a
//! background checkpointer. SQLite's automatic checkpoint runs inside the commit that crosses
//! the threshold, so the requests waiting on that commit paid for it (the p99 spikes measured in
//! perf-notes); here the writer never checkpoints and a reader connection does it every
//! `CHECKPOINT_INTERVAL`, concurrently with commits (a PASSIVE checkpoint takes no writer lock).

use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::{ACQUIRE_TIMEOUT, Store};

/// How long SQLite waits for a lock held by another process before giving up (then 503).
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Readers run beside the single writer thanks to WAL.
const READERS: u32 = 4;
/// How often the WAL is copied back into the database file. A page changed by several commits
/// between two checkpoints is copied once, so a longer interval writes less per event: the last
/// pages of the table and of each type's index range, the daily totals and the interior pages
/// change with every batch. Measured on a log of 10⁶ events (`bench/layout_floor.py`):
/// 14.2 KiB written per event at 250 ms, 12.4 at 1 s. Longer would save more but lets the WAL,
/// which a restart after a crash reads whole, grow past ~50 MB at full ingest.
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);
/// WAL frames (pages) past which the checkpointer makes the WAL start over: 64 MiB of 4 KiB pages.
/// A PASSIVE checkpoint never waits for the writer, so under continuous ingest it never finds
/// every frame copied, the WAL is never reused from its start, and it grows without end:
/// measured, 20 GB of WAL after 2 million events in five minutes, and every page read searches
/// the index of the whole WAL. A RESTART checkpoint waits for the commit in progress, copies
/// the few frames the PASSIVE one just left, and the next commit writes from the start again;
/// the writer waits for it for milliseconds, every few seconds at full ingest.
const WAL_RESTART_FRAMES: i64 = 16_384;
/// The writer's page cache, in KiB (SQLite reads a negative `cache_size` as KiB).
const WRITER_CACHE_KIB: &str = "-32768";
/// Batches use statements of every size from 1 to the batch limit; keep them all prepared.
const WRITER_STATEMENT_CACHE: usize = 600;

/// What a 200 survives on SQLite (PostgreSQL always syncs its commits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Every commit is fsynced: an acknowledged event survives power loss.
    #[default]
    Full,
    /// Commits reach the OS but the WAL is synced only at checkpoints: an acknowledged event
    /// survives a crash of the process, not of the machine.
    Normal,
}

/// Opens the writer and reader pools and starts the checkpointer.
pub async fn connect(
    options: SqliteConnectOptions,
    durability: Durability,
) -> Result<Store, sqlx::Error> {
    let in_memory = options
        .get_filename()
        .to_string_lossy()
        .contains(":memory:");
    let synchronous = match durability {
        Durability::Full => SqliteSynchronous::Full,
        Durability::Normal => SqliteSynchronous::Normal,
    };
    let options = options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(synchronous)
        .busy_timeout(BUSY_TIMEOUT)
        // Keeps statement journals and sorts off the disk.
        .pragma("temp_store", "memory");
    let writer_options = options
        .clone()
        .pragma("wal_autocheckpoint", "0")
        // Index pages the next insert lands on are random: keep more of them than the 2 MiB
        // default in memory, instead of reading them back through the kernel.
        .pragma("cache_size", WRITER_CACHE_KIB)
        .statement_cache_capacity(WRITER_STATEMENT_CACHE);
    let writer = pool(1).connect_with(writer_options).await?;
    // An in-memory database exists once per connection, so there it must also serve reads, and
    // it has no WAL to checkpoint.
    if in_memory {
        return Ok(Store::Sqlite {
            writer: writer.clone(),
            reader: writer,
        });
    }
    let reader = pool(READERS).connect_with(options).await?;
    tokio::spawn(checkpoint_periodically(reader.clone()));
    Ok(Store::Sqlite { writer, reader })
}

async fn checkpoint_periodically(pool: SqlitePool) {
    let mut ticks = tokio::time::interval(CHECKPOINT_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !pool.is_closed() {
        ticks.tick().await;
        if let Err(err) = checkpoint(&pool).await {
            if !pool.is_closed() {
                tracing::warn!(error = %err, "WAL checkpoint failed; will retry");
            }
        }
    }
}

/// Copies the WAL into the database without waiting for the writer; once the WAL holds
/// `WAL_RESTART_FRAMES`, also makes the next commit write the WAL from its start again, unless a
/// reader holds frames back (see `held_back`).
async fn checkpoint(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    let (_busy, frames, copied): (i64, i64, i64) = sqlx::query_as("pragma wal_checkpoint(PASSIVE)")
        .fetch_one(pool)
        .await?;
    if frames >= WAL_RESTART_FRAMES && !held_back(frames, copied) {
        sqlx::query("pragma wal_checkpoint(RESTART)")
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// Whether a reader holds WAL frames back: no checkpoint copies a frame past the snapshot of the
/// oldest reader, so the PASSIVE one left some. Under ingest alone it copies every frame
/// (measured: each round of a 15 s run at full ingest); a query in flight holds a few for a
/// moment, and the WAL restarts a round later. A long read transaction (`dash-events backup`, an
/// operator's `sqlite3` session) holds them until it ends, and a RESTART would take the write
/// lock and wait its whole busy timeout for that reader, in vain, round after round: measured,
/// ingest stopped for 28 s of a 35 s read, with 503s. The WAL grows instead, until the reader
/// ends.
fn held_back(frames: i64, copied: i64) -> bool {
    copied < frames
}

fn pool(connections: u32) -> SqlitePoolOptions {
    SqlitePoolOptions::new()
        .max_connections(connections)
        .min_connections(1)
        .acquire_timeout(ACQUIRE_TIMEOUT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_held_back_only_when_the_passive_checkpoint_left_some() {
        assert!(held_back(20_000, 3_000), "a reader holds frame 3000");
        assert!(!held_back(20_000, 20_000), "everything is copied");
        assert!(!held_back(-1, -1), "no WAL");
    }
}
