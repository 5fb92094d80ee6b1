//! `dash-events search-index build`: index the words of the events already stored, for a log
//! that was written with the search index off (see `store::search`). It runs beside `serve`
//! (which indexes what it stores itself once started with `--search-index`), a transaction per
//! `BUILD_BATCH` events; interrupted, it resumes where it stopped.

use super::CommandError;
use super::export::progress_bar;
use crate::query::TimeRange;
use crate::store::{BUILD_BATCH, Durability, Store};

/// Builds the index of the database at `database_url`, printing how many events it read.
pub async fn build(database_url: &str) -> Result<(), CommandError> {
    let store = Store::connect(database_url, Durability::default()).await?;
    let built = build_all(&store).await;
    store.close().await;
    let read =
        built.map_err(|err| CommandError::failed("building the search index failed", err))?;
    println!("search index built: {read} events read; serve with --search-index to answer q=");
    Ok(())
}

/// Runs batches until a pass is complete; answers how many events this run read.
async fn build_all(store: &Store) -> Result<u64, crate::store::StoreError> {
    let total = store.stats(TimeRange::ALL).await?.total_events.max(0) as u64;
    let bar = progress_bar(total);
    let mut read = 0;
    loop {
        let batch = store.build_search_batch().await?;
        read += batch;
        bar.inc(batch);
        if batch < BUILD_BATCH as u64 {
            bar.finish_and_clear();
            return Ok(read);
        }
    }
}
