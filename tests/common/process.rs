//! A child process of a binary under test (`dash-events`, `dash-events-lambda`); shared by the
//! `api` and `lambda` test targets. Its stdout and stderr are drained by
//! two background threads into shared buffers for the whole life of the child, so a chatty server
//! never blocks on a full pipe and a test can read what it printed; the child is killed when the
//! handle is dropped, so a failing test never leaves a server behind.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// Environment variables the binary reads; cleared so the developer's shell cannot leak into a test.
const ENV_OF_THE_BINARY: &[&str] = &[
    "DATABASE_URL",
    "SQLITE_SYNCHRONOUS",
    "LISTEN_ADDR",
    "WEBHOOK_SECRET",
    "WEBHOOK_SECRET_PREVIOUS",
    "API_TOKEN",
    "MAX_BODY_BYTES",
    "RETENTION_DAYS",
    "NOTIFY_RULES",
    "NOTIFY_MAX_ATTEMPTS",
    "NOTIFY_RETRY_BASE_MS",
    "NOTIFY_RETRY_MAX_MS",
    "NOTIFY_TIMEOUT_MS",
    "NOTIFY_WORKER",
    "SEARCH_INDEX",
    "WEBHOOK_URL",
    "LOG_FORMAT",
    "RUST_BACKTRACE",
    "RUST_LIB_BACKTRACE",
    "AWS_LAMBDA_RUNTIME_API",
];

/// A `Command` for `dash-events` with a clean, predictable environment.
pub fn dash_events<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    binary(env!("CARGO_BIN_EXE_dash-events"), args)
}

/// A `Command` for the binary at `path` with a clean, predictable environment.
pub fn binary<I, S>(path: &str, args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut command = Command::new(path);
    command.args(args);
    for name in ENV_OF_THE_BINARY {
        command.env_remove(name);
    }
    command.env("RUST_LOG", "info").env("NO_COLOR", "1");
    command
}

/// What a finished process printed, and how it ended.
#[derive(Debug)]
pub struct Exit {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// A running child process whose output is being collected.
pub struct Process {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    stderr_lines: UnboundedReceiver<String>,
    drains: Vec<JoinHandle<()>>,
}

impl Process {
    /// Starts `command` with piped output; panics if the binary cannot be executed at all.
    pub fn spawn(mut command: Command) -> Process {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {command:?}: {err}"));
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (lines_tx, stderr_lines) = unbounded_channel();
        let out_pipe = child.stdout.take().expect("stdout was piped");
        let err_pipe = child.stderr.take().expect("stderr was piped");
        let drains = vec![
            drain(out_pipe, Arc::clone(&stdout), None),
            drain(err_pipe, Arc::clone(&stderr), Some(lines_tx)),
        ];
        Process {
            child,
            stdout,
            stderr,
            stderr_lines,
            drains,
        }
    }

    /// The operating system's id of the child.
    pub fn pid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).expect("pid fits in i32"))
    }

    /// Sends `sig` to the child (and to no other process).
    pub fn signal(&self, sig: Signal) {
        signal::kill(self.pid(), sig).unwrap_or_else(|err| panic!("cannot send {sig}: {err}"));
    }

    /// Everything the child wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr buffer").clone()
    }

    /// Waits up to `timeout` for a stderr line containing `needle`; `Err` carries the stderr so far
    /// when the child closed stderr (exited) or the time ran out first.
    pub async fn wait_for_stderr_line(
        &mut self,
        needle: &str,
        timeout: Duration,
    ) -> Result<String, String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.stderr_lines.recv()).await {
                Ok(Some(line)) if line.contains(needle) => return Ok(line),
                Ok(Some(_)) => continue,
                Ok(None) => return Err(format!("the process ended:\n{}", self.stderr())),
                Err(_) => return Err(format!("timed out after {timeout:?}:\n{}", self.stderr())),
            }
        }
    }

    /// Waits up to `timeout` for the child to exit; `None` if it is still running.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<Exit> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait on own child") {
                for handle in self.drains.drain(..) {
                    handle.join().expect("drain thread");
                }
                return Some(Exit {
                    status,
                    stdout: self.stdout.lock().expect("stdout buffer").clone(),
                    stderr: self.stderr(),
                });
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for the exit, killing the child and panicking with its output if it overstays.
    pub async fn expect_exit(&mut self, timeout: Duration, what: &str) -> Exit {
        match self.wait_exit(timeout).await {
            Some(exit) => exit,
            None => {
                self.kill();
                panic!(
                    "{what}: still running after {timeout:?}; stderr:\n{}",
                    self.stderr()
                );
            }
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.kill();
        }
    }
}

/// Copies a pipe into `buffer` line by line until end of file, forwarding stderr lines to `lines`.
fn drain(
    pipe: impl Read + Send + 'static,
    buffer: Arc<Mutex<String>>,
    lines: Option<UnboundedSender<String>>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut raw = Vec::new();
        loop {
            raw.clear();
            match reader.read_until(b'\n', &mut raw) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let line = strip_ansi(&String::from_utf8_lossy(&raw));
            buffer.lock().expect("output buffer").push_str(&line);
            if let Some(tx) = &lines {
                // The receiver goes away once start-up is over; later lines only go to the buffer.
                let _ = tx.send(line.trim_end().to_owned());
            }
        }
    })
}

/// Removes terminal colour sequences (`ESC [ … letter`) in case the logger emits them anyway.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for next in chars.by_ref() {
                if next.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
