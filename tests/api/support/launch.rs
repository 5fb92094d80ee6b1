//! The options of one `dash-events serve` child process, given as flags by default (the way an operator
//! types them) or as environment variables, and starting it: the server is found through its
//! `listening on <ip>:<port>` log line, or expected to refuse to start and exit.

use std::net::SocketAddr;
use std::time::Duration;

use crate::backend::TestDb;
use crate::process::{Exit, Process, binary, dash_events};
use crate::support::http::SECRET;
use crate::support::server::ServeProcess;

/// How long a server may take to start (migrations included) on a busy test machine.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a graceful shutdown or a refused start may take.
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(30);

/// The options of one `serve` process.
#[derive(Debug, Clone)]
pub struct Launch {
    database_url: Option<String>,
    secret: Option<String>,
    token: Option<String>,
    listen: String,
    via_environment: bool,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    dir: std::path::PathBuf,
    wrapper: Vec<String>,
}

impl Launch {
    /// `serve --listen 127.0.0.1:0 --database-url <db> --webhook-secret SECRET`.
    pub fn new(db: &TestDb) -> Launch {
        Launch {
            database_url: Some(db.url().to_owned()),
            secret: Some(SECRET.to_owned()),
            token: None,
            listen: "127.0.0.1:0".to_owned(),
            via_environment: false,
            args: Vec::new(),
            envs: Vec::new(),
            dir: db.dir().to_owned(),
            wrapper: Vec::new(),
        }
    }

    /// Requires `Authorization: Bearer <token>` on the query API; the client sends it.
    pub fn api_token(mut self, token: &str) -> Launch {
        self.token = Some(token.to_owned());
        self
    }

    /// Starts without `--webhook-secret`.
    pub fn without_secret(mut self) -> Launch {
        self.secret = None;
        self
    }

    pub fn listen(mut self, addr: &str) -> Launch {
        self.listen = addr.to_owned();
        self
    }

    pub fn database_url(mut self, url: &str) -> Launch {
        self.database_url = Some(url.to_owned());
        self
    }

    /// Starts without `--database-url`, so the default database in the working directory is used.
    pub fn without_database_url(mut self) -> Launch {
        self.database_url = None;
        self
    }

    /// Passes listen address, database, secret and token as environment variables, not flags.
    pub fn via_environment(mut self) -> Launch {
        self.via_environment = true;
        self
    }

    /// Adds a command-line argument after the ones above.
    pub fn arg(mut self, arg: &str) -> Launch {
        self.args.push(arg.to_owned());
        self
    }

    pub fn env(mut self, name: &str, value: &str) -> Launch {
        self.envs.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Starts the server as `program args… dash-events serve …`: a launcher such as a fault
    /// injector, which must exec the binary so that the child process is the server itself.
    pub fn wrapped_in(mut self, program: &str, args: &[&str]) -> Launch {
        self.wrapper = std::iter::once(program)
            .chain(args.iter().copied())
            .map(str::to_owned)
            .collect();
        self
    }

    /// The webhook secret the server gets (empty when started without one).
    pub fn secret(&self) -> &str {
        self.secret.as_deref().unwrap_or_default()
    }

    /// The API token the server requires, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    fn command(&self) -> std::process::Command {
        let options = [
            ("--listen", "LISTEN_ADDR", Some(&self.listen)),
            ("--database-url", "DATABASE_URL", self.database_url.as_ref()),
            ("--webhook-secret", "WEBHOOK_SECRET", self.secret.as_ref()),
            ("--api-token", "API_TOKEN", self.token.as_ref()),
        ];
        let mut command = match self.wrapper.split_first() {
            Some((program, args)) => {
                let server = [env!("CARGO_BIN_EXE_dash-events"), "serve"];
                binary(program, args.iter().map(String::as_str).chain(server))
            }
            None => dash_events(["serve"]),
        };
        for (flag, variable, value) in options {
            match value {
                Some(value) if self.via_environment => command.env(variable, value),
                Some(value) => command.arg(flag).arg(value),
                None => &mut command,
            };
        }
        command
            .args(&self.args)
            .current_dir(&self.dir)
            .envs(self.envs.iter().cloned());
        command
    }

    /// Starts the server and waits for its `listening on` line; panics with its stderr otherwise.
    pub async fn start(self) -> ServeProcess {
        let mut process = Process::spawn(self.command());
        let line = process
            .wait_for_stderr_line("listening on", START_TIMEOUT)
            .await
            .unwrap_or_else(|output| panic!("serve did not start: {output}"));
        let addr = listening_addr(&line)
            .unwrap_or_else(|| panic!("no <ip>:<port> after `listening on` in {line:?}"));
        ServeProcess::new(addr, process, self)
    }

    /// Runs `serve` expecting it to refuse to start; panics if it is still running after a while.
    pub async fn start_expecting_exit(self) -> Exit {
        let mut process = Process::spawn(self.command());
        process
            .expect_exit(EXIT_TIMEOUT, "serve was expected to refuse to start")
            .await
    }
}

/// Parses the `<ip>:<port>` after `listening on` in a log line, text or JSON (an `http://`
/// prefix is tolerated).
fn listening_addr(line: &str) -> Option<SocketAddr> {
    let rest = &line[line.find("listening on")? + "listening on".len()..];
    let token = rest.trim_start().trim_start_matches("http://");
    let end = token
        .find(|c: char| !(c.is_ascii_hexdigit() || ".:[]".contains(c)))
        .unwrap_or(token.len());
    token[..end].parse().ok()
}
