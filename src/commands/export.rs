//! `dash-events export`: the export of `GET /events/export` (see `export`) written to a file or
//! standard output, with a progress bar and a summary line on stderr.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::CommandError;
use crate::export::{Format, pages};
use crate::query::ListParams;
use crate::store::{Durability, Store};

/// `dash-events export`: writes the export to `--output` (or standard output) with a progress
/// bar on stderr, then a summary line on stderr.
pub async fn run(
    database_url: &str,
    params: ListParams,
    output: Option<&str>,
) -> Result<(), CommandError> {
    let store = Store::connect(database_url, Durability::default()).await?;
    let result = export_to(&store, params, output).await;
    store.close().await;
    let (events, elapsed) = result?;
    let target = output.unwrap_or("standard output");
    eprintln!(
        "exported {events} events to {target} in {:.2} s",
        elapsed.as_secs_f64()
    );
    Ok(())
}

/// Exports to `output` (a file, written under a temporary name and renamed once complete, so
/// that a failed export never leaves a file that looks whole) or to standard output.
async fn export_to(
    store: &Store,
    params: ListParams,
    output: Option<&str>,
) -> Result<(u64, Duration), CommandError> {
    let Some(path) = output else {
        return write_all(store, params, &mut tokio::io::stdout()).await;
    };
    let partial = format!("{path}.partial");
    let mut file = tokio::fs::File::create(&partial)
        .await
        .map_err(|err| CommandError::failed(format!("cannot create {partial}"), err))?;
    let written = write_all(store, params, &mut file).await;
    if written.is_err() {
        let _ = tokio::fs::remove_file(&partial).await;
        return written;
    }
    file.sync_all()
        .await
        .map_err(|err| CommandError::failed(format!("cannot write {partial}"), err))?;
    tokio::fs::rename(&partial, path)
        .await
        .map_err(|err| CommandError::failed(format!("cannot rename {partial} to {path}"), err))?;
    written
}

async fn write_all(
    store: &Store,
    params: ListParams,
    output: &mut (impl AsyncWrite + Unpin),
) -> Result<(u64, Duration), CommandError> {
    let started = Instant::now();
    let bar = progress_bar(count(store, &params).await?);
    let mut written = 0;
    let mut pages = std::pin::pin!(pages(store.clone(), params, Format::Ndjson));
    while let Some(page) = pages.next().await {
        let page = page.map_err(|err| CommandError::failed("cannot read the events", err))?;
        output
            .write_all(&page.bytes)
            .await
            .map_err(|err| CommandError::failed("cannot write the export", err))?;
        written += page.events;
        bar.inc(page.events);
    }
    output
        .flush()
        .await
        .map_err(|err| CommandError::failed("cannot write the export", err))?;
    bar.finish_and_clear();
    Ok((written, started.elapsed()))
}

/// How many events the export will hold, from the daily totals behind `/stats` (an estimate if
/// events arrive meanwhile): the length of the progress bar.
async fn count(store: &Store, params: &ListParams) -> Result<u64, CommandError> {
    let stats = store
        .stats(params.range)
        .await
        .map_err(|err| CommandError::failed("cannot count the events", err))?;
    let total = if params.types.is_empty() {
        stats.total_events
    } else {
        params
            .types
            .iter()
            .filter_map(|t| stats.event_counts.get(t))
            .sum()
    };
    Ok(u64::try_from(total).unwrap_or_default())
}

/// A bar on stderr; indicatif draws nothing when stderr is not a terminal.
pub(super) fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{bar:40} {pos}/{len} events, {per_sec}, eta {eta}")
        .expect("the template is valid");
    bar.set_style(style);
    bar
}
