//! The command line: `serve`, `migrate`, `send-test`, `verify`, `export`, `query`, `prune`,
//! `notify`, `backup`, `copy` and `search-index`, each option with the environment variable that
//! also sets it (the flag wins).
//! Turning these into a `Config` is where missing or empty values become configuration errors
//! that name the variable to set, and `run` hands the plain values to the subcommand in
//! `commands`. Only this module knows clap.

mod copy;
mod notify;
mod query;
mod search;
mod tls;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use copy::CopyArgs;
pub use notify::{NotifyArgs, NotifyCommandArgs};
pub use query::{QueryArgs, QueryFormat};
pub use search::{SearchIndexAction, SearchIndexArgs};
pub use tls::TlsArgs;

use crate::commands::{self, CommandError, send_test::SendTest};
use crate::config::{Config, ConfigError, Secret};
use crate::limits::Limits;
use crate::query::ListParams;
use crate::retention::{self, Retention};
use crate::store::{Durability, SearchIndex};

/// The default SQLite file, relative to the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite:dash-events.db";

/// `dash-events`: a verifying receiver and audit log for Dash webhooks.
#[derive(Debug, Parser)]
#[command(name = "dash-events", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// `dash-events-lambda`: the receiver as an AWS Lambda function behind API Gateway. It takes the
/// options of `serve`, from the function's environment variables (or flags); `LISTEN_ADDR`,
/// `SQLITE_SYNCHRONOUS` and the TLS files do not apply (API Gateway terminates TLS), and
/// `DATABASE_URL` must be PostgreSQL.
#[cfg(feature = "lambda")]
#[derive(Debug, Parser)]
#[command(name = "dash-events-lambda", version)]
pub struct LambdaCli {
    /// The options of `serve`.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the receiver and the query API.
    Serve(ServeArgs),
    /// Apply the database migrations and exit.
    Migrate(DatabaseArgs),
    /// Sign sample events and POST them to a receiver, printing each answer.
    SendTest(SendTestArgs),
    /// Re-check every stored event against its stored signed body; exit 1 if one does not match.
    Verify(VerifyArgs),
    /// Write the stored events as NDJSON, newest first, to a file or standard output.
    Export(ExportArgs),
    /// Print the events matching filters (newest first), or their totals per agent, swarm,
    /// workflow, instance, webhook, type or day, as a table, JSON lines or CSV.
    Query(QueryArgs),
    /// Delete the events older than the retention window once, and print how many.
    Prune(PruneArgs),
    /// Send the pending notifications that are due, then exit (for cron, or where no background
    /// task survives between invocations).
    Notify(NotifyCommandArgs),
    /// Copy a live SQLite log to a file, consistently, while `serve` keeps running (PostgreSQL:
    /// use pg_dump or base backups).
    Backup(BackupArgs),
    /// Copy every event, with its notifications, from one database to another (SQLite or
    /// PostgreSQL either way); rerun to resume, or to copy what arrived since.
    Copy(CopyArgs),
    /// The text index behind `q=` (`serve --search-index`): `build` indexes the events already
    /// stored.
    SearchIndex(SearchIndexArgs),
}

/// Runs the chosen subcommand to completion.
pub async fn run(command: Command) -> Result<(), CommandError> {
    match command {
        Command::Serve(args) => commands::serve::run(args.into_config()?).await,
        Command::Migrate(args) => commands::migrate::run(&args.database_url).await,
        Command::SendTest(args) => commands::send_test::run(args.into_send_test()?).await,
        Command::Verify(args) => {
            let secrets = args.secrets()?;
            commands::verify::run(&args.database.database_url, &secrets).await
        }
        Command::Export(args) => {
            let params = args.params()?;
            let output = args.output.as_deref();
            commands::export::run(&args.database.database_url, params, output).await
        }
        Command::Query(args) => {
            let query = args.query(crate::clock::now_us())?;
            commands::query::run(&args.database.database_url, query).await
        }
        Command::Prune(args) => {
            let retention = args.retention()?;
            commands::prune::run(&args.database.database_url, retention).await
        }
        Command::Notify(args) => {
            let database_url = args.database.database_url.clone();
            commands::notify::run(&database_url, args.settings()?).await
        }
        Command::Backup(args) => {
            commands::backup::run(&args.database.database_url, &args.to, args.force).await
        }
        Command::Copy(args) => {
            let search = search_index(args.search_index);
            commands::copy::run(&args.from, &args.to, args.batch, search).await
        }
        Command::SearchIndex(args) => match args.action {
            SearchIndexAction::Build(database) => {
                commands::search_index::build(&database.database_url).await
            }
        },
    }
}

/// Where the events are stored.
#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// `sqlite:path` (created if missing) or `postgres://…` (add `?statement-cache-capacity=0`
    /// behind a transaction pooler such as PgBouncer).
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,
}

/// Options of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// PostgreSQL only: a hot standby of DATABASE_URL that answers the query API (events, stats,
    /// timeline, export); ingest, notifications, the live stream and readiness stay on the primary.
    #[arg(long, env = "DATABASE_READ_URL")]
    pub database_read_url: Option<String>,
    /// Address to bind; port 0 picks a free port.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:3000")]
    pub listen: String,
    /// HMAC key for X-Dash-Signature (required).
    #[arg(long, env = "WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,
    /// A second key still accepted, for rotating secrets.
    #[arg(long, env = "WEBHOOK_SECRET_PREVIOUS", hide_env_values = true)]
    pub webhook_secret_previous: Option<String>,
    /// Bearer token required by the query API.
    #[arg(long, env = "API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,
    /// Larger deliveries get 413.
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 1_048_576)]
    pub max_body_bytes: usize,
    /// SQLite only: `full` syncs every commit (a 200 survives power loss); `normal` survives a
    /// crash of the process, not of the machine.
    #[arg(long, env = "SQLITE_SYNCHRONOUS", value_enum, default_value_t = SqliteSynchronous::Full)]
    pub sqlite_synchronous: SqliteSynchronous,
    #[command(flatten)]
    pub retention: RetentionArgs,
    #[command(flatten)]
    pub notify: NotifyArgs,
    /// Run the notification worker inside `serve` (`false`: only record notifications, and let
    /// `dash-events notify` send them).
    #[arg(long, env = "NOTIFY_WORKER", default_value_t = true, action = clap::ArgAction::Set)]
    pub notify_worker: bool,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Index the words of each stored event and answer `q=` (text search); see `dash-events
    /// search-index build` for the events stored before.
    #[arg(long, env = "SEARCH_INDEX")]
    pub search_index: bool,
}

/// `SQLITE_SYNCHRONOUS`: the values of `Durability`, as the command line spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SqliteSynchronous {
    /// Every commit is fsynced.
    Full,
    /// The WAL is synced only at checkpoints.
    Normal,
}

impl From<SqliteSynchronous> for Durability {
    fn from(value: SqliteSynchronous) -> Self {
        match value {
            SqliteSynchronous::Full => Self::Full,
            SqliteSynchronous::Normal => Self::Normal,
        }
    }
}

/// How long events are kept.
#[derive(Debug, Args)]
pub struct RetentionArgs {
    /// Delete events whose timestamp is older than this many days, and refuse deliveries that
    /// old (422). Unset: keep every event forever.
    #[arg(long, env = "RETENTION_DAYS")]
    pub retention_days: Option<String>,
}

/// Options of `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Only these types (comma-separated, or the flag repeated).
    #[arg(long = "type")]
    pub types: Vec<String>,
    /// Only events whose timestamp is at or after this RFC 3339 time.
    #[arg(long)]
    pub since: Option<String>,
    /// Only events whose timestamp is before this RFC 3339 time.
    #[arg(long)]
    pub until: Option<String>,
    /// Write to this file instead of standard output.
    #[arg(long)]
    pub output: Option<String>,
}

/// Options of `backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The file to write: written as FILE.partial, renamed to FILE once complete and synced.
    #[arg(long, value_name = "FILE")]
    pub to: PathBuf,
    /// Replace FILE if it exists.
    #[arg(long)]
    pub force: bool,
}

/// Options of `prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub retention: RetentionArgs,
}

impl PruneArgs {
    /// The retention window to enforce; `prune` without one is a configuration error.
    pub fn retention(&self) -> Result<Retention, ConfigError> {
        let value = self.retention.retention_days.as_deref();
        Retention::parse(value, retention::PRUNE_INTERVAL)?.ok_or_else(|| {
            ConfigError::new("no retention window: set RETENTION_DAYS (or --retention-days)")
        })
    }
}

/// The longest timeout a millisecond option takes, so that adding one to an instant cannot overflow.
pub(crate) const DAY_MS: u64 = 86_400_000;

pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Options of `send-test`.
#[derive(Debug, Args)]
pub struct SendTestArgs {
    /// The receiver's webhook endpoint.
    #[arg(
        long,
        env = "WEBHOOK_URL",
        default_value = "http://127.0.0.1:3000/webhooks/dash"
    )]
    pub url: String,
    /// HMAC key to sign with (required).
    #[arg(long, env = "WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,
    /// Event type to send.
    #[arg(long = "type", default_value = "agent:complete")]
    pub event_type: String,
    /// How many events to send.
    #[arg(long, default_value_t = 1)]
    pub count: u64,
    /// Send this id (every time) instead of fresh UUIDs, e.g. to redeliver an event.
    #[arg(long)]
    pub id: Option<String>,
}

/// Options of `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// HMAC key the events were signed with (required).
    #[arg(long, env = "WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,
    /// A second key also accepted (events signed before a rotation).
    #[arg(long, env = "WEBHOOK_SECRET_PREVIOUS", hide_env_values = true)]
    pub webhook_secret_previous: Option<String>,
}

impl ExportArgs {
    /// The filters, parsed exactly as the query string of `GET /events/export`.
    pub fn params(&self) -> Result<ListParams, ConfigError> {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for event_type in &self.types {
            query.append_pair("type", event_type);
        }
        for (name, value) in [("since", &self.since), ("until", &self.until)] {
            if let Some(value) = value {
                query.append_pair(name, value);
            }
        }
        ListParams::parse_export(Some(&query.finish()))
            .map_err(|err| ConfigError::new(format!("--{err}")))
    }
}

impl SendTestArgs {
    /// What to send; without a secret nothing can be signed.
    pub fn into_send_test(self) -> Result<SendTest, ConfigError> {
        Ok(SendTest {
            secret: required_secret(self.webhook_secret)?,
            url: self.url,
            event_type: self.event_type,
            count: self.count,
            id: self.id,
        })
    }
}

impl VerifyArgs {
    /// The keys a stored signature may match, current first.
    pub fn secrets(&self) -> Result<Vec<Secret>, ConfigError> {
        let current = required_secret(self.webhook_secret.clone())?;
        let previous = non_empty(self.webhook_secret_previous.clone()).map(Secret::new);
        Ok(std::iter::once(current).chain(previous).collect())
    }
}

/// `WEBHOOK_SECRET`, which `serve`, `verify` and `send-test` cannot do without.
fn required_secret(value: Option<String>) -> Result<Secret, ConfigError> {
    non_empty(value).map(Secret::new).ok_or_else(|| {
        ConfigError::new("no webhook secret: set WEBHOOK_SECRET (or --webhook-secret)")
    })
}

impl ServeArgs {
    /// Validates the options into a `Config`.
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let webhook_secret = required_secret(self.webhook_secret)?;
        if self.max_body_bytes == 0 {
            return Err(ConfigError::new("MAX_BODY_BYTES must be at least 1"));
        }
        let retention = Retention::parse(
            self.retention.retention_days.as_deref(),
            retention::PRUNE_INTERVAL,
        )?;
        let notify = self.notify.into_settings(self.notify_worker)?;
        let tls = self.tls.files()?;
        Ok(Config {
            database_url: self.database.database_url,
            database_read_url: non_empty(self.database_read_url),
            listen: self.listen,
            webhook_secret,
            webhook_secret_previous: non_empty(self.webhook_secret_previous).map(Secret::new),
            api_token: non_empty(self.api_token).map(Secret::new),
            max_body_bytes: self.max_body_bytes,
            sqlite_synchronous: self.sqlite_synchronous.into(),
            retention,
            notify,
            limits: Limits::default(),
            clock: crate::clock::Clock::system(),
            tls,
            search_index: search_index(self.search_index),
        })
    }
}

/// `--search-index` (or `SEARCH_INDEX=1`) as the store's setting.
pub fn search_index(on: bool) -> SearchIndex {
    if on {
        SearchIndex::On
    } else {
        SearchIndex::Off
    }
}

/// An empty variable (`WEBHOOK_SECRET=`) counts as unset: an empty key or token protects nothing.
pub fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// The command line `dash-events ARGS…`, parsed, for the tests of every module's options.
#[cfg(test)]
pub(crate) fn parse(args: &[&str]) -> Cli {
    Cli::try_parse_from(std::iter::once("dash-events").chain(args.iter().copied()))
        .expect("arguments parse")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_without_secret_is_a_configuration_error_naming_the_variable() {
        let Command::Serve(args) = parse(&["serve", "--webhook-secret", ""]).command else {
            panic!("expected serve");
        };
        let err = args.into_config().expect_err("empty secret refused");
        assert!(err.to_string().contains("WEBHOOK_SECRET"));
    }

    #[test]
    fn serve_defaults_match_the_contract() {
        let Command::Serve(args) = parse(&["serve", "--webhook-secret", "s"]).command else {
            panic!("expected serve");
        };
        let config = args.into_config().expect("valid");
        assert_eq!(config.listen, "127.0.0.1:3000");
        assert_eq!(config.max_body_bytes, 1_048_576);
        assert_eq!(config.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(config.database_read_url, None);
        assert!(config.api_token.is_none());
        assert_eq!(config.sqlite_synchronous, Durability::Full);
        assert_eq!(config.retention, None);
        assert_eq!(config.limits, Limits::default());
        assert!(config.notify.rules.is_empty());
        assert_eq!(config.notify.max_attempts, 8);
        assert_eq!(config.notify.backoff.base, Duration::from_secs(1));
        assert_eq!(config.notify.backoff.max, Duration::from_secs(300));
        assert_eq!(config.notify.timeout, Duration::from_secs(10));
        assert!(config.notify.worker);
        assert_eq!(config.tls, None);
    }
}
