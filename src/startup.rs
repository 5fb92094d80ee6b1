//! Start-up failures and their exit codes. A refusal to start is one clear line on stderr and a
//! non-zero exit, never a panic: 2 when the configuration must change, 1 when a valid
//! configuration could not be brought up (database unreachable, address in use).

use std::fmt;

/// Why the process could not start.
#[derive(Debug)]
pub enum StartupError {
    /// The operator must change a flag or variable.
    Config(String),
    /// The configuration is valid but the environment refused it.
    Runtime(anyhow::Error),
}

impl StartupError {
    /// A configuration error with its message.
    pub fn config(message: impl Into<String>) -> Self {
        Self::Config(message.into())
    }

    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Config(_) => 2,
            Self::Runtime(_) => 1,
        }
    }
}

impl fmt::Display for StartupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(message) => f.write_str(message),
            // The alternate form prints the whole context chain on one line.
            Self::Runtime(err) => write!(f, "{err:#}"),
        }
    }
}

impl From<anyhow::Error> for StartupError {
    fn from(err: anyhow::Error) -> Self {
        Self::Runtime(err)
    }
}
