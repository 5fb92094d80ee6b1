//! The `dash-events` binary: parse the command line, start logging, run the subcommand.

use std::process::ExitCode;

use clap::Parser;
use dash_events::cli::{self, Cli};
use dash_events::telemetry;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init();
    match cli::run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", err.report());
            ExitCode::from(err.exit_code())
        }
    }
}
