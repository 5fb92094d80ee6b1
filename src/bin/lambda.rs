//! `dash-events-lambda`: the receiver as an AWS Lambda function (custom runtime, `bootstrap`).
//! Parse the options (the environment of `serve`), start logging, serve invocations.

use std::process::ExitCode;

use clap::Parser;
use dash_events::cli::LambdaCli;
use dash_events::commands::CommandError;
use dash_events::{lambda, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = LambdaCli::parse();
    telemetry::init();
    let config = cli.serve.into_config().map_err(CommandError::from);
    match async { lambda::run(config?).await }.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", err.report());
            ExitCode::from(err.exit_code())
        }
    }
}
