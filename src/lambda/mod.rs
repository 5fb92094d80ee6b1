//! `dash-events-lambda` (the `lambda` feature): the receiver as an AWS Lambda function behind API
//! Gateway. It serves the very router of `serve`, fed one invocation at a time by `lambda_http`,
//! which turns each proxy event (REST API payload 1.0 or HTTP API payload 2.0) into an HTTP
//! request: header names compare case-insensitively there, and a base64 body arrives decoded, so
//! the signature is checked over the exact bytes Dash sent. `path` takes the API Gateway stage out
//! of the request path; `answer` reads the router's answer whole within API Gateway's time limit.
//!
//! Deliveries still go through the group-commit writers and wait for their commit, so a 200 means
//! committed here too. Only PostgreSQL is accepted: a Lambda's disk is ephemeral and private to one
//! execution environment, so a SQLite file there would lose acknowledged events.

mod answer;
mod path;

use std::sync::Arc;

use crate::commands::CommandError;
use crate::config::Config;
use crate::http::{self, AppState};
use crate::ingest::{BatchWriter, WriterSettings};
use crate::metrics::Metrics;
use crate::notify::Outbox;
use crate::store::{Store, redact};

/// The variable Lambda sets for a custom runtime: where its Runtime API answers.
const RUNTIME_API: &str = "AWS_LAMBDA_RUNTIME_API";

/// Checks the configuration, connects the store once (applying pending migrations, as `serve`
/// does), then answers invocations until the execution environment is shut down.
pub async fn run(config: Config) -> Result<(), CommandError> {
    let in_lambda = std::env::var_os(RUNTIME_API).is_some_and(|value| !value.is_empty());
    if let Some(refusal) = refusal(&config, in_lambda) {
        return Err(refusal);
    }
    let store = Store::connect(&config.database_url, config.sqlite_synchronous)
        .await?
        .with_read_url(config.database_read_url.as_deref())
        .await?;
    tracing::info!(database = %redact(&config.database_url), "connected; waiting for invocations");
    // Notifications are recorded with their events as under `serve`; no background task
    // survives between invocations, so `dash-events notify` (on a schedule) sends them.
    let outbox = Outbox::new(config.notify.rules.clone());
    let (writer, _writers) = BatchWriter::spawn(
        store.clone(),
        WriterSettings {
            search: config.search_index,
            ..WriterSettings::for_store(&store)
        },
        outbox.clone(),
    );
    // Nothing ever begins a shutdown here (Lambda freezes or ends the process), but live streams
    // end when the sender goes away: keep it for as long as invocations are served.
    let (_shutdown_sender, shutdown) = tokio::sync::watch::channel(false);
    let retention = config
        .retention
        .map(|retention| crate::retention::Window::new(retention, config.clock.clone()));
    let state = AppState {
        store,
        retention,
        config: Arc::new(config),
        writer,
        metrics: Metrics::new(),
        outbox,
        shutdown,
    };
    let app = http::router(state);
    lambda_http::run(lambda_http::service_fn(move |request| {
        answer::invoke(app.clone(), request)
    }))
    .await
    .map_err(|err| CommandError::failed("the Lambda runtime failed", err))
}

/// Why this configuration cannot serve as a Lambda function, if it cannot.
fn refusal(config: &Config, in_lambda: bool) -> Option<CommandError> {
    let url = &config.database_url;
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Some(CommandError::config(format!(
            "DATABASE_URL={} is not PostgreSQL: dash-events-lambda stores events only in \
             PostgreSQL (postgres://…), because a Lambda's disk is ephemeral and private to one \
             execution environment, so events acknowledged into a SQLite file there would be lost",
            redact(url)
        )));
    }
    if config.api_token.is_none() {
        return Some(CommandError::config(
            "no API token: set API_TOKEN (or --api-token); behind API Gateway the query API is \
             reachable from anywhere",
        ));
    }
    if !in_lambda {
        return Some(CommandError::config(format!(
            "{RUNTIME_API} is not set: dash-events-lambda runs inside AWS Lambda; \
             use `dash-events serve` elsewhere"
        )));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use crate::limits::Limits;
    use crate::store::Durability;

    fn config(database_url: &str, token: Option<&str>) -> Config {
        Config {
            database_url: database_url.into(),
            database_read_url: None,
            listen: "127.0.0.1:3000".into(),
            webhook_secret: Secret::new("s".into()),
            webhook_secret_previous: None,
            api_token: token.map(|t| Secret::new(t.into())),
            max_body_bytes: 1,
            sqlite_synchronous: Durability::Full,
            retention: None,
            limits: Limits::default(),
            clock: crate::clock::Clock::system(),
            tls: None,
            search_index: Default::default(),
            notify: Default::default(),
        }
    }

    #[test]
    fn sqlite_is_refused_naming_the_variable_and_the_reason() {
        for url in [
            "sqlite:dash-events.db",
            "sqlite:///tmp/x.db",
            "sqlite::memory:",
        ] {
            let err = refusal(&config(url, Some("t")), true).expect(url);
            assert_eq!(err.exit_code(), 2, "{url}");
            let message = err.to_string();
            assert!(message.contains("DATABASE_URL"), "{message}");
            assert!(message.contains("PostgreSQL"), "{message}");
            assert!(message.contains("lost"), "{message}");
        }
    }

    #[test]
    fn a_token_and_the_runtime_api_are_required() {
        let url = "postgres://u:pw@db/events";
        let no_token = refusal(&config(url, None), true).expect("no token");
        assert!(no_token.to_string().contains("API_TOKEN"));
        let outside = refusal(&config(url, Some("t")), false).expect("outside Lambda");
        assert!(outside.to_string().contains(RUNTIME_API));
        assert!(refusal(&config(url, Some("t")), true).is_none());
        assert!(refusal(&config("postgresql://db/events", Some("t")), true).is_none());
    }

    #[test]
    fn the_refusal_never_prints_the_password() {
        let err = refusal(&config("mysql://u:hunter2@db/x", Some("t")), true).expect("refused");
        assert!(!err.to_string().contains("hunter2"));
    }
}
