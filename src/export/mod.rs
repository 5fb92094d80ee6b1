//! Export: every event matching the filters of `GET /events`, newest first, as NDJSON (one event
//! per line, in the shape `GET /events` answers). The store is read page by page with the same
//! keyset as `GET /events`, so memory stays flat whatever the size of the log; `GET
//! /events/export` streams the pages as its body and `dash-events export` writes them to a file
//! or standard output.

use bytes::Bytes;
use futures_util::Stream;

mod merge;

use merge::Merge;

use crate::event::render_event;
use crate::query::ListParams;
use crate::store::{Store, StoreError, StoredEvent};

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
    Database(#[from] StoreError),
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
    futures_util::stream::try_unfold(Reading::Start(store, Box::new(first)), |state| async move {
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
    // Boxed: the parameters (with their audit filters) are several times the size of a `Merge`.
    Start(Store, Box<ListParams>),
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
