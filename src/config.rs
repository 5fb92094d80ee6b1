//! Runtime configuration of `serve`: a plain struct so tests can build it literally. Values come
//! from flags and environment variables (see `cli`); defaults live there, in code.

pub use crate::secret::Secret;

use std::path::PathBuf;
use std::time::Duration;

use crate::clock::Clock;
use crate::limits::Limits;
use crate::notify::NotifySettings;
use crate::retention::Retention;
use crate::store::{Durability, SearchIndex};

/// A flag or variable the operator must change; the message names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl ConfigError {
    /// A configuration error with its message.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// Everything `serve` needs to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// `sqlite:…` or `postgres://…`.
    pub database_url: String,
    /// A hot standby of a PostgreSQL `database_url` for the query API's reads; `None` reads the
    /// primary.
    pub database_read_url: Option<String>,
    /// The address to bind, `host:port`.
    pub listen: String,
    /// The current HMAC key for `X-Dash-Signature`.
    pub webhook_secret: Secret,
    /// A second key still accepted while secrets rotate.
    pub webhook_secret_previous: Option<Secret>,
    /// Bearer token for the query API; `None` leaves it open (loopback only).
    pub api_token: Option<Secret>,
    /// Deliveries larger than this get 413.
    pub max_body_bytes: usize,
    /// What an acknowledged event survives on SQLite.
    pub sqlite_synchronous: Durability,
    /// How long events are kept; `None` keeps them forever.
    pub retention: Option<Retention>,
    /// Notification rules and their delivery.
    pub notify: NotifySettings,
    /// Timeouts and the connection cap that bound slow or abusive clients.
    pub limits: Limits,
    /// The wall clock: the system's, or one a test steps.
    pub clock: Clock,
    /// Serve HTTPS with this certificate and key; `None` serves plain HTTP.
    pub tls: Option<TlsFiles>,
    /// Whether stored events' words are indexed and `q=` answered (`--search-index`).
    pub search_index: SearchIndex,
}

/// How often `serve` looks at the certificate and key files for a renewal.
pub const TLS_RELOAD_INTERVAL: Duration = Duration::from_secs(5);

/// The PEM files `serve` takes its TLS certificate from, read again whenever they change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first (`--tls-cert`, `TLS_CERT_FILE`).
    pub cert: PathBuf,
    /// The private key of the leaf (`--tls-key`, `TLS_KEY_FILE`).
    pub key: PathBuf,
    /// How often the files are checked for a change: [`TLS_RELOAD_INTERVAL`] unless a test
    /// shortened it.
    pub reload_interval: Duration,
}

impl TlsFiles {
    /// The pair at `cert` and `key`, checked every [`TLS_RELOAD_INTERVAL`].
    pub fn new(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        Self {
            cert: cert.into(),
            key: key.into(),
            reload_interval: TLS_RELOAD_INTERVAL,
        }
    }
}

impl Config {
    /// The secrets a signature may match, current first.
    pub fn webhook_secrets(&self) -> Vec<&Secret> {
        std::iter::once(&self.webhook_secret)
            .chain(self.webhook_secret_previous.as_ref())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_redacts_secrets() {
        let config = Config {
            database_url: "sqlite:x.db".into(),
            database_read_url: None,
            listen: "127.0.0.1:0".into(),
            webhook_secret: Secret::new("hunter2".into()),
            webhook_secret_previous: Some(Secret::new("old-hunter".into())),
            api_token: Some(Secret::new("tok3n".into())),
            max_body_bytes: 10,
            sqlite_synchronous: Durability::Full,
            retention: None,
            notify: NotifySettings {
                rules: std::sync::Arc::new(
                    crate::notify::Rules::parse(
                        r#"[{"name":"a","types":["*"],"slack":"https://hooks.example.test/T/B/sl4ck"}]"#,
                    )
                    .expect("valid rules"),
                ),
                ..NotifySettings::default()
            },
            limits: Limits::default(),
            clock: Clock::system(),
            tls: None,
            search_index: Default::default(),
        };
        let printed = format!("{config:?}");
        for secret in ["hunter2", "old-hunter", "tok3n", "sl4ck"] {
            assert!(!printed.contains(secret), "{secret} leaked into {printed}");
        }
        assert_eq!(config.webhook_secrets().len(), 2);
    }
}
