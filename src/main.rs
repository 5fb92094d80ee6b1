//! The `dash-events` binary: parse the command line, start logging, run the subcommand.

use std::process::ExitCode;

use clap::Parser;
use dash_events::{cli::Cli, commands, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init();
    match commands::run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
