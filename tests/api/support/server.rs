//! A running `dash-events serve` child process, for what only a process shows: signals,
//! `kill -9` and restarts, exit codes, what it logs. Talking to it is `support::http::Http`, which
//! it dereferences to.

use std::ops::Deref;

use nix::sys::signal::Signal;

use crate::backend::TestDb;
use crate::process::{Exit, Process};
use crate::support::http::Http;

pub use crate::support::launch::{EXIT_TIMEOUT, Launch};

/// A running `serve` process.
pub struct ServeProcess {
    http: Http,
    process: Process,
    launch: Launch,
}

impl ServeProcess {
    /// Wraps a started process listening on `addr`.
    pub fn new(addr: std::net::SocketAddr, process: Process, launch: Launch) -> ServeProcess {
        ServeProcess {
            http: Http::new(addr, launch.secret(), launch.token()),
            process,
            launch,
        }
    }

    /// Starts a server process with the default options on `db`.
    pub async fn start(db: &TestDb) -> ServeProcess {
        Launch::new(db).start().await
    }

    /// The server's process id, e.g. to read its `/proc` status.
    pub fn pid(&self) -> i32 {
        self.process.pid().as_raw()
    }

    /// Everything the server logged so far.
    pub fn stderr(&self) -> String {
        self.process.stderr()
    }

    pub fn signal(&self, sig: Signal) {
        self.process.signal(sig);
    }

    /// Waits for the process to end by itself (after a signal), panicking if it overstays.
    pub async fn wait_exit(&mut self) -> Exit {
        self.process
            .expect_exit(EXIT_TIMEOUT, "serve after a signal")
            .await
    }

    /// SIGTERM, then waits for a clean exit (code 0).
    pub async fn stop(mut self) -> Exit {
        self.signal(Signal::SIGTERM);
        let exit = self.wait_exit().await;
        assert!(
            exit.status.success(),
            "serve did not exit 0 on SIGTERM: {:?}\n{}",
            exit.status,
            exit.stderr
        );
        exit
    }

    /// Kills the server with SIGKILL (no chance to clean up) and starts it again, same options.
    pub async fn crash_and_restart(mut self) -> ServeProcess {
        let launch = self.launch.clone();
        self.signal(Signal::SIGKILL);
        self.wait_exit().await;
        launch.start().await
    }
}

impl Deref for ServeProcess {
    type Target = Http;

    fn deref(&self) -> &Http {
        &self.http
    }
}
