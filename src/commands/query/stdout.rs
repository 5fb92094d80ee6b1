//! Standard output for `query`, written a page at a time. A reader that goes away (`| head`)
//! is not an error: printing stops and the command ends as if it had printed everything.

use std::io::ErrorKind;

use tokio::io::AsyncWriteExt;

use crate::commands::CommandError;

/// Standard output, until its reader goes away.
pub(super) struct Stdout {
    out: tokio::io::Stdout,
    open: bool,
}

impl Stdout {
    /// The process's standard output.
    pub fn new() -> Self {
        Self {
            out: tokio::io::stdout(),
            open: true,
        }
    }

    /// Whether the reader is still there.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Writes `bytes` unless the reader went away.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), CommandError> {
        if !self.open || bytes.is_empty() {
            return Ok(());
        }
        let written = self.out.write_all(bytes).await;
        self.check(written)
    }

    /// Flushes what was written.
    pub async fn flush(&mut self) -> Result<(), CommandError> {
        if !self.open {
            return Ok(());
        }
        let flushed = self.out.flush().await;
        self.check(flushed)
    }

    fn check(&mut self, result: std::io::Result<()>) -> Result<(), CommandError> {
        match result {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == ErrorKind::BrokenPipe => {
                self.open = false;
                Ok(())
            }
            Err(err) => Err(CommandError::failed("cannot write to standard output", err)),
        }
    }
}
