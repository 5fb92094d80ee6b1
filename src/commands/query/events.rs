//! The events of `query`: read with the export's reader (every match, newest first, a page at a
//! time, so memory stays flat), cut at `--limit`, printed in the chosen format as each page
//! arrives.

use futures_util::StreamExt;
use serde_json::Value;

use super::Output;
use super::cells;
use super::stdout::Stdout;
use super::table::{Column, Table};
use crate::commands::CommandError;
use crate::export::{Format, csv, pages};
use crate::query::ListParams;
use crate::store::Store;

/// The columns of the events table.
const COLUMNS: [Column; 8] = [
    Column::kept("time"),
    Column::text("type"),
    Column::text("id"),
    Column::text("agent"),
    Column::text("swarm"),
    Column::text("workflow"),
    Column::number("cost"),
    Column::number("duration"),
];

/// Prints the events of `params` (at most `limit`) to standard output; answers the summary
/// line, `N events`.
pub(super) async fn print(
    store: &Store,
    params: ListParams,
    limit: Option<u32>,
    output: Output,
) -> Result<String, CommandError> {
    let mut printer = Printer::new(output);
    let mut out = Stdout::new();
    out.write(&printer.start()?).await?;
    let mut left = limit.map_or(u64::MAX, u64::from);
    let mut printed = 0;
    let mut pages = std::pin::pin!(pages(store.clone(), params, Format::Ndjson));
    while left > 0 && out.is_open() {
        let Some(page) = pages.next().await else {
            break;
        };
        let page = page.map_err(|err| CommandError::failed("cannot read the events", err))?;
        let lines = first_lines(&page.bytes, left);
        left -= lines.len() as u64;
        printed += lines.len();
        out.write(&printer.page(&lines)?).await?;
    }
    out.write(printer.finish().as_bytes()).await?;
    out.flush().await?;
    Ok(format!("{printed} events"))
}

/// The first `most` lines of an NDJSON page (a line holds one event: JSON escapes line breaks
/// inside strings), each without its `\n`.
fn first_lines(ndjson: &[u8], most: u64) -> Vec<&[u8]> {
    let most = usize::try_from(most).unwrap_or(usize::MAX);
    let lines = ndjson.split(|byte| *byte == b'\n');
    lines.filter(|line| !line.is_empty()).take(most).collect()
}

/// Turns pages of events into the output's bytes.
enum Printer {
    Json,
    Csv,
    Table(Table),
}

impl Printer {
    fn new(output: Output) -> Self {
        match output {
            Output::Json => Self::Json,
            Output::Csv => Self::Csv,
            Output::Table { width } => Self::Table(Table::new(&COLUMNS, width)),
        }
    }

    /// What comes before the first event: the CSV header row.
    fn start(&self) -> Result<Vec<u8>, CommandError> {
        match self {
            Self::Csv => csv_rows(&[], true),
            Self::Json | Self::Table(_) => Ok(Vec::new()),
        }
    }

    /// A page of events, each an NDJSON line.
    fn page(&mut self, lines: &[&[u8]]) -> Result<Vec<u8>, CommandError> {
        match self {
            Self::Json => Ok(lines
                .iter()
                .flat_map(|line| [*line, b"\n"])
                .flatten()
                .copied()
                .collect()),
            Self::Csv => csv_rows(&parsed(lines)?, false),
            Self::Table(table) => {
                let rows: Vec<Vec<String>> = parsed(lines)?.iter().map(row).collect();
                Ok(table.page(&rows).into_bytes())
            }
        }
    }

    /// What comes after the last event: a table's header, if there was no event.
    fn finish(&mut self) -> String {
        match self {
            Self::Table(table) => table.finish(),
            Self::Json | Self::Csv => String::new(),
        }
    }
}

/// The events of NDJSON lines the export wrote, so valid JSON.
fn parsed(lines: &[&[u8]]) -> Result<Vec<Value>, CommandError> {
    lines
        .iter()
        .map(|line| serde_json::from_slice(line))
        .collect::<Result<_, _>>()
        .map_err(|err| CommandError::failed("cannot read an exported event", err))
}

/// An event's cells, in the order of `COLUMNS`.
fn row(event: &Value) -> Vec<String> {
    let data = event.get("data");
    let field = |name: &str| data.and_then(|data| data.get(name));
    vec![
        cells::time(event.get("timestamp")),
        cells::text(event.get("type")),
        cells::text(event.get("id")),
        cells::text(field("agentId")),
        cells::text(field("swarmId")),
        cells::text(field("workflowId")),
        cells::number(field("cost")),
        cells::duration(field("durationMs")),
    ]
}

/// CSV rows of `events`, after the header row when `header`: the CSV export's writer.
fn csv_rows(events: &[Value], header: bool) -> Result<Vec<u8>, CommandError> {
    let failed = |err| CommandError::failed("cannot write CSV", err);
    let mut out = csv::writer(Vec::new());
    if header {
        csv::write_header(&mut out).map_err(failed)?;
    }
    for event in events {
        csv::write_event(&mut out, event).map_err(failed)?;
    }
    out.into_inner()
        .map_err(|err| CommandError::failed("cannot write CSV", err.into_error()))
}
