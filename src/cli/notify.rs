//! The command-line options of notifications, shared by `serve` and `notify`: the rules
//! (`NOTIFY_RULES`, inline or `@file`) and the retry schedule, validated into `NotifySettings`.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::{DAY_MS, DatabaseArgs, millis, non_empty};
use crate::config::ConfigError;
use crate::notify::{self, Backoff, NotifySettings, Rules};

/// Notification rules and how they are sent.
#[derive(Debug, Args)]
pub struct NotifyArgs {
    /// A JSON array of rules (`[{"name","types","slack"|"webhook"}]`), or `@/path/to/file.json`.
    #[arg(long, env = "NOTIFY_RULES", hide_env_values = true)]
    pub notify_rules: Option<String>,
    /// Attempts before a notification is dead.
    #[arg(long, env = "NOTIFY_MAX_ATTEMPTS", value_parser = clap::value_parser!(u32).range(1..=1000),
        default_value_t = notify::DEFAULT_MAX_ATTEMPTS)]
    pub notify_max_attempts: u32,
    /// The retry delay's ceiling after the first failure, in ms (doubling per attempt).
    #[arg(long, env = "NOTIFY_RETRY_BASE_MS", value_parser = clap::value_parser!(u64).range(1..=DAY_MS),
        default_value_t = millis(notify::DEFAULT_RETRY_BASE))]
    pub notify_retry_base_ms: u64,
    /// The longest retry delay, in ms.
    #[arg(long, env = "NOTIFY_RETRY_MAX_MS", value_parser = clap::value_parser!(u64).range(1..=DAY_MS),
        default_value_t = millis(notify::DEFAULT_RETRY_MAX))]
    pub notify_retry_max_ms: u64,
    /// Longest one send may take, in ms.
    #[arg(long, env = "NOTIFY_TIMEOUT_MS", value_parser = clap::value_parser!(u64).range(1..=3_600_000),
        default_value_t = millis(notify::DEFAULT_TIMEOUT))]
    pub notify_timeout_ms: u64,
}

impl NotifyArgs {
    /// Validates the rules and the schedule; `worker` says whether `serve` sends them itself.
    pub fn into_settings(self, worker: bool) -> Result<NotifySettings, ConfigError> {
        let rules = match non_empty(self.notify_rules) {
            None => Rules::default(),
            Some(value) => Rules::parse(&read_rules(&value)?)
                .map_err(|err| ConfigError::new(err.to_string()))?,
        };
        if self.notify_retry_max_ms < self.notify_retry_base_ms {
            return Err(ConfigError::new(
                "NOTIFY_RETRY_MAX_MS must be at least NOTIFY_RETRY_BASE_MS",
            ));
        }
        Ok(NotifySettings {
            rules: Arc::new(rules),
            max_attempts: self.notify_max_attempts,
            backoff: Backoff {
                base: Duration::from_millis(self.notify_retry_base_ms),
                max: Duration::from_millis(self.notify_retry_max_ms),
            },
            timeout: Duration::from_millis(self.notify_timeout_ms),
            worker,
        })
    }
}

/// The rules' JSON: the value itself, or the file named after `@`.
fn read_rules(value: &str) -> Result<String, ConfigError> {
    match value.strip_prefix('@') {
        None => Ok(value.to_owned()),
        Some(path) => std::fs::read_to_string(path).map_err(|err| {
            ConfigError::new(format!(
                "NOTIFY_RULES: cannot read the file {path:?}: {err}"
            ))
        }),
    }
}

/// Options of `notify`.
#[derive(Debug, Args)]
pub struct NotifyCommandArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub notify: NotifyArgs,
}

impl NotifyCommandArgs {
    /// The settings to send with; `notify` without rules is a configuration error.
    pub fn settings(self) -> Result<NotifySettings, ConfigError> {
        let settings = self.notify.into_settings(false)?;
        if settings.rules.is_empty() {
            return Err(ConfigError::new(
                "no notification rules: set NOTIFY_RULES (or --notify-rules)",
            ));
        }
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use crate::cli::{Command, parse};

    #[test]
    fn notify_rules_are_read_inline_or_from_a_file() {
        let rules = r#"[{"name":"ops","types":["*"],"webhook":"http://127.0.0.1:9/x"}]"#;
        let path =
            std::env::temp_dir().join(format!("dash-events-rules-{}.json", std::process::id()));
        std::fs::write(&path, rules).unwrap();
        for value in [rules.to_owned(), format!("@{}", path.display())] {
            let Command::Serve(args) =
                parse(&["serve", "--webhook-secret", "s", "--notify-rules", &value]).command
            else {
                panic!("expected serve");
            };
            let config = args.into_config().expect("valid rules");
            assert!(config.notify.rules.get("ops").is_some(), "{value}");
        }
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn bad_notify_settings_are_configuration_errors() {
        for extra in [
            &["--notify-rules", "[{\"name\":\"x\"}]"][..],
            &["--notify-rules", "@/nonexistent/rules.json"],
            &[
                "--notify-retry-base-ms",
                "5000",
                "--notify-retry-max-ms",
                "10",
            ],
        ] {
            let args = [&["serve", "--webhook-secret", "s"][..], extra].concat();
            let Command::Serve(args) = parse(&args).command else {
                panic!("expected serve");
            };
            let err = args.into_config().expect_err("refused");
            assert!(err.to_string().contains("NOTIFY_"), "{extra:?}: {err}");
        }
    }
}
