//! `dash-events query`: the events of `GET /events` (every match, newest first, or the first
//! `--limit`) or the totals of `GET /stats/groups`, read from the database directly, so it works
//! with no `serve` running, and printed as a table fitted to the terminal, as JSON lines or as
//! CSV. The parameters come parsed by the HTTP API's own parsers (see `cli::query`).

mod cells;
mod events;
mod groups;
mod stdout;
mod table;

use super::CommandError;
use crate::query::{GroupParams, ListParams};
use crate::store::{Durability, Store};

/// What `dash-events query` reads and how it prints it.
#[derive(Debug, Clone)]
pub struct Query {
    /// Events or groups, and their filters.
    pub mode: Mode,
    /// How they are printed.
    pub output: Output,
}

/// Events or groups.
#[derive(Debug, Clone)]
pub enum Mode {
    /// The matching events, newest first; `params.limit` is the page read from the store.
    Events {
        /// The filters of `GET /events`.
        params: ListParams,
        /// At most this many events; `None`: every match.
        limit: Option<u32>,
    },
    /// The totals per group.
    Groups {
        /// The parameters of `GET /stats/groups`.
        params: GroupParams,
        /// At most this many groups; `None`: every group.
        limit: Option<u32>,
    },
}

/// How the results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Aligned columns, no line wider than this many terminal columns.
    Table {
        /// The terminal's width.
        width: usize,
    },
    /// One JSON object per line: an event as `GET /events` answers it, or a group as
    /// `GET /stats/groups` does.
    Json,
    /// A header row, then a row per event (the columns of the CSV export) or per group.
    Csv,
}

/// Runs the query on `database_url` and prints the result to standard output, then how many
/// events or groups were printed to stderr.
pub async fn run(database_url: &str, query: Query) -> Result<(), CommandError> {
    let store = Store::connect(database_url, Durability::default()).await?;
    let printed = match query.mode {
        Mode::Events { params, limit } => events::print(&store, params, limit, query.output).await,
        Mode::Groups { params, limit } => groups::print(&store, params, limit, query.output).await,
    };
    store.close().await;
    eprintln!("{}", printed?);
    Ok(())
}
