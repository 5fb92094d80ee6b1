//! Export: every event matching the filters of `GET /events`, newest first, as NDJSON (one event
//! per line, in the shape `GET /events` answers). The store is read page by page with the same
//! keyset as `GET /events`, so memory stays flat whatever the size of the log; `GET
//! /events/export` streams the pages as its body and `dash-events export` writes them to a file
//! or standard output.

use std::time::Instant;

use anyhow::Context;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::io::{AsyncWrite, AsyncWriteExt};

mod merge;

use merge::Merge;

use crate::cli::ExportArgs;
use crate::event::render_event;
use crate::query::ListParams;
use crate::startup::StartupError;
use crate::store::{Durability, Store, StoredEvent};

/// Some events of an export, rendered.
#[derive(Debug, Clone)]
pub struct Page {
    /// One JSON event per line, each line ending in `\n`.
    pub ndjson: Bytes,
    /// How many lines.
    pub events: u64,
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The database failed a page.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// A stored body is not JSON: a bug, or a row changed behind the service's back.
    #[error("the stored body of event {0:?} is not JSON")]
    Render(String, #[source] serde_json::Error),
}

/// The pages of the export of `params` (whose `limit` is the page size and whose `cursor` is
/// ignored). Each page is read when the stream is polled, so a slow consumer holds one page per
/// type at most (see `merge`). After an error the stream ends.
pub fn pages(store: Store, params: ListParams) -> impl Stream<Item = Result<Page, ExportError>> {
    let first = ListParams {
        cursor: None,
        ..params
    };
    futures_util::stream::try_unfold(Reading::Start(store, first), |state| async move {
        let (mut merge, first) = match state {
            Reading::Start(store, params) => (Merge::new(store, params).await?, true),
            Reading::On(merge) => (merge, false),
            Reading::Done => return Ok(None),
        };
        let rows = merge.next_page().await?;
        // The first page is answered even when empty; a later empty one ends the export.
        if rows.is_empty() && !first {
            return Ok(None);
        }
        let page = render_page(&rows)?;
        let next = if merge.is_done() {
            Reading::Done
        } else {
            Reading::On(merge)
        };
        Ok(Some((page, next)))
    })
}

/// Where an export stands between two pages.
enum Reading {
    Start(Store, ListParams),
    On(Merge),
    Done,
}

fn render_page(rows: &[StoredEvent]) -> Result<Page, ExportError> {
    let mut ndjson = Vec::with_capacity(rows.iter().map(|row| row.body.len() + 64).sum());
    for row in rows {
        let event = render_event(&row.body, row.received_us)
            .map_err(|err| ExportError::Render(row.id.clone(), err))?;
        serde_json::to_writer(&mut ndjson, &event)
            .map_err(|err| ExportError::Render(row.id.clone(), err))?;
        ndjson.push(b'\n');
    }
    Ok(Page {
        ndjson: Bytes::from(ndjson),
        events: rows.len() as u64,
    })
}

/// `dash-events export`: writes the export to `--output` (or standard output) with a progress
/// bar on stderr, then a summary line on stderr.
pub async fn run(args: ExportArgs) -> Result<(), StartupError> {
    let params = cli_params(&args)?;
    let store = Store::connect(&args.database.database_url, Durability::default()).await?;
    let result = export_to(&store, params, args.output.as_deref()).await;
    store.close().await;
    let (events, elapsed) = result?;
    let target = args.output.as_deref().unwrap_or("standard output");
    eprintln!(
        "exported {events} events to {target} in {:.2} s",
        elapsed.as_secs_f64()
    );
    Ok(())
}

/// The filters of the command line, parsed exactly as the query string of `GET /events/export`.
fn cli_params(args: &ExportArgs) -> Result<ListParams, StartupError> {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for event_type in &args.types {
        query.append_pair("type", event_type);
    }
    for (name, value) in [("since", &args.since), ("until", &args.until)] {
        if let Some(value) = value {
            query.append_pair(name, value);
        }
    }
    ListParams::parse_export(Some(&query.finish()))
        .map_err(|err| StartupError::config(format!("--{err}")))
}

/// Exports to `output` (a file, written under a temporary name and renamed once complete, so
/// that a failed export never leaves a file that looks whole) or to standard output.
async fn export_to(
    store: &Store,
    params: ListParams,
    output: Option<&str>,
) -> anyhow::Result<(u64, std::time::Duration)> {
    let Some(path) = output else {
        return write_all(store, params, &mut tokio::io::stdout()).await;
    };
    let partial = format!("{path}.partial");
    let mut file = tokio::fs::File::create(&partial)
        .await
        .with_context(|| format!("cannot create {partial}"))?;
    let written = write_all(store, params, &mut file).await;
    if written.is_err() {
        let _ = tokio::fs::remove_file(&partial).await;
        return written;
    }
    file.sync_all()
        .await
        .with_context(|| format!("cannot write {partial}"))?;
    tokio::fs::rename(&partial, path)
        .await
        .with_context(|| format!("cannot rename {partial} to {path}"))?;
    written
}

async fn write_all(
    store: &Store,
    params: ListParams,
    output: &mut (impl AsyncWrite + Unpin),
) -> anyhow::Result<(u64, std::time::Duration)> {
    let started = Instant::now();
    let bar = progress_bar(count(store, &params).await?);
    let mut written = 0;
    let mut pages = std::pin::pin!(pages(store.clone(), params));
    while let Some(page) = pages.next().await {
        let page = page.context("cannot read the events")?;
        output
            .write_all(&page.ndjson)
            .await
            .context("cannot write the export")?;
        written += page.events;
        bar.inc(page.events);
    }
    output.flush().await.context("cannot write the export")?;
    bar.finish_and_clear();
    Ok((written, started.elapsed()))
}

/// How many events the export will hold, from the daily totals behind `/stats` (an estimate if
/// events arrive meanwhile): the length of the progress bar.
async fn count(store: &Store, params: &ListParams) -> anyhow::Result<u64> {
    let stats = store
        .stats(params.range)
        .await
        .context("cannot count the events")?;
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
fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{bar:40} {pos}/{len} events, {per_sec}, eta {eta}")
        .expect("the template is valid");
    bar.set_style(style);
    bar
}
