//! The options of `query`: the filters of `GET /events` and `GET /stats/groups` as flags. They
//! are turned into the query string the HTTP API would receive and read by the API's own parsers
//! (`ListParams`, `GroupParams`), so a flag accepts exactly what its parameter accepts; a refusal
//! names the flag instead of the parameter.

use clap::{Args, ValueEnum};

use super::DatabaseArgs;
use crate::commands::query::{Mode, Output, Query};
use crate::config::ConfigError;
use crate::query::{BadParam, EXPORT_PAGE, GroupParams, ListParams};

/// Options of `query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Only these types (comma-separated, or the flag repeated).
    #[arg(long = "type", value_name = "TYPE")]
    pub types: Vec<String>,
    /// Only events whose data.agentId is one of these (comma-separated, or repeated).
    #[arg(long = "agent", value_name = "ID")]
    pub agents: Vec<String>,
    /// Only events whose data.swarmId is one of these.
    #[arg(long = "swarm", value_name = "ID")]
    pub swarms: Vec<String>,
    /// Only events whose data.workflowId is one of these.
    #[arg(long = "workflow", value_name = "ID")]
    pub workflows: Vec<String>,
    /// Only events whose instanceId is one of these.
    #[arg(long = "instance", value_name = "ID")]
    pub instances: Vec<String>,
    /// Only events whose webhookId is one of these.
    #[arg(long = "webhook", value_name = "ID")]
    pub webhooks: Vec<String>,
    /// Only events whose top-level data field FIELD equals VALUE (a JSON number, true, false or
    /// a "quoted" string is typed; other text is a string). Repeated: one field's values are
    /// OR'd, different fields AND. Needs --since and a window of at most 31 days.
    #[arg(long = "data", value_name = "FIELD=VALUE")]
    pub data: Vec<String>,
    /// Only events whose timestamp is at or after this RFC 3339 time.
    #[arg(long)]
    pub since: Option<String>,
    /// Only events whose timestamp is before this RFC 3339 time.
    #[arg(long)]
    pub until: Option<String>,
    /// Only events holding every word of this text (not with --group-by); needs the search
    /// index, so --search-index as well.
    #[arg(long, value_name = "TEXT", conflicts_with = "group_by")]
    pub search: Option<String>,
    /// The receivers keep the search index (they run with --search-index or SEARCH_INDEX=1,
    /// and `dash-events search-index build` indexed the events stored before), so --search may
    /// read it.
    #[arg(long, env = "SEARCH_INDEX")]
    pub search_index: bool,
    /// Totals per group instead of events: agentId, swarmId, workflowId, instanceId, webhookId,
    /// type or day.
    #[arg(long, value_name = "KEY")]
    pub group_by: Option<String>,
    /// The order of the groups: cost (the default) or events.
    #[arg(long, value_name = "ORDER", requires = "group_by")]
    pub sort: Option<String>,
    /// At most this many events (newest first) or groups, 1 to 1000; all of them without it.
    #[arg(long, value_name = "N")]
    pub limit: Option<String>,
    /// table (fitted to the terminal's width), json (one JSON object per line) or csv.
    #[arg(long, value_enum, default_value_t = QueryFormat::Table)]
    pub format: QueryFormat,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QueryFormat {
    /// Aligned columns, as wide as the terminal.
    Table,
    /// One JSON object per line.
    Json,
    /// A header row, then one row per event or group.
    Csv,
}

/// Why `--search` is refused without `--search-index`: without the index there are no words to
/// search, and the index is what spares reading the whole log (as `q=` on a server without it).
const NO_SEARCH_INDEX: &str = "--search: text search needs the search index: pass \
    --search-index (or SEARCH_INDEX=1) where the receivers keep it (serve --search-index, and \
    `dash-events search-index build` once for the events stored before)";

/// The table's width when neither `COLUMNS` nor a terminal tells.
const DEFAULT_WIDTH: usize = 80;

/// Each flag that becomes a query parameter, with that parameter's name.
const FLAG_OF_PARAMETER: [(&str, &str); 12] = [
    ("type", "--type"),
    ("agentId", "--agent"),
    ("swarmId", "--swarm"),
    ("workflowId", "--workflow"),
    ("instanceId", "--instance"),
    ("webhookId", "--webhook"),
    ("since", "--since"),
    ("until", "--until"),
    ("q", "--search"),
    ("by", "--group-by"),
    ("sort", "--sort"),
    ("limit", "--limit"),
];

impl QueryArgs {
    /// What to read and how to print it, validated by the HTTP API's parsers; `now_us` ends a
    /// window without `--until` (the 31-day rule of `--data`).
    pub fn query(&self, now_us: i64) -> Result<Query, ConfigError> {
        if self.search.is_some() && !self.search_index {
            return Err(ConfigError::new(NO_SEARCH_INDEX));
        }
        let query = self.query_string()?;
        let mode = match &self.group_by {
            None => self.events_mode(&query, now_us),
            Some(_) => self.groups_mode(&query, now_us),
        }
        .map_err(|err| ConfigError::new(flag_message(&err)))?;
        let output = match self.format {
            QueryFormat::Table => Output::Table {
                width: terminal_width(),
            },
            QueryFormat::Json => Output::Json,
            QueryFormat::Csv => Output::Csv,
        };
        Ok(Query { mode, output })
    }

    /// The flags as the query string of `GET /events` (or `/stats/groups`).
    fn query_string(&self) -> Result<String, ConfigError> {
        let mut query = form_urlencoded::Serializer::new(String::new());
        let lists = [
            ("type", &self.types),
            ("agentId", &self.agents),
            ("swarmId", &self.swarms),
            ("workflowId", &self.workflows),
            ("instanceId", &self.instances),
            ("webhookId", &self.webhooks),
        ];
        for (name, values) in lists {
            for value in values {
                query.append_pair(name, value);
            }
        }
        for field_value in &self.data {
            let (field, value) = field_value.split_once('=').ok_or_else(|| {
                ConfigError::new(format!("--data {field_value}: expected FIELD=VALUE"))
            })?;
            query.append_pair(&format!("data.{field}"), value);
        }
        let single = [
            ("since", &self.since),
            ("until", &self.until),
            ("q", &self.search),
            ("by", &self.group_by),
            ("sort", &self.sort),
            ("limit", &self.limit),
        ];
        for (name, value) in single {
            if let Some(value) = value {
                query.append_pair(name, value);
            }
        }
        Ok(query.finish())
    }

    /// The events: read a page of at most `EXPORT_PAGE` at a time, up to `--limit` if given.
    fn events_mode(&self, query: &str, now_us: i64) -> Result<Mode, BadParam> {
        let mut params = ListParams::parse(Some(query))?;
        params.filters.check_window(&params.range, now_us)?;
        let limit = self.limit.as_ref().map(|_| params.limit);
        params.limit = limit.unwrap_or(EXPORT_PAGE).min(EXPORT_PAGE);
        Ok(Mode::Events { params, limit })
    }

    /// The groups: the first `--limit`, or all.
    fn groups_mode(&self, query: &str, now_us: i64) -> Result<Mode, BadParam> {
        let params = GroupParams::parse(Some(query))?;
        params.filters.check_window(&params.range, now_us)?;
        let limit = self.limit.as_ref().map(|_| params.limit);
        Ok(Mode::Groups { params, limit })
    }
}

/// The width of the table: `COLUMNS` when it is a positive number (as shells set it), else
/// the terminal's that standard output (or, when it is piped, standard error) shows, else 80.
fn terminal_width() -> usize {
    let columns = std::env::var("COLUMNS").ok();
    if let Some(width) = columns
        .and_then(|c| c.trim().parse().ok())
        .filter(|w| *w > 0)
    {
        return width;
    }
    [console::Term::stdout(), console::Term::stderr()]
        .iter()
        .find_map(console::Term::size_checked)
        .map_or(DEFAULT_WIDTH, |(_rows, columns)| usize::from(columns))
}

/// A refusal of the HTTP parsers (`agentId: …`) as the command line says it (`--agent: …`). A
/// `data.<field>` parameter becomes `--data <field>`.
fn flag_message(err: &BadParam) -> String {
    let Some((parameter, rest)) = err.0.split_once(": ") else {
        return err.0.clone();
    };
    match parameter.strip_prefix("data.") {
        Some("") => return format!("--data: {rest}"),
        Some(field) => return format!("--data {field}: {rest}"),
        None => {}
    }
    match FLAG_OF_PARAMETER
        .iter()
        .find(|(name, _)| *name == parameter)
    {
        Some((_, flag)) => format!("{flag}: {rest}"),
        None => err.0.clone(),
    }
}

#[cfg(test)]
mod tests;
