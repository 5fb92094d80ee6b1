//! The groups of `query --group-by`: the totals `GET /stats/groups` answers, read from the store
//! and ordered by the same functions, printed in the chosen format. A group is handled in the
//! JSON shape the endpoint answers, so the JSON lines are exactly its `groups`.

use serde_json::Value;

use super::Output;
use super::cells;
use super::stdout::Stdout;
use super::table::{Column, Table};
use crate::commands::CommandError;
use crate::export::csv;
use crate::query::GroupParams;
use crate::store::{Measures, Scope, Store};

/// The CSV columns, the fields of a group in the answer of `GET /stats/groups`.
const FIELDS: [&str; 7] = [
    "key",
    "events",
    "cost",
    "totalCost",
    "durationCount",
    "durationMeanMs",
    "durationMaxMs",
];

/// The columns of the groups table after the key's, which is named after `--group-by`.
const METRICS: [Column; 6] = [
    Column::number("events"),
    Column::number("cost"),
    Column::number("totalCost"),
    Column::number("durations"),
    Column::number("mean"),
    Column::number("max"),
];

/// Prints the groups of `params` (the first `limit`, or all) to standard output; answers the
/// summary line, `N groups`.
pub(super) async fn print(
    store: &Store,
    params: GroupParams,
    limit: Option<u32>,
    output: Output,
) -> Result<String, CommandError> {
    let groups = read_groups(store, &params, limit).await?;
    let mut printer = Printer::new(output, params.by.name());
    let mut out = Stdout::new();
    out.write(&printer.start()?).await?;
    out.write(&printer.page(&groups)?).await?;
    out.write(printer.finish().as_bytes()).await?;
    out.flush().await?;
    Ok(format!("{} groups", groups.len()))
}

/// The groups in `params.sort`'s order, the first `limit` or all, each as `GET /stats/groups`
/// answers it. The store adds every group of the window up at once (their number is bounded by
/// the ids'), so there is no page to follow: the endpoint cuts the same list into pages.
async fn read_groups(
    store: &Store,
    params: &GroupParams,
    limit: Option<u32>,
) -> Result<Vec<Value>, CommandError> {
    let scope = Scope {
        range: params.range,
        types: &params.types,
        filters: &params.filters,
        measures: Measures::All,
    };
    let all = store
        .groups(params.by, scope)
        .await
        .map_err(|err| CommandError::failed("cannot read the groups", err))?;
    let most = limit.map_or(usize::MAX, |limit| limit as usize);
    let (groups, _) = crate::groups::page(all, params.sort, None, most);
    groups
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<_, _>>()
        .map_err(|err| CommandError::failed("cannot write a group", err))
}

/// Turns pages of groups into the output's bytes.
enum Printer {
    Json,
    Csv,
    Table(Table),
}

impl Printer {
    fn new(output: Output, by: &'static str) -> Self {
        match output {
            Output::Json => Self::Json,
            Output::Csv => Self::Csv,
            Output::Table { width } => {
                let columns: Vec<Column> =
                    std::iter::once(Column::text(by)).chain(METRICS).collect();
                Self::Table(Table::new(&columns, width))
            }
        }
    }

    fn start(&self) -> Result<Vec<u8>, CommandError> {
        match self {
            Self::Csv => csv_rows(&[], true),
            Self::Json | Self::Table(_) => Ok(Vec::new()),
        }
    }

    fn page(&mut self, groups: &[Value]) -> Result<Vec<u8>, CommandError> {
        match self {
            Self::Json => json_lines(groups),
            Self::Csv => csv_rows(groups, false),
            Self::Table(table) => {
                let rows: Vec<Vec<String>> = groups.iter().map(row).collect();
                Ok(table.page(&rows).into_bytes())
            }
        }
    }

    fn finish(&mut self) -> String {
        match self {
            Self::Table(table) => table.finish(),
            Self::Json | Self::Csv => String::new(),
        }
    }
}

/// A group's cells, in the order of the table's columns; the group without the field is
/// `(none)`.
fn row(group: &Value) -> Vec<String> {
    let key = match group.get("key") {
        Some(Value::String(key)) => key.clone(),
        _ => "(none)".to_owned(),
    };
    vec![
        key,
        cells::number(group.get("events")),
        cells::number(group.get("cost")),
        cells::number(group.get("totalCost")),
        cells::number(group.get("durationCount")),
        cells::duration(group.get("durationMeanMs")),
        cells::duration(group.get("durationMaxMs")),
    ]
}

fn json_lines(groups: &[Value]) -> Result<Vec<u8>, CommandError> {
    let mut bytes = Vec::new();
    for group in groups {
        serde_json::to_writer(&mut bytes, group)
            .map_err(|err| CommandError::failed("cannot write a group", err))?;
        bytes.push(b'\n');
    }
    Ok(bytes)
}

/// CSV rows of `groups` (the `FIELDS`; a null key, mean or maximum is an empty cell), after
/// the header row when `header`, written like the CSV export's.
fn csv_rows(groups: &[Value], header: bool) -> Result<Vec<u8>, CommandError> {
    let failed = |err| CommandError::failed("cannot write CSV", err);
    let mut out = csv::writer(Vec::new());
    if header {
        out.write_record(FIELDS).map_err(failed)?;
    }
    for group in groups {
        let row = FIELDS.map(|field| match group.get(field) {
            Some(Value::String(text)) => text.clone(),
            Some(Value::Number(number)) => number.to_string(),
            _ => String::new(),
        });
        out.write_record(row).map_err(failed)?;
    }
    out.into_inner()
        .map_err(|err| CommandError::failed("cannot write CSV", err.into_error()))
}
