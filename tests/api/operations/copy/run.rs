//! Running `dash-events copy` as the operator does, as a child process: its exit and output, the
//! counts of its summary line, and its peak memory, sampled from `/proc` while it runs.

use std::time::Duration;

use crate::process::{Exit, Process, dash_events};

/// How long one copy may take. The largest, 50 000 events in a debug build on a busy two-core
/// machine, took at most 6 s when measured (2026-12-02); 120 s is a 20× margin.
pub const COPY_TIMEOUT: Duration = Duration::from_secs(120);

/// The counts of the summary line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub copied: u64,
    pub present: u64,
    pub conflicts: u64,
    pub notifications: u64,
}

/// `dash-events copy --from <from> --to <to> <args…>`.
pub fn command(from: &str, to: &str, args: &[&str]) -> std::process::Command {
    let mut command = dash_events(["copy", "--from", from, "--to", to]);
    command.args(args);
    command
}

/// Runs a copy to its end.
pub async fn copy(from: &str, to: &str, args: &[&str]) -> Exit {
    Process::spawn(command(from, to, args))
        .expect_exit(COPY_TIMEOUT, "copy")
        .await
}

/// Runs a copy that must succeed, answering its summary.
pub async fn copy_ok(from: &str, to: &str) -> Summary {
    let exit = copy(from, to, &[]).await;
    assert_eq!(exit.status.code(), Some(0), "copy {from} → {to}: {exit:?}");
    eprintln!("copy {from} → {to}: {}", exit.stdout.trim());
    summary(&exit)
}

/// Runs a copy to its end, sampling its peak resident set size (kB, `VmHWM`) until it exits.
pub async fn copy_measured(from: &str, to: &str) -> (Exit, u64) {
    let mut process = Process::spawn(command(from, to, &[]));
    let pid = process.pid().as_raw();
    let deadline = tokio::time::Instant::now() + COPY_TIMEOUT;
    let mut peak = 0;
    loop {
        // The peak so far: a zombie has no VmHWM line, so the last sample before the exit counts.
        peak = peak.max(peak_rss_kb(pid).unwrap_or(0));
        if let Some(exit) = process.wait_exit(Duration::from_millis(10)).await {
            return (exit, peak);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "copy still running after {COPY_TIMEOUT:?}: {}",
            process.stderr()
        );
    }
}

fn peak_rss_kb(pid: i32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    line.trim().trim_end_matches("kB").trim().parse().ok()
}

/// The counts of `copied N events, M already present, C conflicts, K notifications written in …`.
pub fn summary(exit: &Exit) -> Summary {
    let line = exit
        .stdout
        .lines()
        .find(|l| l.starts_with("copied "))
        .unwrap_or_else(|| panic!("no summary line: {exit:?}"));
    let numbers: Vec<u64> = line
        .split([' ', ','])
        .filter_map(|word| word.parse().ok())
        .collect();
    let [copied, present, conflicts, notifications, ..] = numbers[..] else {
        panic!("not a summary line: {line:?}");
    };
    Summary {
        copied,
        present,
        conflicts,
        notifications,
    }
}

/// The lines of `stderr` that start with `error:`.
pub fn error_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.starts_with("error:")).collect()
}
