//! `CommandError`: what a subcommand fails with, and its exit code. A refusal is one clear line
//! on stderr and a non-zero exit, never a panic: 2 when the configuration must change, 1 when a
//! valid configuration could not be carried out (database unreachable, address in use, a
//! mismatched row).

use crate::config::ConfigError;
use crate::store::StoreError;

/// A cause of any kind, kept for the report.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a subcommand failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The operator must change a flag or variable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database could not be opened, migrated or read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The configuration is valid but the work failed.
    #[error("{what}")]
    Failed {
        /// What failed, in the operator's terms.
        what: String,
        /// Why, when something below said so.
        #[source]
        cause: Option<Cause>,
    },
}

impl CommandError {
    /// A configuration error with its message.
    pub fn config(message: impl Into<String>) -> Self {
        Self::Config(ConfigError::new(message))
    }

    /// `what` failed because of `cause`.
    pub fn failed(what: impl Into<String>, cause: impl Into<Cause>) -> Self {
        Self::Failed {
            what: what.into(),
            cause: Some(cause.into()),
        }
    }

    /// `what` failed; nothing below has more to say.
    pub fn failure(what: impl Into<String>) -> Self {
        Self::Failed {
            what: what.into(),
            cause: None,
        }
    }

    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Config(_) | Self::Store(StoreError::InvalidUrl(_)) => 2,
            Self::Store(_) | Self::Failed { .. } => 1,
        }
    }

    /// The error and its causes on one line, outermost first: what stderr shows.
    pub fn report(&self) -> String {
        let mut line = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(err) = cause {
            line.push_str(": ");
            line.push_str(&err.to_string());
            cause = err.source();
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_errors_exit_2_and_the_rest_exit_1() {
        assert_eq!(CommandError::config("x").exit_code(), 2);
        assert_eq!(
            CommandError::from(StoreError::InvalidUrl("x".into())).exit_code(),
            2
        );
        assert_eq!(CommandError::from(StoreError::WriterStopped).exit_code(), 1);
        assert_eq!(CommandError::failure("x").exit_code(), 1);
    }

    #[test]
    fn the_report_carries_every_cause_on_one_line() {
        let io = std::io::Error::other("disk on fire");
        let err = CommandError::failed("pruning failed", io);
        assert_eq!(err.report(), "pruning failed: disk on fire");
    }
}
