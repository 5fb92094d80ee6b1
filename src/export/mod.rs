//! Export: every event matching the filters of `GET /events`, newest first, as NDJSON (one event
//! per line, in the shape `GET /events` answers) or as CSV (`csv`: a header row, then one row per
//! event). The store is read page by page with the same keyset as `GET /events`, so memory stays
//! flat whatever the size of the log; `GET /events/export` streams the pages as its body and
//! `dash-events export` writes them to a file or standard output.

use bytes::Bytes;
use futures_util::Stream;

pub mod csv;
mod format;
mod merge;

pub use format::Format;
use merge::Merge;

use crate::event::render_event;
use crate::query::ListParams;
use crate::store::{Store, StoreError, StoredEvent};

/// Some events of an export, rendered.
#[derive(Debug, Clone)]
pub struct Page {
    /// The events in the export's format: one JSON event per line, each line ending in `\n`;
    /// or CSV rows, the first page starting with the header row.
    pub bytes: Bytes,
    /// How many events.
    pub events: u64,
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The database failed a page.
    #[error("database error")]
    Database(#[from] StoreError),
    /// A stored body is not JSON: a bug, or a row changed behind the service's back.
    #[error("the stored body of event {0:?} is not JSON")]
    Render(String, #[source] serde_json::Error),
    /// An event could not be written as CSV (only an I/O error of the in-memory writer could
    /// cause this: a bug).
    #[error("event {0:?} could not be written as CSV")]
    Csv(String, #[source] ::csv::Error),
}

/// The pages of the export of `params` (whose `limit` is the page size and whose `cursor` is
/// ignored), rendered in `format`. Each page is read when the stream is polled, so a slow
/// consumer holds two pages per type at most, one of them read ahead (see `merge`). After an
/// error the stream ends.
pub fn pages(
    store: Store,
    params: ListParams,
    format: Format,
) -> impl Stream<Item = Result<Page, ExportError>> {
    let first = ListParams {
        cursor: None,
        ..params
    };
    futures_util::stream::try_unfold(
        Reading::Start(store, Box::new(first)),
        move |state| async move {
            let (mut merge, first) = match state {
                Reading::Start(store, params) => (Merge::new(store, *params).await?, true),
                Reading::On(merge) => (merge, false),
                Reading::Done => return Ok(None),
            };
            let rows = merge.next_page().await?;
            // The first page is answered even when empty; a later empty one ends the export.
            if rows.is_empty() && !first {
                return Ok(None);
            }
            let page = match format {
                Format::Ndjson => render_ndjson(&rows)?,
                Format::Csv => render_csv(&rows, first)?,
            };
            let next = if merge.is_done() {
                Reading::Done
            } else {
                Reading::On(merge)
            };
            Ok(Some((page, next)))
        },
    )
}

/// Where an export stands between two pages.
enum Reading {
    // Boxed: the parameters (with their audit filters) are several times the size of a `Merge`.
    Start(Store, Box<ListParams>),
    On(Merge),
    Done,
}

fn render_ndjson(rows: &[StoredEvent]) -> Result<Page, ExportError> {
    let mut ndjson = Vec::with_capacity(capacity(rows));
    for row in rows {
        serde_json::to_writer(&mut ndjson, &rendered(row)?)
            .map_err(|err| ExportError::Render(row.id.clone(), err))?;
        ndjson.push(b'\n');
    }
    Ok(page(ndjson, rows))
}

/// The rows of a page as CSV; the first page (even an empty one) starts with the header row.
fn render_csv(rows: &[StoredEvent], first: bool) -> Result<Page, ExportError> {
    let mut out = csv::writer(Vec::with_capacity(capacity(rows)));
    let csv_error = |id: &str| {
        let id = id.to_owned();
        move |err| ExportError::Csv(id, err)
    };
    if first {
        csv::write_header(&mut out).map_err(csv_error(""))?;
    }
    for row in rows {
        csv::write_event(&mut out, &rendered(row)?).map_err(csv_error(&row.id))?;
    }
    let bytes = out
        .into_inner()
        .map_err(|err| ExportError::Csv(String::new(), err.into_error().into()))?;
    Ok(page(bytes, rows))
}

fn rendered(row: &StoredEvent) -> Result<serde_json::Value, ExportError> {
    render_event(&row.body, row.received_us).map_err(|err| ExportError::Render(row.id.clone(), err))
}

/// Room for a page: each event's body and some for the fields added around it.
fn capacity(rows: &[StoredEvent]) -> usize {
    rows.iter().map(|row| row.body.len() + 64).sum()
}

fn page(bytes: Vec<u8>, rows: &[StoredEvent]) -> Page {
    Page {
        bytes: Bytes::from(bytes),
        events: rows.len() as u64,
    }
}
